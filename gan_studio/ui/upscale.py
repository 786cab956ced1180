"""The Upscale tab: an image in, the same image enlarged (any scale, in tiles, transparency kept).

Endpoints: ``upscale``, ``upscale_controls`` (model picked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..contract import JOBS
from ..errors import UserInputError
from ..pipelines.upscale import DEFAULT_UPSCALE_TILE, MAX_SCALE, MIN_SCALE, output_size
from .chain import SendButtons, send_buttons
from .components import UploadImage
from .handlers import gpu, load_with_progress, progress_fn, read_upload, user_errors
from .session import ModelAccess, OutputStore, slug
from .text import spec_blurb

logger = logging.getLogger(__name__)

PUBLIC_MAX_OUTPUT_PIXELS = 16_000_000  # a public studio's largest upscaled result


@dataclass
class UpscaleTab:
    """The Upscale tab's components."""

    image: gr.Image
    model: gr.Dropdown
    info: gr.Markdown
    scale: gr.Slider
    tile: gr.Slider
    slider: gr.ImageSlider
    download: gr.File
    sends: SendButtons | None = None


def build_upscale_tab(
    *,
    access: ModelAccess,
    store: OutputStore,
    session_models: gr.State,
    upscale: Callable[..., Any],
    max_output_pixels: int | None = None,
) -> UpscaleTab:
    """Lay out the Upscale tab (call inside a ``gr.Tab``) and wire its events.

    ``upscale`` is :meth:`Studio.upscale`; ``max_output_pixels`` caps the result's size (public mode).
    """
    ids = access.ids(JOBS["upscale"])
    default = access.studio.default_model("upscale", ids)
    first = access.studio.registry.get(default) if default else None

    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image = UploadImage(type="filepath", image_mode=None, label="Image to enlarge",
                                sources=["upload", "clipboard"], height=300, elem_id="upscale-input")
            model = gr.Dropdown(ids, value=default, label="Upscaler", allow_custom_value=True)
            info = gr.Markdown(spec_blurb(first) if first else "", elem_classes=["model-info"])
            scale = gr.Slider(1.0, 8.0, value=4.0, step=0.5, elem_id="upscale-scale",
                              label="Scale (the model enlarges by its own factor, e.g. 4×; a Lanczos resize then gives this)")
            with gr.Accordion("Advanced", open=False):
                tile = gr.Slider(64, 1024, value=DEFAULT_UPSCALE_TILE, step=32, elem_id="upscale-tile",
                                 label="Tile size (input px; smaller tiles use less memory, the result is the same)")
            run = gr.Button("Upscale", variant="primary", elem_id="upscale-button")
        with gr.Column(scale=2, min_width=360):
            slider = gr.ImageSlider(label="Before / after", type="filepath", elem_id="upscale-slider", max_height=520)
            download = gr.File(label="Download PNG", elem_id="upscale-download")
            sends = send_buttons("upscale")

    @user_errors
    def do_upscale(image: str | None, model: str, scale: float | None, tile: float | None,
                   session: list[str] | None, request: gr.Request,
                   progress: gr.Progress = gr.Progress()) -> tuple[tuple[str, str], str]:
        spec = access.spec(model, JOBS["upscale"], session, tab="Upscale")
        source = read_upload(image, what="an image", keep_alpha=True)
        factor = 4.0 if scale is None else float(scale)
        if not MIN_SCALE <= factor <= MAX_SCALE:
            raise UserInputError(f"scale must be between {MIN_SCALE:g} and {MAX_SCALE:g}, got {factor:g}")
        width, height = output_size(source.width, source.height, factor)
        if max_output_pixels is not None and width * height > max_output_pixels:
            raise UserInputError(
                f"a {source.width}×{source.height} image enlarged {factor:g}× would be {width}×{height} "
                f"({width * height / 1e6:.1f} MP); this public studio makes results of up to "
                f"{max_output_pixels / 1e6:g} MP: choose a smaller scale or image")
        load_with_progress(access.studio, spec, None, progress)
        result = upscale(spec.id, source, scale=factor, tile_size=int(tile or DEFAULT_UPSCALE_TILE),
                         progress=progress_fn(progress, start=0.1))
        folder = store.call_dir(request)
        before_path = folder / "before.png"
        result.source.save(before_path, format="PNG")  # the input resized to the output's size
        name = f"{slug(Path(str(image)).stem, limit=32)}_{spec.id}_x{factor:g}"
        after_path = store.save_png(folder, name, result.image, result.params, source=str(image))
        return (str(before_path), after_path), after_path

    def model_controls(model_id: str | None, session: list[str] | None) -> str:
        try:
            return spec_blurb(access.spec(model_id, JOBS["upscale"], session, tab="Upscale"))
        except Exception as exc:  # noqa: BLE001 - an unknown typed id: say so beside the picker, no toast
            return f"⚠️ {exc}"

    run.click(gpu(do_upscale), [image, model, scale, tile, session_models], [slider, download],
              api_name="upscale", concurrency_id="gpu")
    model.change(model_controls, [model, session_models], info, api_name="upscale_controls",
                 concurrency_limit=None, show_progress="hidden", api_visibility="undocumented")
    return UpscaleTab(image, model, info, scale, tile, slider, download, sends)
