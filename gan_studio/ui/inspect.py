"""The Inspect tab: read the parameters a studio PNG carries and send them back to the tab that
made it, to reproduce it.

Endpoints: ``inspect``, ``reproduce``, ``inspect_example``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import gradio as gr

from ..contract import JOBS, Task, job_of
from ..errors import ImageInputError, UnknownModelError
from . import colorize as colorize_tab
from . import generate as generate_tab
from . import translate as translate_tab
from .components import UploadImage
from .handlers import user_errors
from .session import ModelAccess
from .text import markdown_escape

logger = logging.getLogger(__name__)

TAB_TITLES = {"generate": "Generate", "translate": "Translate", "colorize": "Colorize", "upscale": "Upscale"}
NO_SEND = ("upscale",)  # tabs the Inspect tab cannot set up yet (choose the model and scale there by hand)


def _task_of(params: dict[str, Any]) -> Task:
    try:
        return Task(str(params.get("task")))
    except ValueError:
        raise ImageInputError(
            f"this PNG's parameters name no studio task (task={params.get('task')!r}); "
            f"it cannot be reproduced here"
        ) from None


def summary(params: dict[str, Any]) -> str:
    """A short Markdown sentence about what made the image."""
    task = params.get("task", "?")
    text = f"Made by **{markdown_escape(params.get('model', '?'))}** ({markdown_escape(task)})"
    if params.get("variant"):
        text += f", direction {markdown_escape(params['variant'])}"
    if params.get("mode") == "interpolate":
        text += f", interpolating seeds {params.get('seed_a')} → {params.get('seed_b')} (t = {params.get('t')})"
    elif params.get("seed") is not None:
        text += f", seed {params['seed']}"
    if params.get("label") is not None:
        text += f", class {markdown_escape(params['label'])}"
    if params.get("attributes"):
        text += f", attributes {markdown_escape(', '.join(map(str, params['attributes'])))}"
    text += f", with {markdown_escape(params.get('software', 'gan_studio'))}."
    if params.get("revision"):
        text += f"  \nWeights revision: `{markdown_escape(params['revision'])}`."
    try:
        tab = job_of(_task_of(params))
    except ImageInputError:
        return text
    if tab != "generate":
        text += "  \nThe input image is not stored in the PNG: upload it again on the " \
                f"{TAB_TITLES[tab]} tab after sending the parameters there."
    return text


def build_inspect_tab(
    *,
    access: ModelAccess,
    session_models: gr.State,
    tabs: gr.Tabs,
    generate: generate_tab.GenerateTab,
    translate: translate_tab.TranslateTab,
    colorize: colorize_tab.ColorizeTab,
    examples: Sequence[str] = (),
) -> None:
    """Lay out the Inspect tab (call inside a ``gr.Tab``) and wire its events."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            image = UploadImage(type="filepath", image_mode=None, label="A PNG made by the studio",
                                sources=["upload", "clipboard"], height=300, elem_id="inspect-input")
            run = gr.Button("Read parameters", variant="primary", elem_id="inspect-button")
        with gr.Column(scale=2, min_width=360):
            about = gr.Markdown(elem_id="inspect-summary")
            params = gr.JSON(label="Parameters", elem_id="inspect-params")
            send = gr.Button("Send to its tab to reproduce", visible=False, elem_id="reproduce-button")

    @user_errors
    def do_inspect(path: str | None) -> tuple[dict[str, Any], str, Any]:
        from ..metadata import read_metadata

        if path in (None, ""):
            raise ImageInputError("no image uploaded: drop a PNG saved by the studio first")
        data = read_metadata(path)  # reads the text chunks only; no pixel data is decoded
        try:
            tab = job_of(_task_of(data))
            button = gr.update(visible=tab not in NO_SEND, value=f"Send to the {TAB_TITLES[tab]} tab to reproduce")
        except ImageInputError:
            button = gr.update(visible=False)
        return data, summary(data), button

    @user_errors
    def reproduce(data: dict[str, Any] | None, session: list[str] | None) -> dict[Any, Any]:
        if not data:
            raise ImageInputError("read the parameters of a studio PNG first")
        task = _task_of(data)
        tab = job_of(task)
        if tab in NO_SEND:
            raise ImageInputError(f"a {TAB_TITLES[tab]} result: choose model {data.get('model')!r} and scale "
                                  f"{data.get('scale')} on the {TAB_TITLES[tab]} tab and upload the input again")
        tasks = JOBS[tab]
        model = data.get("model")
        known = access.ids(tasks, session)
        if model not in known:  # never resolve an id read from a file (a Hub repo, a local path)
            raise UnknownModelError(
                f"this PNG was made by model {model!r}, which this studio does not have; "
                f"{'add it on the Models tab first, or ' if not access.public else ''}"
                f"choose one of: {', '.join(known) or '(none)'}"
            )
        spec = access.spec(model, tasks, session, tab=TAB_TITLES[tab])
        if tab == "generate":
            updates = generate_tab.reproduce_updates(generate, spec, data)
        elif tab == "translate":
            updates = translate_tab.reproduce_updates(translate, spec, data)
        else:
            updates = colorize_tab.reproduce_updates(colorize, spec, data)
        updates[tabs] = gr.Tabs(selected=tab)
        return updates

    run.click(do_inspect, image, [params, about, send], api_name="inspect", concurrency_limit=None)
    image.upload(do_inspect, image, [params, about, send], api_name="inspect_upload", concurrency_limit=None,
                 api_visibility="undocumented")
    targets = list(dict.fromkeys([tabs, *generate_tab.components(generate), *translate_tab.components(translate),
                                  *colorize_tab.components(colorize)]))
    send.click(reproduce, [params, session_models], targets, api_name="reproduce", concurrency_limit=None)

    if examples:
        # Reading a PNG's text chunks is instant: run on click, nothing to cache (and Gradio's
        # example cache cannot store the button update).
        gr.Examples([[p] for p in examples], [image], [params, about, send], fn=do_inspect, cache_examples=False,
                    run_on_click=True, api_name="inspect_example", label="Examples (click one)")
