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
import math
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ..errors import (
    GanStudioError,
    ImageInputError,
    UnknownModelError,
    UserInputError,
    WrongTaskError,
    report_internal_error,
)
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


# ---- errors, time limit and progress ------------------------------------------------------------
#: Seconds one event (a click, an API call) may run; ``$GAN_STUDIO_TIME_LIMIT`` overrides it.
DEFAULT_TIME_LIMIT_S = 300.0
TIME_LIMIT_ENV = "GAN_STUDIO_TIME_LIMIT"

_deadline = threading.local()  # .at: time.monotonic() the running event must end by (per worker thread)


class TimeLimitExceeded(GanStudioError, TimeoutError):
    """An event ran past its time limit (checked at each progress step: batch, tile, stage)."""


def event_time_limit() -> float:
    """The per-event time limit in seconds: ``$GAN_STUDIO_TIME_LIMIT`` (read now) or
    :data:`DEFAULT_TIME_LIMIT_S`.

    Gradio 6's ``time_limit=`` on an event only applies to streaming events, so the studio keeps
    its own clock: it starts when the handler starts (time spent waiting in the queue does not
    count) and is checked each time a pipeline reports progress, so a long job stops at its next
    batch or tile with :class:`TimeLimitExceeded` and frees its queue slot.
    """
    raw = os.environ.get(TIME_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIME_LIMIT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or math.isinf(value):
        raise UserInputError(f"{TIME_LIMIT_ENV}={raw!r} is not a positive number of seconds (e.g. {DEFAULT_TIME_LIMIT_S:g})")
    return value


def check_time_limit() -> None:
    """Raise :class:`TimeLimitExceeded` if the event running in this thread is past its deadline."""
    deadline = getattr(_deadline, "at", None)
    if deadline is not None and time.monotonic() > deadline:
        limit = getattr(_deadline, "limit", 0.0)
        raise TimeLimitExceeded(
            f"this request ran longer than the studio's time limit of {limit:g} s and was stopped; "
            f"ask for fewer or smaller images"
        )


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn`` under the per-event time limit (:func:`event_time_limit`) and turn what it raises
    into a ``gr.Error`` (never a traceback).

    A :class:`~gan_studio.errors.GanStudioError` (the user's mistake, a time limit, an out-of-memory
    error) shows its message. Anything else is a fault of the studio: it is logged with its
    traceback under a short id, and the user sees "internal error (id …): please report it"."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        outer = getattr(_deadline, "at", None), getattr(_deadline, "limit", None)
        try:
            if outer[0] is None:  # the outermost handler starts the clock
                limit = event_time_limit()
                _deadline.at, _deadline.limit = time.monotonic() + limit, limit
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except GanStudioError as exc:
            logger.info("%s: %s: %s", fn.__name__, type(exc).__name__, exc)
            raise gr.Error(_as_text(exc), title=_error_title(exc), print_exception=False) from None
        except FileNotFoundError as exc:
            raise gr.Error(_as_text(f"file not found: {exc.filename or exc}"), print_exception=False) from None
        except Exception:  # a bug, not the user's fault: log it with an id, show the id
            raise gr.Error(report_internal_error(logger, fn.__name__), title="Internal error",
                           print_exception=False) from None
        finally:
            _deadline.at, _deadline.limit = outer

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
    if isinstance(exc, TimeLimitExceeded):
        return "Time limit"
    return "Error"


def progress_fn(progress: Any, *, start: float = 0.0, end: float = 1.0) -> Callable[[float, str], None]:
    """Adapt ``gr.Progress`` to the pipelines' ``progress(fraction, message)``, mapped into [start, end].

    Each report also checks the event's time limit (:func:`check_time_limit`)."""

    def update(fraction: float, message: str) -> None:
        check_time_limit()
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


# ---- public-mode limits -------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageLimits:
    """Caps on the image work one request may ask for (public mode); ``None`` = no cap.

    ``max_pixels``: images larger than this are downscaled (aspect ratio kept, with a note) before
    translation or colorization, so full-resolution outputs, tiles and the colorizer's
    full-resolution Lab arrays stay bounded. ``max_working_size``: a larger working size is
    lowered to this (with a note).
    """

    max_pixels: int | None = None
    max_working_size: int | None = None

    @classmethod
    def public(cls) -> ImageLimits:
        """The caps of a public studio (``--public``, Spaces)."""
        return cls(max_pixels=PUBLIC_MAX_PIXELS, max_working_size=PUBLIC_MAX_WORKING_SIZE)

    def fit_image(self, image: Any) -> Any:
        """``image``, downscaled to at most :attr:`max_pixels` (with an info note) if it is larger."""
        if self.max_pixels is None or image.width * image.height <= self.max_pixels:
            return image
        from ..image_io import resize

        scale = math.sqrt(self.max_pixels / (image.width * image.height))
        size = (max(1, math.floor(image.width * scale)), max(1, math.floor(image.height * scale)))
        notify([f"downscaled from {image.width}×{image.height} to {size[0]}×{size[1]}: this public studio works on "
                f"images of up to {self.max_pixels / 1e6:.1f} megapixels"])
        return resize(image, size)

    def fit_working_size(self, working_size: int | None) -> int | None:
        if self.max_working_size is None or working_size is None or working_size <= self.max_working_size:
            return working_size
        notify([f"working size lowered from {working_size} to {self.max_working_size} px, the limit of this "
                f"public studio"])
        return self.max_working_size

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn(model, image, ..., working_size=...)`` (``Studio.translate`` / ``Studio.colorize``)
        with these caps applied to its image and working size; ``fn`` itself when nothing is capped."""
        if self.max_pixels is None and self.max_working_size is None:
            return fn

        @functools.wraps(fn)
        def capped(model: Any, image: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("working_size") is not None:
                kwargs["working_size"] = self.fit_working_size(int(kwargs["working_size"]))
            return fn(model, self.fit_image(image), *args, **kwargs)

        return capped


#: A public studio downscales uploads above this many pixels before translating or colorizing.
PUBLIC_MAX_PIXELS = 4_000_000
#: A public studio's largest working size (short side, px).
PUBLIC_MAX_WORKING_SIZE = 512


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
