"""The Generate tab: images from seeds (unconditional and class-conditional models) and latent
interpolation between two seeds (frames + an animated GIF).

Endpoints: ``generate``, ``interpolate``, ``random_seed``, ``show_params`` (gallery selection),
``generate_controls`` (model picked), ``generate_mode``, ``generate_example``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..contract import JOBS, Task
from ..errors import UserInputError
from ..registry import ModelSpec
from .chain import SendButtons, send_buttons
from .handlers import gpu, load_with_progress, progress_fn, user_errors
from .session import ModelAccess, OutputStore
from .text import spec_blurb

logger = logging.getLogger(__name__)

RANDOM_LABEL = "(random class per seed)"
MODE_IMAGES = "Images"
MODE_INTERPOLATE = "Interpolation"
SEED_MAX = 2**32 - 1  # the dice range; any seed 0 … 2**63 - 1 is accepted


@dataclass
class GenerateTab:
    """The Generate tab's components (other tabs send parameters here)."""

    model: gr.Dropdown
    info: gr.Markdown
    mode: gr.Radio
    seed: gr.Number
    seed_b: gr.Number
    count: gr.Slider
    frames: gr.Slider
    label: gr.Dropdown
    truncation: gr.Slider
    gallery: gr.Gallery
    gif: gr.Image
    params: gr.JSON
    selected: gr.State | None = None  # the gallery index picked (what "Send to …" sends)
    sends: SendButtons | None = None


def label_choices(spec: ModelSpec) -> list[str]:
    """The class names a conditional model offers (indices when it names none)."""
    if spec.task != Task.CONDITIONAL:
        return []
    if spec.labels:
        return list(spec.labels)
    return [str(i) for i in range(int(spec.kwargs.get("num_classes", 0) or 0))]


def _label_arg(label: Any) -> str | None:
    if label in (None, "", RANDOM_LABEL):
        return None
    return str(label)


def _truncation_arg(truncation: Any) -> float | None:
    if truncation in (None, ""):
        return None
    value = float(truncation)
    return None if value == 0 else value


