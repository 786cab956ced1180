"""What a session may do and where its files go: per-session output folders (:class:`OutputStore`),
the models each tab may use (:class:`ModelAccess`), and the public-mode caps on image work
(:class:`ImageLimits`)."""

from __future__ import annotations

import functools
import logging
import math
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from ..contract import Task
from ..errors import UnknownModelError, WrongTaskError
from ..registry import ModelSpec
from .handlers import notify

if TYPE_CHECKING:  # pragma: no cover
    from ..studio import Studio

logger = logging.getLogger(__name__)

__all__ = ["PUBLIC_MAX_ANIMATION_PIXELS", "PUBLIC_MAX_FRAMES", "PUBLIC_MAX_PIXELS", "PUBLIC_MAX_WORKING_SIZE",
           "ImageLimits", "ModelAccess", "OutputStore", "slug"]

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

    def save_png(self, folder: Path, name: str, image: Any, params: dict[str, Any],
                 source: str | None = None) -> str:
        """Write ``folder/<name>.png`` with its credentials (watermark, text provenance, signed C2PA
        manifest); an uploaded ``source`` that is itself a studio output becomes the manifest's
        ingredient, as the CLI records its inputs."""
        from ..credentials import save_png, studio_ingredients

        path = folder / f"{slug(name)}.png"
        save_png(image, path, params, overwrite=True, ingredients=studio_ingredients(source))
        return str(path)


# ---- models -------------------------------------------------------------------------------------
@dataclass
class ModelAccess:
    """Which models a session may use, and the task checks of each tab.

    ``base_ids`` are the registry's models when the demo was built; a session may add more (kept in
    a ``gr.State`` list). In public mode only those ids are accepted, so no request can make the
    server resolve an arbitrary Hub repo or read a local folder.
    """

    studio: Studio
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


# ---- public-mode limits -------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageLimits:
    """Caps on the image work one request may ask for (public mode); ``None`` = no cap.

    ``max_pixels``: images larger than this are downscaled (aspect ratio kept, with a note) before
    translation or colorization, so full-resolution outputs, tiles and the colorizer's
    full-resolution Lab arrays stay bounded. ``max_working_size``: a larger working size is
    lowered to this (with a note). ``max_frames`` and ``max_animation_pixels`` (frames × pixels)
    bound an animated GIF run frame by frame; above them it is refused before any frame is decoded
    (``None``: the decoder's own defaults, :data:`gan_studio.image_io.DEFAULT_MAX_FRAMES` and
    :data:`~gan_studio.image_io.DEFAULT_MAX_ANIMATION_PIXELS`).
    """

    max_pixels: int | None = None
    max_working_size: int | None = None
    max_frames: int | None = None
    max_animation_pixels: int | None = None

    @classmethod
    def public(cls) -> ImageLimits:
        """The caps of a public studio (``--public``, Spaces)."""
        return cls(max_pixels=PUBLIC_MAX_PIXELS, max_working_size=PUBLIC_MAX_WORKING_SIZE,
                   max_frames=PUBLIC_MAX_FRAMES, max_animation_pixels=PUBLIC_MAX_ANIMATION_PIXELS)

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
#: Most frames of an animated GIF a public studio runs through a task.
PUBLIC_MAX_FRAMES = 100
#: Most pixels in all (frames × width × height) of an animated GIF a public studio runs through a task.
PUBLIC_MAX_ANIMATION_PIXELS = 25_000_000
