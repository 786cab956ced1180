"""The studio's own Gradio components: an image upload that hands the handler the raw file, and a
radio / checkbox group whose values the engine checks (not the choices the session was shown)."""

from __future__ import annotations

import base64
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

__all__ = ["OpenCheckboxGroup", "OpenRadio", "UploadImage"]


@contextlib.contextmanager
def _no_pyi_stubs() -> Iterator[None]:
    """Gradio writes a ``.pyi`` stub next to the source of every component class it sees defined
    (``gradio.component_meta.create_or_modify_pyi``); importing this module must not write files
    into the package, so the stub writer is switched off while our subclasses are defined."""
    from gradio import component_meta

    original = component_meta.create_or_modify_pyi
    component_meta.create_or_modify_pyi = lambda *args, **kwargs: None
    try:
        yield
    finally:
        component_meta.create_or_modify_pyi = original


with _no_pyi_stubs():

    class UploadImage(gr.Image):
        """``gr.Image`` that hands the handler the uploaded file itself, undecoded.

        ``gr.Image(type="filepath")`` still opens every upload with Pillow (all ~43 decoders)
        before the handler runs, and re-encodes it when an ``image_mode`` is set; a file Pillow
        cannot read then fails with a generic error. This subclass keeps the same browser widget
        (upload, webcam, clipboard, preview) but returns the path of the raw uploaded bytes, so
        :func:`gan_studio.image_io.load_image` is the only decoder, with its format allow-list and
        pixel cap, and its :class:`~gan_studio.errors.ImageInputError` reaches the user as a
        message.
        """

        # No __init__ override: Gradio reads a component's props from its __init__ signature.
        # Create it with ``type="filepath", image_mode=None`` (what the API docs then describe).

        def get_block_name(self) -> str:  # the browser widget is gr.Image's
            return "image"

        def preprocess(self, payload: Any) -> str | None:
            """The path of the uploaded file (data URLs are written to a file first), or ``None``."""
            if payload is None:
                return None
            url = getattr(payload, "url", None)
            if url and url.startswith("data:"):
                _, _, encoded = url.partition(",")
                try:
                    data = base64.b64decode(encoded, validate=False)
                except (ValueError, TypeError) as exc:
                    raise gr.Error(f"the uploaded image could not be read ({exc})",
                                   print_exception=False) from None
                folder = Path(self.GRADIO_CACHE) / "gan_studio_uploads"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{uuid.uuid4().hex}.upload"
                path.write_bytes(data)
                return str(path)
            if getattr(payload, "path", None) is None:
                return None
            return str(payload.path)


    class OpenRadio(gr.Radio):
        """``gr.Radio`` whose value is checked by the engine, not against the choices shown.

        Gradio checks a value against the choices of the caller's session; an API client that
        never picked a model in the browser still has the first model's choices, so a direction
        or attribute of another model would be refused with Gradio's message. The engine checks
        the value against the model actually asked for, and names that model's valid choices.
        """

        def get_block_name(self) -> str:
            return "radio"

        def preprocess(self, payload: Any) -> Any:
            return payload


    class OpenCheckboxGroup(gr.CheckboxGroup):
        """``gr.CheckboxGroup`` whose values are checked by the engine (see :class:`OpenRadio`)."""

        def get_block_name(self) -> str:
            return "checkboxgroup"

        def preprocess(self, payload: Any) -> list[Any]:
            if payload is None:
                return []
            if not isinstance(payload, (list, tuple)):
                raise gr.Error(f"attributes must be a list of names, got {payload!r}", print_exception=False)
            return list(payload)
