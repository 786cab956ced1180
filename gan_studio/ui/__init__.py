"""The Gradio studio: :func:`build_demo` lays out the tabs over a :class:`~gan_studio.studio.Studio`.

Importing this package imports gradio but loads no model; building the demo loads none either
(models load on first use, with a progress bar). One module per tab (``generate``, ``translate``,
``colorize``, ``models``, ``inspect``), each a function that receives the callables it needs.

>>> from gan_studio.studio import Studio                              # doctest: +SKIP
>>> demo = build_demo(Studio(device="cpu"))                           # doctest: +SKIP
>>> demo.launch(**launch_options())                                   # doctest: +SKIP

Every event has an ``api_name``; the main ones are ``generate``, ``interpolate``, ``translate``,
``colorize``, ``inspect``, ``model_card``, ``add_model`` and ``dataset`` (see the README for gradio_client).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from ..contract import JOBS, Task
from ..errors import UserInputError
from ..image_io import frames_to_gif
from .chain import first_gallery_image, wire_sends
from .colorize import build_colorize_tab
from .examples import EXAMPLES_DIR, colorize_examples, inspect_examples, translate_examples
from .generate import build_generate_tab
from .inspect import build_inspect_tab
from .models import build_models_tab
from .session import ImageLimits, ModelAccess, OutputStore
from .translate import build_translate_tab

if TYPE_CHECKING:  # pragma: no cover
    from ..studio import Studio
    from ..training.runs import RunManager

__all__ = ["build_demo", "launch_options", "blocked_paths", "EXAMPLES_DIR", "QUEUE_SIZE", "CONCURRENCY", "GENERATE_CONCURRENCY",
           "MAX_FILE_SIZE"]

logger = logging.getLogger(__name__)

#: Calls that may wait in the queue (more get "Queue is full"), by public mode.
QUEUE_SIZE = {False: 64, True: 32}
#: Model calls (the "gpu" concurrency group) that run at once, by public mode.
CONCURRENCY = {False: 2, True: 1}
#: Generate calls that run at once (their own group; concurrent ones share forward passes).
GENERATE_CONCURRENCY = {False: 8, True: 4}
#: Largest upload, by public mode (Gradio answers HTTP 413 above it).
MAX_FILE_SIZE = {False: "100mb", True: "20mb"}

CSS = """
#generate-gallery img, #inspect-input img, #interpolate-gif img { image-rendering: pixelated; }
#inspect-input img { width: 100%; height: 100%; object-fit: contain; }
.model-info { font-size: 0.9em; opacity: 0.85; }
#dice { align-self: end; }
footer { opacity: 0.7; }
"""

INTRO = (
    "# GAN Studio\n"
    "Generate images from seeds, translate photos (photo ↔ sketch, attribute edits), colorize black-and-white "
    "photos, and read back how any studio PNG was made. Every PNG you download carries its parameters "
    "(model, revision, seed, …) and is marked as AI-generated."
)


@contextlib.contextmanager
def _examples_cache(folder: Path) -> Iterator[None]:
    """Cache this demo's examples in ``folder`` (fresh per run, so results never go stale when the
    models change), unless the user chose a folder with ``GRADIO_EXAMPLES_CACHE``."""
    if os.environ.get("GRADIO_EXAMPLES_CACHE"):
        yield
        return
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(folder)
    try:
        yield
    finally:
        os.environ.pop("GRADIO_EXAMPLES_CACHE", None)


def build_demo(studio: Studio, *, public: bool = False, output_dir: str | os.PathLike[str] | None = None,
               generate_concurrency: int | None = None, mcp: bool = False,
               photo_editing: bool = True) -> gr.Blocks:
    """The studio's ``gr.Blocks`` over ``studio`` (a :class:`~gan_studio.studio.Studio`).

    ``public=True`` is for shared deployments (Spaces): no adding models, only registered model ids
    are accepted by any endpoint, smaller batch limits, uploads downscaled to at most
    :data:`~gan_studio.ui.session.PUBLIC_MAX_PIXELS` before translation or colorization and working
    sizes capped (:class:`~gan_studio.ui.session.ImageLimits`), a smaller queue and one job at a
    time (see docs/security.md). ``output_dir`` is where the PNGs are
    written (one folder per session and call, deleted when the session's tab closes); by default
    a fresh folder in the system temp dir, created on first use and removed at exit.
    ``generate_concurrency`` generate calls run at once (default :data:`GENERATE_CONCURRENCY`). The queue is
    configured (``api_open=False``: direct HTTP calls cannot skip it). No model is loaded here.
    ``mcp=True`` adds the agents' tools (:mod:`gan_studio.ui.agents`) and lists only them as MCP tools;
    launch with ``mcp_server=True`` to serve them.
    ``photo_editing=False`` (the launcher's ``--no-photo-editing``) switches off projecting uploaded
    photos into a StyleGAN (and so editing them); the Style tab says so.
    """
    import tempfile
    import uuid

    if output_dir:
        root = Path(output_dir)
    else:  # ephemeral: removed when the process exits (users download what they keep)
        root = Path(tempfile.gettempdir()) / f"gan_studio-{uuid.uuid4().hex[:12]}"
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    store = OutputStore(root)
    access = ModelAccess(studio, public=public)
    limits = ImageLimits.public() if public else ImageLimits()
    registry = studio.registry

    def forget_session(request: gr.Request) -> None:
        store.forget(request)

    demo: gr.Blocks
    # delete_cache: every hour, drop Gradio's copies of served files older than a day
    with _examples_cache(root / "cached_examples"), \
            gr.Blocks(title="GAN Studio", delete_cache=(3600, 24 * 3600)) as demo:
        session_models = gr.State([])
        from .train_images import browser_store

        train_run_store = browser_store()  # top level: read with the page, so a reload finds its training run
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Tabs(selected="generate") as tabs:
            with gr.Tab("Generate", id="generate", elem_id="tab-generate"):
                gen = build_generate_tab(
                    access=access, store=store, session_models=session_models,
                    generate=studio.generate, interpolate=studio.interpolate, frames_to_gif=frames_to_gif,
                    max_images=16 if public else 64, max_frames=32 if public else 120,
                    concurrency=generate_concurrency or GENERATE_CONCURRENCY[public],
                )
            with gr.Tab("Style", id="style", elem_id="tab-style"):  # StyleGAN: mixing, directions, W
                from .style import build_style_tab

                sty = build_style_tab(access=access, store=store, session_models=session_models,
                                generate=studio.generate, style_mix=studio.style_mix, directions=studio.directions,
                                edit=studio.edit, w_interpolate=studio.w_interpolate,
                                project=studio.project if photo_editing else None,
                                max_images=8 if public else 16, max_projection_steps=60 if public else 300)
            with gr.Tab("Compare", id="compare", elem_id="tab-compare"):  # GAN vs diffusion (gan_studio/compare.py)
                from functools import partial

                from ..compare import compare as compare_models
                from .compare import build_compare_tab

                cmp = build_compare_tab(access=access, store=store, session_models=session_models,
                                        compare=partial(compare_models, studio), max_images=8 if public else 16,
                                        max_eval_samples=200 if public else 1000)
            with gr.Tab("Dataset", id="dataset", elem_id="tab-dataset"):  # synthetic datasets (gan_studio/datasets/)
                from ..datasets import write_dataset
                from .dataset import MAX_IMAGES, build_dataset_tab

                build_dataset_tab(access=access, store=store, session_models=session_models,
                                  write_dataset=write_dataset, max_images=MAX_IMAGES[public])
            with gr.Tab("Translate", id="translate", elem_id="tab-translate"):
                tr = build_translate_tab(
                    access=access, store=store, session_models=session_models,
                    translate=limits.wrap(studio.translate), translate_attributes=studio.translate_attributes,
                    examples=translate_examples(registry, access.ids(JOBS["translate"])), limits=limits,
                )
            with gr.Tab("Colorize", id="colorize", elem_id="tab-colorize"):
                col = build_colorize_tab(
                    access=access, store=store, session_models=session_models, colorize=limits.wrap(studio.colorize),
                    examples=colorize_examples(access.ids(JOBS["colorize"])), limits=limits,
                )
            with gr.Tab("Upscale", id="upscale", elem_id="tab-upscale"):
                from .upscale import PUBLIC_MAX_OUTPUT_PIXELS, build_upscale_tab

                up = build_upscale_tab(access=access, store=store, session_models=session_models,
                                       upscale=studio.upscale, max_output_pixels=PUBLIC_MAX_OUTPUT_PIXELS if public else None)
            with gr.Tab("Train", id="train", elem_id="tab-train"):  # GANs trained live (ui/train.py, ui/train_images.py)
                from .train import TRAIN_SUBTABS, build_train_tab
                from .train_images import build_train_images_tab

                def train_on_images(public: bool, tab: gr.Tab) -> None:
                    build_train_images_tab(
                        demo=demo, tab=tab, stored=train_run_store, access=access,
                        manager=training_runs(studio, root, public=public), session_models=session_models,
                        gpu=studio.device.type == "cuda",
                        refresh=[(gen.model, JOBS["generate"]), (cmp.gan, (Task.CONDITIONAL,))],
                        max_steps=1500 if public else 20000,
                    )

                build_train_tab(public=public, subtabs=[*TRAIN_SUBTABS, ("Train on images", "train-images", train_on_images)])
            with gr.Tab("Models", id="models", elem_id="tab-models"):
                build_models_tab(
                    access=access, session_models=session_models, weight_files=studio.weight_files,
                    refresh=[(gen.model, JOBS["generate"]), (tr.model, JOBS["translate"]),
                             (col.model, JOBS["colorize"]), (up.model, JOBS["upscale"])],
                )
            with gr.Tab("Inspect", id="inspect", elem_id="tab-inspect"):
                build_inspect_tab(
                    access=access, session_models=session_models, tabs=tabs, generate=gen, translate=tr,
                    colorize=col, examples=inspect_examples(registry),
                )
        # "Send to …": a result opens as another tab's input, its provenance kept (ui/chain.py).
        keep = lambda path: path  # noqa: E731 - the download is the studio file itself
        wire_sends(tabs, [(gen.sends, [gen.gallery, gen.selected], first_gallery_image),
                          (sty.sends, [sty.result], keep), (tr.sends, [tr.download], keep),
                          (col.sends, [col.download], keep), (up.sends, [up.download], keep)],
                   {"translate": tr.image, "colorize": col.image, "upscale": up.image})
        if mcp:  # the agents' tools: hidden typed events, served by Gradio's MCP server
            from .agents import add_agent_tools

            agent_tools = add_agent_tools(studio, access=access, store=store, limits=limits, public=public)
        demo.unload(forget_session)
    if mcp:
        from .agents import only_agent_tools

        only_agent_tools(demo, agent_tools)
    # api_open=False: /gradio_api/run/* and /api/* refuse direct calls, so every call waits in the
    # queue (max_size: more waiting calls get "Queue is full"); the "gpu" events run
    # default_concurrency_limit at a time.
    demo.queue(api_open=False, max_size=QUEUE_SIZE[public], default_concurrency_limit=CONCURRENCY[public])
    n_models = {t.value: len(registry.list(t)) for t in Task}
    logger.info("studio built over %d models %s (public=%s)", len(registry), n_models, public)
    return demo


def training_runs(studio: Studio, root: Path, *, public: bool) -> RunManager:
    """The demo's training-run manager: runs in spawned worker processes under ``root/training``,
    with :meth:`RunLimits.public` in public mode; ``$GAN_STUDIO_TRAIN_RUNS`` sets the runs per server
    (default 2) and ``$GAN_STUDIO_TRAIN_THREADS`` the torch threads of a worker (default 1)."""
    from ..training.runs import RunLimits, RunManager

    limits = RunLimits.public() if public else RunLimits()
    overrides: dict[str, int] = {}
    for env, name in (("GAN_STUDIO_TRAIN_RUNS", "per_server"), ("GAN_STUDIO_TRAIN_THREADS", "threads")):
        raw = os.environ.get(env, "").strip()
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                raise UserInputError(f"{env}={raw!r} is not a positive whole number")
            overrides[name] = int(raw)
    if overrides:
        from dataclasses import replace

        limits = replace(limits, **overrides)
    manager = RunManager(root / "training", limits, device=str(studio.device))
    atexit.register(manager.shutdown)
    return manager


def launch_options(*, public: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch()`` that belong to the studio (Gradio 6 takes the theme
    and CSS at launch): theme, CSS, upload size limit (``max_file_size``), the examples folder as
    the only allowed path, and the studio's source, embedded weights and Hub cache as blocked paths."""
    return {
        # System fonts only: the default theme fonts come from Google Fonts, which an offline
        # studio cannot reach (the page would wait for them).
        "theme": gr.themes.Soft(primary_hue="indigo", secondary_hue="amber",
                                font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                                font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]),
        "css": CSS,
        "max_file_size": MAX_FILE_SIZE[public],
        "allowed_paths": [str(EXAMPLES_DIR)],
        "blocked_paths": blocked_paths(),
    }


def blocked_paths() -> list[str]:
    """Folders ``/gradio_api/file=`` must never serve, even if a setting (``GRADIO_TEMP_DIR``,
    ``allowed_paths``) came to include them: the studio's package source, ``app.py``, the weight
    files under ``checkpoints/`` (their cards and sample images may be shown), and the Hugging Face
    cache (``HF_HOME`` and the Hub cache).

    Gradio already serves only its own cache (uploads and returned files) and ``allowed_paths``;
    this is defence in depth. A folder that contains the Gradio cache, the system temp dir or
    the examples is left out (blocking it would stop the studio serving its own results).
    """
    import tempfile

    from gradio.utils import get_upload_folder, is_in_or_equal

    from ..hub import hub_cache_dir
    from ..weights import WEIGHT_SUFFIXES

    package = Path(__file__).resolve().parents[1]
    checkpoints = package.parent / "checkpoints"
    weights = sorted(p for p in checkpoints.rglob("*") if p.suffix.lower() in WEIGHT_SUFFIXES and p.is_file()) \
        if checkpoints.is_dir() else []
    candidates = [package, package.parent / "app.py", *weights, hub_cache_dir(),
                  Path(os.path.expanduser("~/.cache/huggingface"))]
    if os.environ.get("HF_HOME"):
        candidates.append(Path(os.path.expanduser(os.environ["HF_HOME"])))
    needed = [Path(get_upload_folder()), Path(tempfile.gettempdir()), EXAMPLES_DIR]
    out: list[str] = []
    for path in candidates:
        if any(is_in_or_equal(keep, path) for keep in needed):
            logger.warning("not blocking %s: it contains a folder the studio serves from", path)
            continue
        if str(path) not in out:
            out.append(str(path))
    return out
