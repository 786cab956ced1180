"""The "Train on images" view: train a DCGAN / class-conditional DCGAN (optionally grown
progressively) on the built-in digits or your own images, watch a fixed-seed sample grid, the
losses and a quality and a diversity measure evolve, stop / resume, then use, download or publish
the model.

Training runs off the request path in the :class:`~gan_studio.training.runs.RunManager`'s workers;
the page polls the run every two seconds (a ``gr.Timer``). The run's id and secret token are kept
in the browser (``gr.BrowserState``), so a reloaded page reattaches to it.

Endpoints: ``train_start``, ``train_stop``, ``train_resume``, ``train_status``, ``train_use_model``,
``train_download``, ``train_publish``, ``train_reattach``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from ..contract import Task
from ..errors import UserInputError
from ..training.image_gan import ARCHITECTURES, CPU_SIZES, DIGITS, GPU_SIZES, LOSSES, TrainSettings
from ..training.runs import RunManager, TrainingRun
from .handlers import user_errors
from .session import ModelAccess
from .text import markdown_escape

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["TrainImagesTab", "browser_store", "build_train_images_tab", "metrics_markdown", "run_info", "status_markdown"]

DATA_DIGITS = "Built-in digits"
DATA_MINE = "My images"
POLL_S = 2.0


@dataclass
class TrainImagesTab:
    """The view's main components (tests and other tabs reach them here)."""

    start: gr.Button
    stop: gr.Button
    grid: gr.Image
    status: gr.Markdown
    metrics: gr.Markdown
    timer: gr.Timer


def status_markdown(snap: dict[str, Any] | None) -> str:
    """One paragraph on the run: status, step, speed, data, settings, growth."""
    if not snap:
        return "No training run yet. Choose data and settings, then **Start training**."
    s = snap.get("settings") or {}
    data = snap.get("data") or {}
    parts = [f"**{snap.get('status', '?')}** — step {snap.get('step', 0)} / {snap.get('total', s.get('steps', '?'))}"]
    if snap.get("step_time_s"):
        parts.append(f"{snap['step_time_s']:.3f} s per step")
    if snap.get("elapsed_s"):
        parts.append(f"{snap['elapsed_s'] / 60:.1f} min")
    text = " · ".join(parts)
    if data:
        classes = data.get("classes") or []
        text += (f"\n\nData: {markdown_escape(str(data.get('source', '')))} — {data.get('images', 0)} images at "
                 f"{data.get('size')} px, **{data.get('skipped', 0)} file(s) skipped**"
                 + (f"; classes: {markdown_escape(', '.join(classes))}" if classes else ""))
        if data.get("skipped_examples"):
            text += " (" + markdown_escape("; ".join(data["skipped_examples"][:3])) + ")"
    if s and snap.get("arch"):
        text += (f"\n\nModel: `{snap['arch']}` {s.get('image_size')} px, loss {s.get('loss')}, batch {s.get('batch_size')}, "
                 f"DiffAugment {'on' if snap.get('augment') else 'off'}, EMA {'on' if s.get('ema') else 'off'}"
                 + (f", growing progressively: now {snap.get('resolution', '?')} px (lod {snap.get('lod', '?')})"
                    if s.get("grow") else ""))
    if snap.get("message"):
        text += f"\n\n{markdown_escape(str(snap['message']))}"
    return text


#: Metric key -> column title (in this order).
_COLUMNS = {"step": "step", "class_accuracy": "class accuracy", "confident_share": "confident share",
            "classes_present": "classes present", "class_entropy_nats": "class entropy (nats)",
            "fid": "FID", "kid": "KID", "pixel_diversity_ratio": "pixel diversity ratio",
            "within_class_diversity_ratio": "within-class diversity ratio"}


