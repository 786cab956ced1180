"""Sizes: the working size of a model, resizing and centre crops."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

__all__ = ["center_crop", "center_crop_box", "resize", "working_size"]


def _round_to_multiple(value: float, multiple: int) -> int:
    return max(multiple, int(math.floor(value / multiple + 0.5)) * multiple)


def working_size(width: int, height: int, *, target: int, multiple: int, side: str = "short") -> tuple[int, int]:
    """The ``(width, height)`` to run a model at: the ``side`` ("short" or "long") scaled to ``target``.

    The aspect ratio is kept; each dimension is rounded to the nearest multiple of ``multiple``
    (and is at least ``multiple``). Use ``side="long"`` to bound the size of very elongated images.

    >>> working_size(4000, 3000, target=256, multiple=8)
    (344, 256)
    """
    for label, value in (("width", width), ("height", height), ("target", target), ("multiple", multiple)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    if side not in ("short", "long"):
        raise ValueError(f"side must be 'short' or 'long', got {side!r}")
    ref = min(width, height) if side == "short" else max(width, height)
    scale = target / ref
    return _round_to_multiple(width * scale, multiple), _round_to_multiple(height * scale, multiple)


def _as_size(size: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        w = h = int(size)
    else:
        try:
            w, h = (int(v) for v in size)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be an int or a (width, height) pair, got {size!r}") from None
    if w < 1 or h < 1:
        raise ValueError(f"{what} must be positive, got {size!r}")
    return w, h


def resize(
    img: Image.Image, size: tuple[int, int] | int, resample: Image.Resampling = Image.Resampling.LANCZOS
) -> Image.Image:
    """Resize to ``size`` = ``(width, height)`` (an int means a square). Returns a new image."""
    w, h = _as_size(size, "size")
    if img.size == (w, h):
        return img.copy()
    return img.resize((w, h), resample=resample)


def center_crop(img: Image.Image, size: int | tuple[int, int]) -> Image.Image:
    """Crop the centre ``size`` (an int means a square; else ``(width, height)``).

    Same placement as ``torchvision.transforms.functional.center_crop`` (offsets
    ``round((W - w) / 2)``); a crop larger than the image pads with black, as torchvision does.
    StarGAN's CelebA pre-processing is ``resize(center_crop(img, 178), 128)``.
    """
    return img.crop(center_crop_box(img.size, size))


def center_crop_box(image_size: tuple[int, int], size: int | tuple[int, int]) -> tuple[int, int, int, int]:
    """The ``(left, top, right, bottom)`` box :func:`center_crop` cuts from an image of ``image_size``
    (``(width, height)``); it reaches outside the image when the crop is larger."""
    w, h = _as_size(size, "crop size")
    W, H = image_size
    left = -((w - W) // 2) if w > W else int(round((W - w) / 2.0))
    top = -((h - H) // 2) if h > H else int(round((H - h) / 2.0))
    return left, top, left + w, top + h
