"""The policy every event handler runs under: errors shown to the user (or logged with an id when
they are the studio's fault), the per-event time limit, progress, info toasts, reading uploads,
and the optional Hugging Face Spaces GPU decorator."""

from __future__ import annotations

import functools
import html
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import gradio as gr

from ..errors import (
    GanStudioError,
    ImageInputError,
    UnknownModelError,
    UserInputError,
    WrongTaskError,
    report_internal_error,
)
from ..registry import ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    from ..studio import Studio

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "TIME_LIMIT_ENV",
    "TimeLimitExceeded",
    "check_time_limit",
    "event_time_limit",
    "gpu",
    "load_with_progress",
    "notify",
    "progress_fn",
    "read_upload",
    "user_errors",
    "whole_number",
]

#: Seconds one event (a click, an API call) may run; ``$GAN_STUDIO_TIME_LIMIT`` overrides it.
DEFAULT_TIME_LIMIT_S = 300.0
TIME_LIMIT_ENV = "GAN_STUDIO_TIME_LIMIT"

P = ParamSpec("P")
R = TypeVar("R")

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


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` under the per-event time limit (:func:`event_time_limit`) and turn what it raises
    into a ``gr.Error`` (never a traceback).

    A :class:`~gan_studio.errors.GanStudioError` (the user's mistake, a time limit, an out-of-memory
    error) shows its message. Anything else is a fault of the studio: it is logged with its
    traceback under a short id, and the user sees "internal error (id …): please report it"."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
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
        except Exception:  # noqa: BLE001 - a bug, not the user's fault: log it with an id, show the id
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
        import spaces
    except ImportError:
        return fn
    try:
        wrapped: Callable[..., Any] = spaces.GPU(duration=duration)(fn)
        return wrapped
    except Exception:  # pragma: no cover - an old or odd `spaces` package
        logger.warning("spaces.GPU could not wrap %s; running without it", fn.__name__, exc_info=True)
        return fn


def notify(notes: Iterable[str]) -> None:
    """Show notes about an input (orientation applied, alpha composited, …) as info toasts."""
    for note in notes:
        gr.Info(note)


def load_with_progress(studio: Studio, spec: ModelSpec, variant: str | None, progress: Any) -> None:
    """Load (or fetch from the cache) the model first, so the progress bar says what takes time."""
    if progress is not None:
        progress(0.0, desc=f"loading {spec.id}{f' ({variant})' if variant else ''}…")
    studio.load(spec.id, variant)


def whole_number(value: Any, what: str, low: int, high: int) -> int:
    """``value`` (a number box's value) as an int in ``[low, high]``; a :class:`UserInputError` naming
    ``what``, the range and the bad value otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserInputError(f"{what} must be a whole number, got {value!r}") from None
    if not number.is_integer() or not low <= number <= high:
        raise UserInputError(f"{what} must be a whole number between {low} and {high}, got {value!r}")
    return int(number)


def read_upload(path: Any, *, what: str = "an image", keep_alpha: bool = False) -> Any:
    """Decode an uploaded file with :func:`gan_studio.image_io.load_image`; notes become info toasts.

    ``keep_alpha=True`` (the image tasks): an upload with transparency comes back ``RGBA`` so the
    result can carry its alpha; otherwise transparency is composited onto white."""
    from ..image_io import load_image

    if path in (None, ""):
        raise ImageInputError(f"no image uploaded: upload {what} first (or click one of the examples)")
    image, notes = load_image(str(path), name=Path(str(path)).name, keep_alpha=keep_alpha)
    notify(notes)
    return image
