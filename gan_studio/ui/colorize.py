"""The Colorize tab: a black-and-white photo in, a colour photo out at the input's full resolution.

Endpoints: ``colorize``, ``colorize_controls`` (model picked), ``colorize_example``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..contract import JOBS
from ..pipelines.colorization import MAX_STRENGTH
from ..registry import ModelSpec
from .chain import SendButtons, run_on_upload, save_outputs, send_buttons
from .components import UploadImage
from .handlers import gpu, load_with_progress, progress_fn, read_upload, user_errors
from .session import ImageLimits, ModelAccess, OutputStore, slug
from .text import COLORIZE_NOTE, spec_blurb

logger = logging.getLogger(__name__)


@dataclass
class ColorizeTab:
    """The Colorize tab's components (the Inspect tab sends parameters here)."""

    image: gr.Image
    model: gr.Dropdown
    info: gr.Markdown
    working_size: gr.Slider
    strength: gr.Slider
    slider: gr.ImageSlider
    download: gr.File
    sends: SendButtons | None = None


def build_colorize_tab(
    *,
    access: ModelAccess,
    store: OutputStore,
    session_models: gr.State,
    colorize: Callable[..., Any],
    examples: Sequence[tuple[str, str]] = (),
    limits: ImageLimits | None = None,
) -> ColorizeTab:
    """Lay out the Colorize tab (call inside a ``gr.Tab``) and wire its events.

    ``colorize`` is :meth:`Studio.colorize`; ``examples`` are ``(image path, model id)`` pairs;
    ``limits`` bound an animated GIF run frame by frame (see :func:`gan_studio.ui.chain.run_on_upload`).
    """
    ids = access.ids(JOBS["colorize"])
    default = access.studio.default_model("colorize", ids)  # DDColor when the Hub answers, else embedded
    first = access.studio.registry.get(default) if default else None

    gr.Markdown(COLORIZE_NOTE + " DDColor and DeOldify (from the Hub) restore real colours far better; the "
                "colour strength slider scales any model's colours.", elem_classes=["tab-note"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image = UploadImage(type="filepath", image_mode=None, label="Black-and-white photo",
                                sources=["upload", "webcam", "clipboard"], height=300, elem_id="colorize-input")
            model = gr.Dropdown(ids, value=default, label="Colorizer", allow_custom_value=True)
            info = gr.Markdown(spec_blurb(first) if first else "", elem_classes=["model-info"])
            strength = gr.Slider(0.0, MAX_STRENGTH, value=1.0, step=0.05, elem_id="colorize-strength",
                                 label="Colour strength (0 = greyscale, 1 = the model's colours, >1 more saturated)")
            with gr.Accordion("Advanced", open=False):
                working_size = gr.Slider(0, 1024, value=0, step=16,
                                         label="Working size (side the colour is predicted at, 0 = model "
                                               "default; DeOldify's render_factor × 16)")
            run = gr.Button("Colorize", variant="primary", elem_id="colorize-button")
        with gr.Column(scale=2, min_width=360):
            slider = gr.ImageSlider(label="Before / after", type="filepath", elem_id="colorize-slider", max_height=520)
            download = gr.File(label="Download PNG", elem_id="colorize-download")
            sends = send_buttons("colorize")

    @user_errors
    def do_colorize(image: str | None, model: str, working_size: float | None, strength: float | None,
                    session: list[str] | None, request: gr.Request,
                    progress: gr.Progress = gr.Progress()) -> tuple[tuple[str, str], str]:
        spec = access.spec(model, JOBS["colorize"], session, tab="Colorize")
        what = "a black-and-white photo"
        if image in (None, ""):
            read_upload(image, what=what)  # says what to do
        working = int(working_size) if working_size and float(working_size) > 0 else None
        load_with_progress(access.studio, spec, None, progress)

        def run(source: Any) -> Any:
            return colorize(spec.id, source, working_size=working,
                            strength=1.0 if strength is None else float(strength),
                            progress=progress_fn(progress, start=0.2))

        done = run_on_upload(image, run, limits=limits, what=what, progress=progress_fn(progress, start=0.2))
        name = f"{slug(Path(str(image)).stem, limit=32)}_{spec.id}"
        # before: the luminance the model saw
        return save_outputs(store, store.call_dir(request), name, done, source=image)

    def model_controls(model_id: str | None, session: list[str] | None) -> str:
        try:
            return spec_blurb(access.spec(model_id, JOBS["colorize"], session, tab="Colorize"))
        except Exception as exc:  # noqa: BLE001 - an unknown typed id: say so beside the picker, no toast
            return f"⚠️ {exc}"

    run.click(gpu(do_colorize), [image, model, working_size, strength, session_models], [slider, download],
              api_name="colorize", concurrency_id="gpu")
    model.change(model_controls, [model, session_models], info, api_name="colorize_controls",
                 concurrency_limit=None, show_progress="hidden", api_visibility="undocumented")

    rows = [[path, model_id] for path, model_id in examples]
    if rows:
        def run_example(image: str | None, model: str, request: gr.Request,
                        progress: gr.Progress = gr.Progress()) -> tuple[tuple[str, str], str]:
            return do_colorize(image, model, 0, 1.0, [], request, progress)

        gr.Examples(rows, [image, model], [slider, download], fn=gpu(run_example), cache_examples=True,
                    cache_mode="lazy", api_name="colorize_example", label="Examples (click one)")

    return ColorizeTab(image, model, info, working_size, strength, slider, download, sends)


def reproduce_updates(tab: ColorizeTab, spec: ModelSpec, params: dict[str, Any]) -> dict[Any, Any]:
    """Component updates that set the Colorize tab to the parameters of a studio PNG."""
    return {
        tab.model: gr.update(value=spec.id),
        tab.info: spec_blurb(spec),
        tab.working_size: gr.update(value=int(params.get("working_size") or 0)),
        tab.strength: gr.update(value=float(params.get("strength", 1.0))),
    }


def components(tab: ColorizeTab) -> list[Any]:
    """Every component :func:`reproduce_updates` may update."""
    return [tab.model, tab.info, tab.working_size, tab.strength]