def metrics_markdown(snap: dict[str, Any] | None) -> str:
    """The measurement history as a table (latest last) and what is measured."""
    if not snap:
        return ""
    rows = list(snap.get("metrics") or [])[-8:]
    measures = str(snap.get("measures", ""))
    if not rows:
        return f"Quality and diversity are measured every few hundred steps and at the end.\n\n*{markdown_escape(measures)}*"
    keys = [k for k in _COLUMNS if any(k in r for r in rows)]
    head = "| " + " | ".join(_COLUMNS[k] for k in keys) + " |\n|" + "---|" * len(keys)
    body = "\n".join("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows)
    return f"{head}\n{body}\n\n*{markdown_escape(measures)}*"


def run_info(snap: dict[str, Any] | None) -> dict[str, Any]:
    """The run as JSON for API clients: id, status, step, total, message, whether the model can be
    used, the latest measurement and the data summary (no paths)."""
    if not snap:
        return {}
    metrics = snap.get("metrics") or []
    return {"id": snap.get("id"), "status": snap.get("status"), "step": snap.get("step", 0),
            "total": snap.get("total"), "message": snap.get("message", ""), "model_ready": snap.get("model_ready", False),
            "metrics": metrics[-1] if metrics else {}, "data": snap.get("data", {}),
            "step_time_s": snap.get("step_time_s")}


#: The loss curves' colours (the playground's D and G colours).
LOSS_COLOURS = {"D": "#2563eb", "G": "#ea580c"}


def loss_frame(snap: dict[str, Any] | None) -> pd.DataFrame | None:
    """The loss history as a long table (step, value, loss) for ``gr.LinePlot``; ``None`` (the plot
    left empty) before the first logged step. Gradio 6's plot takes its colour domain from the first
    table it is sent: an empty one leaves every later curve without a stroke (axes, no lines)."""
    import pandas as pd

    history = (snap or {}).get("losses") or []
    if not history:
        return None
    steps = [int(rec[0]) for rec in history for _ in (1, 2)]
    values = [float(v) for rec in history for v in (rec[1], rec[2])]
    names = ["D", "G"] * len(history)
    return pd.DataFrame({"step": pd.Series(steps, dtype="int64"), "value": pd.Series(values, dtype="float64"),
                         "loss": pd.Series(names, dtype="object")})


def _grid(snap: dict[str, Any] | None) -> Any:
    from PIL import Image

    path = (snap or {}).get("grid")
    if not path:
        return None
    try:
        with Image.open(path) as im:
            return im.copy()
    except OSError:  # being replaced this instant: the next tick shows it
        return gr.update()


def browser_store() -> gr.BrowserState:
    """The browser-side store of the session's run (``[run id, token]``, encrypted in localStorage):
    create it at the top level of the Blocks, outside any tab, and pass it to the builder."""
    return gr.BrowserState(["", ""], storage_key="gan_studio_train_run")


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "anonymous"


def build_train_images_tab(
    *,
    demo: gr.Blocks,
    access: ModelAccess,
    manager: RunManager,
    session_models: gr.State,
    refresh: Sequence[tuple[gr.Dropdown, tuple[Task, ...]]] = (),
    gpu: bool = False,
    max_steps: int = 20000,
    tab: gr.Tab | None = None,
    stored: gr.BrowserState | None = None,
) -> TrainImagesTab:
    """Lay out the view (call inside a ``gr.Tab``) and wire its events.

    ``manager`` runs the training; ``refresh`` lists other tabs' model pickers (and the tasks they
    show) that "Use this model" updates; ``gpu``: offer the larger image sizes; ``max_steps``: the
    steps slider's end (the manager's budget caps it again); ``tab``: the tab holding the view (its
    selection refreshes the view); ``stored``: the :func:`browser_store` made at the top level of
    the Blocks (one made inside a tab is only read once the tab is opened, too late for a reload).
    """
    studio = access.studio
    sizes = GPU_SIZES if gpu else CPU_SIZES
    gr.Markdown(
        "Train a GAN of your own. Pick the built-in digits or upload your images (a zip, or several files; "
        "a couple of dozen to thousands; sub-folders in the zip become classes). Files that are not images, "
        "are corrupt or too large are skipped and counted. While it trains you see a **fixed-seed sample grid** "
        "(the same latent codes every time, so changes are the model's), the **losses**, and a **quality** and a "
        "**diversity** number, so you see collapse or progress instead of guessing. See docs/training.md.",
        elem_classes=["model-info"],
    )
    run_id = gr.State("")
    if stored is None:  # [run id, token] in the browser, for reloads (must be outside tabs to load with the page)
        stored = browser_store()
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            data_kind = gr.Radio([DATA_DIGITS, DATA_MINE], value=DATA_DIGITS, label="Data", elem_id="train-data-kind")
            files = gr.File(file_count="multiple", file_types=["image", ".zip"], label="Your images (a zip or files)",
                            elem_id="train-files", visible=False)
            with gr.Row():
                arch = gr.Dropdown(list(ARCHITECTURES), value="auto", label="Generator",
                                   info="auto: class-conditional DCGAN when the data has classes")
                size = gr.Radio([str(s) for s in sizes], value="32", label="Image size (px)")
            loss = gr.Dropdown(list(LOSSES), value="non-saturating", label="Loss")
            with gr.Row():
                steps = gr.Slider(20, max_steps, value=min(1000, max_steps), step=10, label="Steps", elem_id="train-steps")
                batch = gr.Slider(8, 128, value=64, step=8, label="Batch size", elem_id="train-batch")
            with gr.Row():
                augment = gr.Radio(["auto", "on", "off"], value="auto", label="DiffAugment",
                                   info="auto: on below 2,000 images")
                ema = gr.Checkbox(value=True, label="EMA of the generator")
                grow = gr.Checkbox(value=False, label="Grow progressively (ProGAN)")
            seed = gr.Number(value=0, precision=0, label="Seed", minimum=0)
            with gr.Row():
                start = gr.Button("Start training", variant="primary", elem_id="train-start")
                stop = gr.Button("Stop", elem_id="train-stop")
            with gr.Row():
                more = gr.Number(value=500, precision=0, minimum=1, label="Resume: steps to add")
                resume = gr.Button("Resume", elem_id="train-resume")
        with gr.Column(scale=3):
            status = gr.Markdown(status_markdown(None), elem_id="train-status")
            grid = gr.Image(label="Samples (fixed seeds, EMA generator)", type="pil", interactive=False,
                            elem_id="train-grid", height=420)
            # No initial value: see loss_frame.
            plot = gr.LinePlot(x="step", y="value", color="loss", color_map=LOSS_COLOURS,
                               label="Losses (D blue, G orange)", height=220, x_title="step", y_title="loss",
                               elem_id="train-losses")
            metrics = gr.Markdown(elem_id="train-metrics")
            with gr.Row():
                use = gr.Button("Use this model", elem_id="train-use")
                download = gr.Button("Download", elem_id="train-download")
            download_file = gr.File(label="Model folder (zip)", visible=False, interactive=False)
            with gr.Accordion("Publish to the Hub", open=False):
                repo = gr.Textbox(label="Repo id", placeholder="your-name/my-gan")
                token = gr.Textbox(label="Your Hugging Face token (write access; used once, never stored)",
                                   type="password")
                private = gr.Checkbox(value=True, label="Private repo")
                publish = gr.Button("Publish", elem_id="train-publish")
            note = gr.Markdown(elem_id="train-note")
            info = gr.JSON(visible=False, label="Run")  # the API's view: status, step, metrics
    timer = gr.Timer(POLL_S, active=False)
    outputs = [status, grid, plot, metrics, info, timer]

    def view(run: TrainingRun | None) -> list[Any]:
        snap = run.snapshot() if run is not None else None
        return [status_markdown(snap), _grid(snap), loss_frame(snap), metrics_markdown(snap), run_info(snap),
                gr.Timer(active=bool(run is not None and run.active))]

    def current(rid: str, request: gr.Request | None) -> TrainingRun:
        run = manager.get(rid, session=_session(request))
        if run is None:
            raise UserInputError("no training run in this session: start one first")
        return run

    data_kind.change(lambda kind: gr.update(visible=kind == DATA_MINE), data_kind, files, api_name="train_data_kind",
                     api_visibility="undocumented", show_progress="hidden", concurrency_limit=None)

    @user_errors
    def start_run(kind: str, paths: list[Any] | None, arch_v: str, size_v: str, loss_v: str, steps_v: float,
                  batch_v: float, augment_v: str, ema_v: bool, grow_v: bool, seed_v: float,
                  request: gr.Request) -> list[Any]:
        if kind == DATA_MINE:
            sources: list[str] | str = [str(getattr(p, "name", p)) for p in (paths or [])]
            if not sources:
                raise UserInputError("no images uploaded: upload a zip or some image files, or choose the built-in digits")
        else:
            sources = DIGITS
        try:
            image_size = int(size_v)
        except (TypeError, ValueError):
            raise UserInputError(f"image size {size_v!r}; choose one of: {', '.join(map(str, sizes))}") from None
        settings = TrainSettings(architecture=str(arch_v), image_size=image_size, loss=str(loss_v),
                                 steps=int(steps_v), batch_size=int(batch_v), diffaugment=str(augment_v),
                                 ema=bool(ema_v), grow=bool(grow_v), seed=int(seed_v or 0),
                                 sample_every=max(10, int(steps_v) // 40),
                                 eval_every=max(50, int(steps_v) // 8))
        run = manager.start(_session(request), sources, settings)
        gr.Info(f"training run {run.id} started")
        return [run.id, [run.id, run.token], *view(run)]

    start.click(start_run, [data_kind, files, arch, size, loss, steps, batch, augment, ema, grow, seed],
                [run_id, stored, *outputs], api_name="train_start", concurrency_limit=None)

    @user_errors
    def stop_run(rid: str, request: gr.Request) -> list[Any]:
        run = current(rid, request)
        manager.stop(run)
        return view(run)

    stop.click(stop_run, [run_id], outputs, api_name="train_stop", concurrency_limit=None)

    @user_errors
    def resume_run(rid: str, add: float, request: gr.Request) -> list[Any]:
        run = current(rid, request)
        done = int(run.progress().get("step", 0))
        manager.resume(run, done + max(1, int(add or 0)))
        return view(run)

    resume.click(resume_run, [run_id, more], outputs, api_name="train_resume", concurrency_limit=None)

    def poll(rid: str, request: gr.Request) -> list[Any]:
        return view(manager.get(rid, session=_session(request)))

    timer.tick(poll, [run_id], outputs, api_name="train_status", concurrency_limit=None, show_progress="hidden")
    if tab is not None:  # opening the tab shows the run (a reloaded page renders it only then)
        tab.select(poll, [run_id], outputs, api_name="train_tab_selected", api_visibility="undocumented",
                   concurrency_limit=None, show_progress="hidden")

    def reattach(saved: list[str] | None, request: gr.Request) -> list[Any]:
        rid, tok = (list(saved or []) + ["", ""])[:2]
        run = manager.reattach(rid, tok, _session(request)) if rid and tok else None
        logger.info("page load: stored run %r, reattached: %s", rid, run is not None)
        return [run.id if run is not None else "", *view(run)]

    demo.load(reattach, [stored], [run_id, *outputs], api_name="train_reattach", api_visibility="undocumented",
              show_progress="hidden", concurrency_limit=None)

    def ready(run: TrainingRun) -> int:
        if not run.snapshot().get("model_ready"):
            raise UserInputError(f"run {run.id} has no model yet ({run.status}): wait until it stops or finishes")
        return int(run.progress().get("step", 0))

    @user_errors
    def use_model(rid: str, session: list[str] | None, request: gr.Request) -> list[Any]:
        run = current(rid, request)
        step = ready(run)
        model_id = f"trained-{run.id}-step{step}"
        frozen = run.folder / "registered" / model_id  # later training never changes a registered model
        if not frozen.is_dir():
            shutil.copytree(run.model_dir, frozen)
        spec = studio.register_folder(frozen, model_id)
        run.registered.append(spec.id)
        session = [*(session or [])]
        if spec.id not in session:
            session.append(spec.id)
        gr.Info(f"registered {spec.id}")
        return [session, f"Registered **{spec.id}** for this session: pick it on the Generate or Compare tab "
                         f"(or call the API with model={spec.id!r}).",
                *(gr.update(choices=access.ids(tasks, session)) for _, tasks in refresh)]

    use.click(use_model, [run_id, session_models], [session_models, note, *(d for d, _ in refresh)],
              api_name="train_use_model", concurrency_limit=None)

    @user_errors
    def download_model(rid: str, request: gr.Request) -> list[Any]:
        run = current(rid, request)
        step = ready(run)
        base = run.folder / "downloads" / f"gan-studio-{run.id}-step{step}"
        archive = Path(shutil.make_archive(str(base), "zip", root_dir=run.model_dir))
        return [gr.update(value=str(archive), visible=True),
                "The zip holds config.json, model.safetensors, README.md (the card: data, settings, metrics) and "
                "samples.png; load it with `python -m gan_studio generate --model FOLDER`."]

    download.click(download_model, [run_id], [download_file, note], api_name="train_download", concurrency_limit=None)

    @user_errors
    def publish_model(rid: str, repo_id: str, tok: str, private_v: bool, request: gr.Request,
                      progress: gr.Progress = gr.Progress()) -> list[Any]:
        from ..training.image_gan import publish_model_folder

        run = current(rid, request)
        ready(run)
        progress(0.2, desc=f"uploading to {repo_id}…")
        url = publish_model_folder(run.model_dir, str(repo_id or "").strip(), token=str(tok or "").strip() or None,
                                   private=bool(private_v))
        return ["", f"Published: {markdown_escape(url)}"]  # the token box is emptied

    publish.click(publish_model, [run_id, repo, token, private], [token, note], api_name="train_publish",
                  concurrency_limit=1, concurrency_id="hub")

    def forget(request: gr.Request) -> None:
        manager.session_ended(_session(request))

    demo.unload(forget)
    return TrainImagesTab(start=start, stop=stop, grid=grid, status=status, metrics=metrics, timer=timer)