def _int(value: Any, what: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if value in (None, ""):
        raise UserInputError(f"{what} is empty; give a whole number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserInputError(f"{what} must be a whole number, got {value!r}") from None
    if number != int(number):
        raise UserInputError(f"{what} must be a whole number, got {value!r}")
    number = int(number)
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        raise UserInputError(f"{what} must be between {minimum} and {maximum}, got {number}")
    return number


def caption(params: dict[str, Any]) -> str:
    """The caption under a gallery image: its seed (or position in an interpolation) and class."""
    if params.get("mode") == "interpolate":
        text = f"t = {params.get('t', 0):.3f}"
    else:
        text = f"seed {params.get('seed')}"
    if params.get("label") is not None:
        text += f" · class {params['label']}"
    return text


def controls_for(spec: ModelSpec | None, label: Any = None) -> tuple[dict[str, Any], str]:
    """Updates for (label dropdown, model info) when ``spec`` is picked; keeps a still-valid label."""
    if spec is None:
        return gr.update(visible=False, value=RANDOM_LABEL), ""
    names = label_choices(spec)
    if not names:
        return gr.update(visible=False, choices=[RANDOM_LABEL], value=RANDOM_LABEL), spec_blurb(spec)
    value = str(label) if label is not None and str(label) in names else RANDOM_LABEL
    return gr.update(visible=True, choices=[RANDOM_LABEL, *names], value=value), spec_blurb(spec)


def build_generate_tab(
    *,
    access: ModelAccess,
    store: OutputStore,
    session_models: gr.State,
    generate: Callable[..., list[Any]],
    interpolate: Callable[..., list[Any]],
    frames_to_gif: Callable[[list[Any]], bytes],
    max_images: int = 64,
    max_frames: int = 120,
    concurrency: int = 8,
) -> GenerateTab:
    """Lay out the Generate tab (call inside a ``gr.Tab``) and wire its events.

    ``concurrency`` generate calls run at once (their own queue group): concurrent calls for one
    model share forward passes (:mod:`gan_studio.batching`), so more at once means more throughput.

    ``generate``/``interpolate`` are :meth:`Studio.generate`/:meth:`Studio.interpolate`,
    ``frames_to_gif`` is :func:`gan_studio.image_io.frames_to_gif`.
    """
    ids = access.ids(JOBS["generate"])
    first = access.studio.registry.get(ids[0]) if ids else None
    label_update, first_info = controls_for(first)

    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            model = gr.Dropdown(ids, value=ids[0] if ids else None, label="Model", allow_custom_value=True,
                                info="unconditional and class-conditional generators")
            info = gr.Markdown(first_info, elem_classes=["model-info"])
            mode = gr.Radio([MODE_IMAGES, MODE_INTERPOLATE], value=MODE_IMAGES, label="Mode")
            with gr.Row(equal_height=True):
                seed = gr.Number(value=42, label="Seed", precision=0, minimum=0, scale=4, elem_id="generate-seed")
                dice = gr.Button("Random", scale=1, min_width=70, elem_id="dice")
            seed_b = gr.Number(value=1234, label="Second seed (interpolation end)", precision=0, minimum=0,
                               visible=False)
            count = gr.Slider(1, max_images, value=8, step=1, label="Number of images",
                              info="image i uses seed + i")
            frames = gr.Slider(2, max_frames, value=16, step=1, label="Frames", visible=False)
            # Every conditional model's classes, so the examples table can show them; picking a
            # model narrows the choices to its own.
            all_names = list(dict.fromkeys(n for i in ids for n in label_choices(access.studio.registry.get(i))))
            label = gr.Dropdown([RANDOM_LABEL, *all_names], value=RANDOM_LABEL, label="Class",
                                allow_custom_value=True, visible=bool(label_update.get("visible")))
            truncation = gr.Slider(0.0, 2.0, value=0.0, step=0.05, label="Truncation (0 = off)",
                                   info="resample latent entries beyond ±t: less variety, fewer odd images")
            run = gr.Button("Generate", variant="primary", elem_id="generate-button")
            run_interp = gr.Button("Interpolate", variant="primary", visible=False, elem_id="interpolate-button")
        with gr.Column(scale=2, min_width=360):
            gallery = gr.Gallery(label="Results", columns=4, height=460,
                                 object_fit="contain", type="filepath", format="png", elem_id="generate-gallery",
                                 buttons=["download", "fullscreen"])
            gif = gr.Image(label="Animation", type="filepath", visible=False, height=300, elem_id="interpolate-gif",
                           buttons=["download"])
            sends = send_buttons("generate")  # the selected image (else the first)
            selected = gr.State(0)
            with gr.Accordion("Parameters of the selected image", open=True):
                params = gr.JSON(label="Parameters", elem_id="generate-params")

    # ---- handlers ------------------------------------------------------------------------------
    @user_errors
    def do_generate(model: str, seed: float, n: float, label: str | None, truncation: float,
                    session: list[str] | None, request: gr.Request,
                    progress: gr.Progress = gr.Progress()) -> tuple[list[tuple[str, str]], dict[str, Any]]:
        spec = access.spec(model, JOBS["generate"], session, tab="Generate")
        first_seed = _int(seed, "seed", minimum=0)
        number = _int(n, "number of images", minimum=1, maximum=max_images)
        load_with_progress(access.studio, spec, None, progress)
        results = generate(spec.id, seed=first_seed, n=number, label=_label_arg(label),
                           truncation=_truncation_arg(truncation), progress=progress_fn(progress, start=0.1))
        folder = store.call_dir(request)
        items = []
        for result in results:
            name = f"{spec.id}_seed{result.params['seed']}"
            items.append((store.save_png(folder, name, result.image, result.params), caption(result.params)))
        return items, results[0].params

    @user_errors
    def do_interpolate(model: str, seed_a: float, seed_b: float, frames: float, label: str | None,
                       truncation: float, session: list[str] | None, request: gr.Request,
                       progress: gr.Progress = gr.Progress()) -> tuple[list[tuple[str, str]], dict[str, Any], str]:
        spec = access.spec(model, JOBS["generate"], session, tab="Generate")
        a = _int(seed_a, "seed", minimum=0)
        b = _int(seed_b, "second seed", minimum=0)
        number = _int(frames, "frames", minimum=2, maximum=max_frames)
        load_with_progress(access.studio, spec, None, progress)
        results = interpolate(spec.id, seed_a=a, seed_b=b, frames=number, label=_label_arg(label),
                              truncation=_truncation_arg(truncation),
                              progress=progress_fn(progress, start=0.1, end=0.9))
        folder = store.call_dir(request)
        items = []
        for i, result in enumerate(results):
            name = f"{spec.id}_seeds{a}-{b}_frame{i:03d}"
            items.append((store.save_png(folder, name, result.image, result.params), caption(result.params)))
        progress(0.95, desc="writing the GIF")
        gif_path = folder / f"{spec.id}_seeds{a}-{b}.gif"
        gif_path.write_bytes(frames_to_gif([r.image for r in results]))
        return items, results[0].params, str(gif_path)

    def random_seed() -> int:
        return secrets.randbelow(SEED_MAX + 1)

    @user_errors
    def show_params(images: list[Any] | None, evt: gr.SelectData) -> dict[str, Any]:
        from ..metadata import read_metadata

        if not images or evt.index is None or not 0 <= int(evt.index) < len(images):
            return {}
        item = images[int(evt.index)]
        path = item[0] if isinstance(item, (tuple, list)) else item
        return read_metadata(path)

    def model_controls(model_id: str | None, label_value: str | None,
                       session: list[str] | None) -> tuple[dict[str, Any], str]:
        try:
            spec = access.spec(model_id, JOBS["generate"], session, tab="Generate")
        except Exception as exc:  # noqa: BLE001 - typed an unknown id: say so next to the picker, no toast
            return gr.update(visible=False), f"⚠️ {exc}"
        return controls_for(spec, label_value)

    def mode_controls(mode_value: str) -> tuple[dict[str, Any], ...]:
        interp = mode_value == MODE_INTERPOLATE
        return (gr.update(visible=interp), gr.update(visible=interp), gr.update(visible=not interp),
                gr.update(visible=not interp), gr.update(visible=interp), gr.update(visible=interp))

    gen_fn = gpu(do_generate)
    interp_fn = gpu(do_interpolate)
    run.click(gen_fn, [model, seed, count, label, truncation, session_models], [gallery, params],
              api_name="generate", concurrency_id="generate", concurrency_limit=concurrency)
    run_interp.click(interp_fn, [model, seed, seed_b, frames, label, truncation, session_models],
                     [gallery, params, gif], api_name="interpolate", concurrency_id="gpu")
    def select_index(evt: gr.SelectData) -> int:
        return int(evt.index) if isinstance(evt.index, int) else 0

    gallery.select(select_index, None, selected, api_name="generate_select", concurrency_limit=None,
                   show_progress="hidden", api_visibility="undocumented")
    gallery.change(lambda: 0, None, selected, api_name="generate_select_reset", concurrency_limit=None,
                   show_progress="hidden", api_visibility="undocumented")
    dice.click(random_seed, None, seed, api_name="random_seed", concurrency_limit=None, show_progress="hidden")
    gallery.select(show_params, gallery, params, api_name="show_params", concurrency_limit=None,
                   show_progress="hidden", api_visibility="undocumented")
    model.change(model_controls, [model, label, session_models], [label, info], api_name="generate_controls",
                 concurrency_limit=None, show_progress="hidden", api_visibility="undocumented")
    mode.change(mode_controls, mode, [seed_b, frames, count, run, run_interp, gif], api_name="generate_mode",
                concurrency_limit=None, show_progress="hidden", api_visibility="undocumented")

    # ---- examples ------------------------------------------------------------------------------
    rows = []
    for model_id in ids[:3]:
        spec = access.studio.registry.get(model_id)
        names = label_choices(spec)
        rows.append([model_id, 7, 8, names[min(3, len(names) - 1)] if names else RANDOM_LABEL])
    if rows:
        def run_example(model: str, seed: float, n: float, label: str | None, request: gr.Request,
                        progress: gr.Progress = gr.Progress()) -> tuple[list[tuple[str, str]], dict[str, Any]]:
            return do_generate(model, seed, n, label, 0.0, [], request, progress)

        gr.Examples(rows, [model, seed, count, label], [gallery, params], fn=gpu(run_example),
                    cache_examples=True, cache_mode="lazy", api_name="generate_example",
                    label="Examples (click one)")

    return GenerateTab(model, info, mode, seed, seed_b, count, frames, label, truncation, gallery, gif, params,
                       selected, sends)


def reproduce_updates(tab: GenerateTab, spec: ModelSpec, params: dict[str, Any]) -> dict[Any, Any]:
    """Component updates that set the Generate tab to the parameters of a studio PNG."""
    label_update, info = controls_for(spec, params.get("label"))
    truncation = params.get("truncation") or 0.0
    updates: dict[Any, Any] = {
        tab.model: gr.update(value=spec.id),
        tab.info: info,
        tab.label: label_update,
        tab.truncation: gr.update(value=float(truncation)),
    }
    if params.get("mode") == "interpolate":
        updates.update({
            tab.mode: gr.update(value=MODE_INTERPOLATE),
            tab.seed: gr.update(value=int(params.get("seed_a", 0))),
            tab.seed_b: gr.update(value=int(params.get("seed_b", 0)), visible=True),
            tab.frames: gr.update(value=int(params.get("frames", 16)), visible=True),
        })
    else:
        updates.update({
            tab.mode: gr.update(value=MODE_IMAGES),
            tab.seed: gr.update(value=int(params.get("seed", 0))),
            tab.count: gr.update(value=1),
        })
    return updates


def components(tab: GenerateTab) -> Sequence[Any]:
    """Every component :func:`reproduce_updates` may update."""
    return [tab.model, tab.info, tab.label, tab.truncation, tab.mode, tab.seed, tab.seed_b, tab.frames, tab.count]
