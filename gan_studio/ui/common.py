"""What every tab shares: the raw-file upload component, user-facing errors, progress, per-session
output files, model choices, and the optional Hugging Face Spaces GPU decorator.

The UI holds no model logic: handlers validate the user's choices, call the
:class:`~gan_studio.studio.Studio`, and write the results as PNG files with provenance
(:mod:`gan_studio.metadata`) into a per-session folder, so what the user downloads is the file the
studio wrote, not an image re-encoded by Gradio.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import logging
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import GanStudioError, ImageInputError, UnknownModelError, WrongTaskError
from ..registry import ModelSpec, Task

logger = logging.getLogger(__name__)

# Task groups per tab.
GENERATE_TASKS = (Task.UNCONDITIONAL, Task.CONDITIONAL)
TRANSLATE_TASKS = (Task.TRANSLATION, Task.MULTIDOMAIN)
COLORIZE_TASKS = (Task.COLORIZATION,)

TAB_OF_TASK = {
    Task.UNCONDITIONAL: "generate",
    Task.CONDITIONAL: "generate",
    Task.TRANSLATION: "translate",
    Task.MULTIDOMAIN: "translate",
    Task.COLORIZATION: "colorize",
}


# ---- components ---------------------------------------------------------------------------------
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

        def preprocess(self, payload: Any) -> str | None:  # noqa: D401 - Gradio API
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

        def preprocess(self, payload: Any) -> Any:  # noqa: D401 - Gradio API
            return payload


    class OpenCheckboxGroup(gr.CheckboxGroup):
        """``gr.CheckboxGroup`` whose values are checked by the engine (see :class:`OpenRadio`)."""

        def get_block_name(self) -> str:
            return "checkboxgroup"

        def preprocess(self, payload: Any) -> list[Any]:  # noqa: D401 - Gradio API
            if payload is None:
                return []
            if not isinstance(payload, (list, tuple)):
                raise gr.Error(f"attributes must be a list of names, got {payload!r}", print_exception=False)
            return list(payload)


# ---- errors and progress ------------------------------------------------------------------------
def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the errors a user can cause into ``gr.Error`` with the message (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (GanStudioError, ValueError) as exc:
            logger.info("%s: %s: %s", fn.__name__, type(exc).__name__, exc)
            raise gr.Error(_as_text(exc), title=_error_title(exc), print_exception=False) from None
        except FileNotFoundError as exc:
            raise gr.Error(_as_text(f"file not found: {exc.filename or exc}"), print_exception=False) from None
        except Exception:  # a bug, not the user's fault: log it, show a short message
            logger.exception("%s failed", fn.__name__)
            raise gr.Error(
                "something went wrong inside the studio (the server log has the details)",
                print_exception=False,
            ) from None

    return wrapper


def _as_text(message: Any) -> str:
    """Gradio shows error messages as (sanitised) HTML; escape them so a model id or file name
    taken from user input reads as typed and carries no markup."""
    return html.escape(str(message), quote=False)


def _error_title(exc: Exception) -> str:
    if isinstance(exc, ImageInputError):
        return "Unusable image"
    if isinstance(exc, UnknownModelError):
        return "Unknown model"
    if isinstance(exc, WrongTaskError):
        return "Wrong model for this tab"
    return "Error"


def progress_fn(progress: Any, *, start: float = 0.0, end: float = 1.0) -> Callable[[float, str], None]:
    """Adapt ``gr.Progress`` to the pipelines' ``progress(fraction, message)``, mapped into [start, end]."""

    def update(fraction: float, message: str) -> None:
        if progress is not None:
            progress(start + (end - start) * float(fraction), desc=message)

    return update


