"""Chaining results between tabs, and animated GIFs in the image tabs.

Every tab with an image result has a row of "Send to …" buttons (:func:`send_buttons`, placed in the
tab's layout) that open the result as the input of another tab; :func:`wire_sends` connects them once
every tab exists. What is sent is the studio PNG itself (or GIF), so its provenance travels with it:
the decoder keeps it (:data:`gan_studio.image_io.PROVENANCE_KEY`) and the next task's result lists
the earlier steps as its ``chain`` (see :mod:`gan_studio.metadata`).

The targets are one table, :data:`SEND_TARGETS` (tab id → label); a new image tab (Upscale) is one
more entry there plus its input component in the ``inputs`` given to :func:`wire_sends`.

An animated GIF uploaded to an image tab goes through the task frame by frame
(:func:`run_on_upload`), within the session's :class:`~gan_studio.ui.session.ImageLimits`; the
result is a GIF with the input's frame durations and loop count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import UserInputError
from .handlers import notify, read_upload
from .session import ImageLimits, OutputStore, slug

logger = logging.getLogger(__name__)

__all__ = ["SEND_TARGETS", "SendButtons", "first_gallery_image", "run_on_upload", "save_outputs", "send_buttons",
           "wire_sends"]

#: The tabs a result can be sent to, as (tab id, label); the tab id is also the ``gr.Tab``'s ``id``.
#: Adding the Upscale tab: add ("upscale", "Upscale") here.
SEND_TARGETS: dict[str, str] = {"translate": "Translate", "colorize": "Colorize", "upscale": "Upscale"}


@dataclass
class SendButtons:
    """The "Send to …" buttons of one tab's result (target tab id → button)."""

    source: str
    buttons: dict[str, gr.Button]


def send_buttons(source: str) -> SendButtons:
    """A row of "Send to …" buttons, one per :data:`SEND_TARGETS` entry but ``source``'s own tab; call it
    inside the tab's layout, under the result."""
    with gr.Row(elem_classes=["send-to"]):
        buttons = {target: gr.Button(f"Send to {label}", size="sm", elem_id=f"{source}-send-{target}", min_width=80)
                   for target, label in SEND_TARGETS.items() if target != source}
    return SendButtons(source, buttons)


def first_gallery_image(items: Any, selected: Any = None) -> str | None:
    """The file of a gallery's selected image (index ``selected``), else of its first one."""
    if not items:
        return None
    index = int(selected) if isinstance(selected, (int, float)) and 0 <= int(selected) < len(items) else 0
    item = items[index]
    path = item[0] if isinstance(item, (tuple, list)) else item
    if isinstance(path, Mapping):  # a FileData-like dict
        path = path.get("path")
    return str(path) if path else None


def wire_sends(tabs: gr.Tabs, sends: Sequence[tuple[SendButtons | None, Sequence[Any], Callable[..., Any]]],
               inputs: Mapping[str, Any]) -> None:
    """Connect each tab's "Send to …" buttons: ``sends`` holds ``(buttons, source components, pick)``
    where ``pick(*values)`` gives the file to send (or ``None``: nothing yet); ``inputs`` maps a
    target tab id to its input image component. A button whose target has no input here is hidden.

    Each button is an event ``<source>_send_<target>`` (undocumented in the API page): it selects the
    target tab and puts the file into its input."""
    for buttons, sources, pick in sends:
        if buttons is None:
            continue
        for target, button in buttons.buttons.items():
            if target not in inputs:
                button.visible = False
                continue

            def send(*values: Any, _target: str = target, _pick: Callable[..., Any] = pick) -> tuple[Any, Any]:
                path = _pick(*values)
                if not path:
                    raise gr.Error("nothing to send yet: make a result first", title="Nothing to send",
                                   print_exception=False)
                return gr.Tabs(selected=_target), path

            button.click(send, list(sources), [tabs, inputs[target]], api_name=f"{buttons.source}_send_{target}",
                         api_visibility="undocumented", concurrency_limit=None, show_progress="hidden")


def run_on_upload(path: Any, task: Callable[[Any], Any], *, limits: ImageLimits | None, what: str,
                  progress: Callable[[float, str], None] | None = None) -> Any:
    """Decode the upload at ``path`` and run ``task(image) -> Result`` on it; an animated GIF goes
    through ``task`` frame by frame and gives an :class:`~gan_studio.pipelines.frames.AnimatedResult`.

    The GIF's frames are decoded within ``limits`` (frame count and frames × pixels, checked before
    decoding); each frame then meets the per-image caps as a still upload does."""
    from ..image_io import DEFAULT_MAX_ANIMATION_PIXELS, DEFAULT_MAX_FRAMES, is_animated_gif, load_animation
    from ..pipelines.frames import run_frames

    if path in (None, "") or not is_animated_gif(str(path)):
        return task(read_upload(path, what=what, keep_alpha=True))
    limits = limits or ImageLimits()
    animation = load_animation(str(path), name=Path(str(path)).name, keep_alpha=True,
                               max_frames=limits.max_frames or DEFAULT_MAX_FRAMES,
                               max_total_pixels=limits.max_animation_pixels or DEFAULT_MAX_ANIMATION_PIXELS)
    notify(animation.notes)
    return run_frames(task, animation, progress=progress)


def save_outputs(store: OutputStore, folder: Path, name: str, done: Any,
                 source: str | None = None) -> tuple[tuple[str, str], str]:
    """Write a task's output into ``folder``: ``((before, after), download)`` for an image tab's
    before/after slider and download. A still result gives its "before" image and the provenance PNG
    (the upload ``source`` its C2PA ingredient when it is a studio output); an animated one the first
    frame's "before" and the GIF (the input's timing, provenance as comment)."""
    from ..pipelines.frames import AnimatedResult

    before_path = folder / "before.png"
    if isinstance(done, AnimatedResult):
        first = done.frames[0]
        if first.source is None:
            raise UserInputError("this task gives no before image")  # pragma: no cover - image tasks do
        first.source.save(before_path, format="PNG")
        gif_path = folder / f"{slug(name)}.gif"
        gif_path.write_bytes(done.gif_bytes())
        return (str(before_path), str(gif_path)), str(gif_path)
    done.source.save(before_path, format="PNG")  # what the model was fed (a crop, say), at the output's size
    after_path = store.save_png(folder, name, done.image, done.params, source=source)
    return (str(before_path), after_path), after_path
