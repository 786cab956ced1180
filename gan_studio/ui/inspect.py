"""The Inspect tab: read the parameters a studio PNG carries and send them back to the tab that
made it, to reproduce it; and check any image's Content Credentials (C2PA), the studio's invisible
watermark and its text provenance, in plain words (the same findings as ``python -m gan_studio verify``).

Endpoints: ``inspect``, ``reproduce``, ``inspect_example``, ``verify_image``.
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


_VERDICT_MD = {
    "intact": "**Studio output, Content Credentials intact.**",
    "not_identified": "**Not identified as studio output.** No Content Credentials and no studio watermark "
                      "were found. That does *not* mean the image is real: re-saving, screenshots and other "
                      "tools drop or never add them.",
    "tampered": "**Tampered:** the file carries Content Credentials, but its pixels or manifest no longer match them.",
    "watermark_only": "**Studio output by its watermark**, but its Content Credentials are missing or stripped "
                      "(re-saved or edited elsewhere).",
    "unreadable": "**Not a readable image.**",
}


def verification_markdown(result: Any) -> str:
    """The Inspect tab's plain-words report of a :class:`gan_studio.credentials.verify.Verification`."""
    m, w = result.manifest, result.watermark
    lines = [_VERDICT_MD[result.verdict], "",
             f"- **Content Credentials (C2PA):** {markdown_escape(m.get('state', '?'))}: "
             f"{markdown_escape(m.get('note', ''))}"]
    if m.get("signer"):
        lines.append(f"  - signer: {markdown_escape(m['signer'])} (issuer {markdown_escape(m.get('issuer') or '?')}); "
                     f"self-signed: {'yes' if m.get('self_signed') else 'no'}; "
                     f"on a trust list: {'yes' if m.get('trusted') else 'no'}")
    for i, step in enumerate(m.get("steps") or [], 1):
        params = step.get("parameters") if isinstance(step.get("parameters"), dict) else {}
        model = params.get("model", params.get("model_id", "")) if params else ""
        lines.append(f"  - step {i}: {markdown_escape(step.get('action') or '?')} by "
                     f"{markdown_escape(step.get('software') or '?')} {markdown_escape(model or '')}".rstrip())
    for ingredient in m.get("ingredients") or []:
        lines.append(f"  - ingredient: {markdown_escape(ingredient or '?')}")
    confidence = f" (confidence {w.get('confidence', 0):.2f})" if w.get("checked") else ""
    lines.append(f"- **Invisible watermark:** {markdown_escape(w.get('note', ''))}{confidence}")
    lines.append(f"- **Text provenance:** {markdown_escape(result.provenance_note)}")
    return "\n".join(lines)


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
            check = gr.Button("Check Content Credentials and watermark", elem_id="verify-button")
            checks = gr.Markdown(elem_id="verify-report")
            findings = gr.JSON(label="Credentials check (as verify --json)", elem_id="verify-json")

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

    @user_errors
    def do_verify(path: str | None) -> tuple[str, dict[str, Any]]:
        from ..credentials.verify import verify_file

        if path in (None, ""):
            raise ImageInputError("no image uploaded: drop an image to check first")
        result = verify_file(path)  # never raises for a bad file: it is reported
        record = result.to_json()
        record["file"] = "uploaded image"  # not the server's temp path
        return verification_markdown(result), record

    run.click(do_inspect, image, [params, about, send], api_name="inspect", concurrency_limit=None)
    check.click(do_verify, image, [checks, findings], api_name="verify_image")
    image.upload(do_verify, image, [checks, findings], api_name="verify_upload", api_visibility="undocumented")
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
