"""PIL <-> tensor: images are ``float32`` tensors ``(N, C, H, W)`` in ``[-1, 1]``.

torch is imported inside the functions, so importing :mod:`gan_studio.image_io` stays cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .decode import ensure_rgb

if TYPE_CHECKING:  # pragma: no cover
    import torch

logger = logging.getLogger(__name__)

__all__ = ["pil_to_tensor", "tensor_to_pil"]


def pil_to_tensor(images: Image.Image | Sequence[Image.Image], *, channels: int = 3) -> torch.Tensor:
    """Stack PIL images into a ``float32`` tensor ``(N, C, H, W)`` in ``[-1, 1]``.

    ``channels=3`` gives RGB, ``channels=1`` luminance (Pillow's ``L``). Other modes go through
    :func:`ensure_rgb` first (alpha composited onto white, 16-bit scaled). All images must have
    the same size.
    """
    import torch

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    batch = [images] if isinstance(images, Image.Image) else list(images)
    if not batch:
        raise ValueError("pil_to_tensor() needs at least one image")
    sizes = {im.size for im in batch}
    if len(sizes) > 1:
        raise ValueError(f"images have different sizes {sorted(sizes)}; resize them to one size first")
    arrays = []
    for im in batch:
        if not isinstance(im, Image.Image):
            raise TypeError(f"pil_to_tensor() takes PIL images, not {type(im).__name__}")
        if channels == 1 and im.mode == "L":
            arr = np.asarray(im)[:, :, None]
        else:
            rgb = im if im.mode == "RGB" else ensure_rgb(im)[0]
            arr = np.asarray(rgb.convert("L"))[:, :, None] if channels == 1 else np.asarray(rgb)
        arrays.append(arr)
    stacked = np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2))
    return torch.from_numpy(stacked).to(torch.float32).div_(127.5).sub_(1.0)


def tensor_to_pil(t: torch.Tensor) -> list[Image.Image]:
    """Turn ``(N, C, H, W)`` (or ``(C, H, W)``) values in ``[-1, 1]`` into ``L`` (C=1) or ``RGB`` (C=3) images.

    Values are clamped to ``[-1, 1]`` and rounded to the nearest 8-bit level
    (``round((x + 1) * 127.5)``); NaN becomes mid-grey and is logged.
    """
    import torch

    if not isinstance(t, torch.Tensor):
        raise TypeError(f"tensor_to_pil() takes a torch.Tensor, not {type(t).__name__}")
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4 or t.shape[1] not in (1, 3):
        raise ValueError(f"expected a tensor of shape (N, C, H, W) with C in (1, 3), got {tuple(t.shape)}")
    x = t.detach().to(device="cpu", dtype=torch.float32)
    if torch.isnan(x).any():
        logger.warning("tensor_to_pil: %d NaN values replaced by mid-grey", int(torch.isnan(x).sum()))
        x = torch.nan_to_num(x, nan=0.0)
    x = x.clamp(-1.0, 1.0).add(1.0).mul(127.5).round().to(torch.uint8)
    arrays = x.permute(0, 2, 3, 1).contiguous().numpy()
    if arrays.shape[-1] == 1:
        return [Image.fromarray(np.ascontiguousarray(a[:, :, 0])) for a in arrays]
    return [Image.fromarray(a) for a in arrays]