def gpu(fn: Callable[..., Any], *, duration: int = 60) -> Callable[..., Any]:
    """``spaces.GPU(fn)`` on Hugging Face Spaces (ZeroGPU), ``fn`` unchanged elsewhere."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return fn
    try:
        return spaces.GPU(duration=duration)(fn)
    except Exception:  # pragma: no cover - an old or odd `spaces` package
        logger.warning("spaces.GPU could not wrap %s; running without it", fn.__name__, exc_info=True)
        return fn


def notify(notes: Iterable[str]) -> None:
    """Show notes about an input (orientation applied, alpha composited, …) as info toasts."""
    for note in notes:
        gr.Info(note)


# ---- output files -------------------------------------------------------------------------------
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: Any, *, limit: int = 48) -> str:
    """A file-name-safe form of ``text``."""
    cleaned = _SAFE.sub("-", str(text)).strip("-.") or "x"
    return cleaned[-limit:]


class OutputStore:
    """Per-session folders under one temporary root, created lazily.

    Every call gets a fresh sub-folder, so file names stay readable (``digits-cgan_seed7.png``)
    and concurrent calls never collide.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self._root = Path(root) if root is not None else None
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="gan_studio-"))
                logger.info("studio outputs go to %s", self._root)
            self._root.mkdir(parents=True, exist_ok=True)
            return self._root

    def call_dir(self, request: gr.Request | None) -> Path:
        session = getattr(request, "session_hash", None) or "anonymous"
        folder = self.root / "sessions" / slug(session) / uuid.uuid4().hex[:10]
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def forget(self, request: gr.Request | None) -> None:
        """Delete a session's files (when its browser tab closes); Gradio keeps its own copies of
        whatever it served, cleaned by ``Blocks(delete_cache=...)``."""
        session = getattr(request, "session_hash", None)
        if not session or self._root is None:
            return
        folder = self._root / "sessions" / slug(session)
        shutil.rmtree(folder, ignore_errors=True)

    def save_png(self, folder: Path, name: str, image: Any, params: dict[str, Any]) -> str:
        from ..metadata import save_png

        path = folder / f"{slug(name)}.png"
        save_png(image, path, params, overwrite=True)
        return str(path)


# ---- models -------------------------------------------------------------------------------------
@dataclass
class ModelAccess:
    """Which models a session may use, and the task checks of each tab.

    ``base_ids`` are the registry's models when the demo was built; a session may add more (kept in
    a ``gr.State`` list). In public mode only those ids are accepted, so no request can make the
    server resolve an arbitrary Hub repo or read a local folder.
    """

    studio: Any  # gan_studio.studio.Studio
    public: bool = False
    base_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.base_ids:
            self.base_ids = list(self.studio.registry.ids())

    def ids(self, tasks: Sequence[Task], session_ids: Sequence[str] | None = None) -> list[str]:
        """The model ids of ``tasks`` this session can pick, built-ins first."""
        out: list[str] = []
        for model_id in [*self.base_ids, *(session_ids or [])]:
            if model_id in out or model_id not in self.studio.registry:
                continue
            if self.studio.registry.get(model_id).task in tasks:
                out.append(model_id)
        return out

    def spec(self, model: Any, tasks: Sequence[Task], session_ids: Sequence[str] | None = None,
             *, tab: str) -> ModelSpec:
        """The spec of ``model`` if this tab can run it; readable errors otherwise."""
        choices = self.ids(tasks, session_ids)
        wanted = " or ".join(t.value for t in tasks)
        wanted = f"{'an' if wanted[0] in 'aeiou' else 'a'} {wanted}"
        if model in (None, ""):
            raise UnknownModelError(
                f"no model chosen; the {tab} tab needs {wanted} model: {', '.join(choices) or '(none registered)'}"
            )
        model = str(model).strip()
        if self.public and model not in self.base_ids and model not in (session_ids or []):
            raise UnknownModelError(f"unknown model {model!r}; choose one of: {', '.join(choices) or '(none)'}")
        spec = self.studio.spec(model)  # a registered id; outside public mode also a folder or Hub id
        if spec.task not in tasks:
            raise WrongTaskError(
                f"model {spec.id!r} is a {spec.task.value} model; the {tab} tab needs {wanted} model: "
                f"{', '.join(choices) or '(none registered)'}"
            )
        return spec


def load_with_progress(studio: Any, spec: ModelSpec, variant: str | None, progress: Any) -> None:
    """Load (or fetch from the cache) the model first, so the progress bar says what takes time."""
    if progress is not None:
        progress(0.0, desc=f"loading {spec.id}{f' ({variant})' if variant else ''}…")
    studio.load(spec.id, variant)


def read_upload(path: Any, *, what: str = "an image") -> Any:
    """Decode an uploaded file with :func:`gan_studio.image_io.load_image`; notes become info toasts."""
    from ..image_io import load_image

    if path in (None, ""):
        raise ImageInputError(f"no image uploaded: upload {what} first (or click one of the examples)")
    image, notes = load_image(str(path), name=Path(str(path)).name)
    notify(notes)
    return image


def markdown_escape(text: Any) -> str:
    """Text shown inside Markdown without being interpreted as markup."""
    return re.sub(r"([\\`*_{}\[\]()#+!|<>])", r"\\\1", str(text))


def spec_blurb(spec: ModelSpec) -> str:
    """A one-paragraph Markdown description of a model for the tabs."""
    size = f"{spec.image_size}×{spec.image_size} px" if spec.image_size else "any size"
    parts = [f"**{markdown_escape(spec.id)}** · {spec.task.value} · `{spec.architecture}` · {size} · "
             f"licence: {markdown_escape(spec.license)}"]
    if spec.description:
        parts.append(markdown_escape(spec.description))
    return "  \n".join(parts)
