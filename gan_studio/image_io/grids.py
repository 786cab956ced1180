"""Grids of images and animated GIFs."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from .decode import WHITE, check_background, ensure_rgb

__all__ = ["frames_to_gif", "gif_bytes", "make_grid", "save_gif"]

#: :func:`frames_to_gif` upscales frames whose long side is below this many pixels.
GIF_MIN_SIDE = 128


def make_grid(
    images: Sequence[Image.Image],
    *,
    cols: int | None = None,
    pad: int = 2,
    background: tuple[int, int, int] = WHITE,
) -> Image.Image:
    """Tile images row by row into one image, ``pad`` pixels around and between cells.

    ``cols`` defaults to ``ceil(sqrt(n))``. Cells are as large as the largest image; smaller
    images are centred. The grid is ``L`` if every image is ``L``, otherwise ``RGB``.
    """
    images = list(images)
    if not images:
        raise ValueError("make_grid() needs at least one image")
    if cols is None:
        cols = math.ceil(math.sqrt(len(images)))
    if cols < 1:
        raise ValueError(f"cols must be a positive integer, got {cols!r}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad!r}")
    background = check_background(background)
    cols = min(cols, len(images))
    rows = math.ceil(len(images) / cols)
    cell_w = max(im.width for im in images)
    cell_h = max(im.height for im in images)
    gray = all(im.mode == "L" for im in images)
    mode = "L" if gray else "RGB"
    fill: Any = round(sum(background) / 3) if gray else background
    grid = Image.new(mode, (cols * (cell_w + pad) + pad, rows * (cell_h + pad) + pad), fill)
    for i, im in enumerate(images):
        tile = im if im.mode == mode else ensure_rgb(im)[0]
        r, c = divmod(i, cols)
        x = pad + c * (cell_w + pad) + (cell_w - im.width) // 2
        y = pad + r * (cell_h + pad) + (cell_h - im.height) // 2
        grid.paste(tile, (x, y))
    return grid


def _gif_frames(frames: Sequence[Image.Image]) -> list[Image.Image]:
    frames = list(frames)
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    sizes = {f.size for f in frames}
    if len(sizes) > 1:
        raise ValueError(f"GIF frames have different sizes {sorted(sizes)}; resize them to one size first")
    return [f if f.mode in ("RGB", "L") else ensure_rgb(f)[0] for f in frames]


def gif_bytes(
    frames: Sequence[Image.Image], *, duration_ms: int | Sequence[int] = 80, loop: int | None = 0,
    comment: str | None = None
) -> bytes:
    """Encode frames as an animated GIF and return its bytes (``loop=0``: forever, ``None``: play once).

    ``duration_ms``: one duration for every frame, or one per frame (a GIF stores 10 ms units)."""
    converted = _gif_frames(frames)
    if isinstance(duration_ms, (int, float)):
        if duration_ms <= 0:
            raise ValueError(f"duration_ms must be positive, got {duration_ms!r}")
        duration: int | list[int] = int(duration_ms)
    else:
        duration = [int(d) for d in duration_ms]
        if len(duration) != len(converted) or any(d < 0 for d in duration):
            raise ValueError(f"duration_ms needs one duration of 0 ms or more per frame ({len(converted)}), "
                             f"got {duration_ms!r}")
    options: dict[str, Any] = {"save_all": True, "append_images": converted[1:], "duration": duration}
    if loop is not None:
        options["loop"] = int(loop)
    if comment:
        options["comment"] = comment
    buf = io.BytesIO()
    converted[0].save(buf, format="GIF", **options)
    return buf.getvalue()


def save_gif(
    frames: Sequence[Image.Image],
    path: str | os.PathLike[str],
    *,
    duration_ms: int | Sequence[int] = 80,
    loop: int | None = 0,
    comment: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write frames as an animated GIF at ``path``; refuses to replace a file unless ``overwrite``."""
    path = Path(path)
    data = gif_bytes(frames, duration_ms=duration_ms, loop=loop, comment=comment)
    mode = "wb" if overwrite else "xb"
    try:
        with open(path, mode) as fh:
            fh.write(data)
    except FileExistsError:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it or choose a new name"
        ) from None
    return path


def frames_to_gif(frames: Sequence[Image.Image], *, duration_ms: int = 80, scale: int | None = None) -> bytes:
    """An animated GIF (bytes) of interpolation frames, looped ping-pong (there and back).

    Frames are upscaled ``scale`` times with nearest-neighbour resampling; by default by the
    smallest integer that brings the long side to at least :data:`GIF_MIN_SIDE` px.
    """
    images = list(frames)
    if not images:
        raise ValueError("a GIF needs at least one frame")
    if scale is None:
        scale = max(1, math.ceil(GIF_MIN_SIDE / max(images[0].size)))
    if scale > 1:
        images = [im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST) for im in images]
    return gif_bytes(images + images[-2:0:-1], duration_ms=duration_ms, loop=0)
