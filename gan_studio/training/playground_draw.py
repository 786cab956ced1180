"""Drawing the 2-D playground with Pillow alone: the plane (D's heat map, real and fake samples, the
generator's gradient arrows, the warped noise grid, the target's modes) and the curves (losses,
D(real) and D(fake), divergence, mode coverage).

Colours follow GAN Lab: green is real (and where D says "real"), purple is fake (and where D says
"fake"). Every function takes a :class:`~gan_studio.training.playground.Snapshot` (or its
``history``) and returns a ``PIL.Image`` in RGB; nothing here trains or touches torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .playground import Snapshot

__all__ = ["REAL", "FAKE", "render_curves", "render_frame", "render_plane"]

REAL = (22, 140, 60)
FAKE = (130, 40, 170)
ARROW = (90, 70, 110)
GRID = (95, 95, 95)
BACKGROUND = (255, 255, 255)
TEXT = (40, 40, 40)
AXIS = (170, 170, 170)
D_COLOUR = (40, 90, 200)
G_COLOUR = (230, 120, 20)


@lru_cache(maxsize=1)
def _heat_lut() -> np.ndarray:
    """256 colours from "fake" (light purple) through near-white to "real" (light green)."""
    fake, mid, real = np.array([205, 175, 230.0]), np.array([246, 246, 246.0]), np.array([170, 225, 180.0])
    t = np.linspace(0, 1, 256)[:, None]
    lut = np.where(t < 0.5, fake + (mid - fake) * (t / 0.5), mid + (real - mid) * ((t - 0.5) / 0.5))
    out: np.ndarray = lut.astype(np.uint8)
    return out


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


@lru_cache(maxsize=2048)
def _text_mask(text: str, size: int) -> Image.Image:
    """``text`` rendered once as an 8-bit mask (rendering glyphs is the slowest part of a frame)."""
    font = _font(size)
    _, _, right, bottom = font.getbbox(text)
    mask = Image.new("L", (max(1, int(right)), max(1, int(bottom))))
    ImageDraw.Draw(mask).text((0, 0), text, fill=255, font=font)
    return mask


def _text(image: Image.Image, xy: tuple[float, float], text: str, fill: tuple[int, int, int], size: int) -> int:
    """Paste ``text`` at ``xy`` in ``fill``; returns its width in pixels."""
    mask = _text_mask(text, size)
    x, y = int(xy[0]), int(xy[1])
    image.paste(fill, (x, y, x + mask.width, y + mask.height), mask)
    return mask.width


def _to_pixels(points: np.ndarray, extent: float, size: int) -> np.ndarray:
    px = (points[:, 0] + extent) / (2 * extent) * (size - 1)
    py = (extent - points[:, 1]) / (2 * extent) * (size - 1)
    return np.stack([px, py], 1)


#: The pixels of one dot: a 3 × 3 square with one more pixel on each side (a disc of radius ~2).
_DOT = np.array([(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3) if dx * dx + dy * dy <= 4])


def _dots(image: Image.Image, pixels: np.ndarray, colour: tuple[int, int, int]) -> Image.Image:
    """Stamp a dot at each pixel position with numpy (far faster than one ellipse per point)."""
    arr = np.asarray(image).copy()
    h, w = arr.shape[:2]
    xs = np.rint(pixels[:, 0]).astype(np.int64)[:, None] + _DOT[None, :, 0]
    ys = np.rint(pixels[:, 1]).astype(np.int64)[:, None] + _DOT[None, :, 1]
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    arr[ys[inside], xs[inside]] = colour
    return Image.fromarray(arr, "RGB")


def render_plane(snap: Snapshot, size: int = 420, *, arrows: bool = True, grid: bool = True,
                 modes: bool = True, caption: bool = True) -> Image.Image:
    """The plane: D's output as a heat map (green: D says real, purple: D says fake), the warped noise
    grid (grey lines, when the noise is 1-D or 2-D), real (green) and fake (purple) samples, one arrow
    per fake sample along the generator's gradient, and the target's modes as thin circles."""
    heat = np.clip(np.nan_to_num(snap.heat, nan=0.5), 0.0, 1.0)
    rgb = _heat_lut()[(heat * 255).astype(np.uint8)]
    image = Image.fromarray(rgb, "RGB").resize((size, size), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    scale = (size - 1) / (2 * snap.extent)
    if modes:
        r = snap.radius * scale
        for x, y in _to_pixels(snap.modes, snap.extent, size):
            draw.ellipse((x - r, y - r, x + r, y + r), outline=AXIS)
    if grid:
        for line in snap.grid_lines:
            pts = _to_pixels(np.clip(line, -4 * snap.extent, 4 * snap.extent), snap.extent, size)
            draw.line([tuple(p) for p in pts], fill=GRID, width=1)
    image = _dots(image, _to_pixels(snap.real, snap.extent, size), REAL)
    draw = ImageDraw.Draw(image)
    fake = _to_pixels(snap.fake, snap.extent, size)
    if arrows and len(fake):
        vec = snap.arrows * np.array([1.0, -1.0])  # the image's y axis points down
        length = np.linalg.norm(vec, axis=1)
        ref = float(np.percentile(length, 95)) if np.any(length > 0) else 1.0
        vec = vec / max(ref, 1e-12) * (size * 0.06)
        vec = np.where(np.linalg.norm(vec, axis=1, keepdims=True) > size * 0.08,
                       vec / np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-12) * size * 0.08, vec)
        for (x, y), (dx, dy) in zip(fake, vec, strict=True):
            draw.line((x, y, x + dx, y + dy), fill=ARROW, width=1)
    image = _dots(image, fake, FAKE)
    draw = ImageDraw.Draw(image)
    if caption:
        text = f"step {snap.step} · {snap.loss} · {snap.target}"
        draw.rectangle((0, size - 17, size, size), fill=(255, 255, 255))
        _text(image, (4, size - 15), text, TEXT, 12)
    return image


def _finite(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return arr[np.isfinite(arr)] if arr.size else arr


def _panel(image: Image.Image, box: tuple[int, int, int, int], title: str, steps: Sequence[float],
           series: list[tuple[str, Sequence[float], tuple[int, int, int]]],
           y_range: tuple[float, float] | None = None) -> None:
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = box
    _text(image, (x0 + 2, y0), title, TEXT, 11)
    legend_x = x1 - 4
    for name, _, colour in reversed(series):
        legend_x -= _text_mask(name, 11).width
        _text(image, (legend_x, y0), name, colour, 11)
        legend_x -= 10
    top, bottom, left, right = y0 + 16, y1 - 4, x0 + 38, x1 - 4
    draw.rectangle((left, top, right, bottom), outline=AXIS)
    everything = np.concatenate([_finite(v) for _, v, _ in series]) if series else np.array([])
    if y_range is not None:
        lo, hi = y_range
    elif everything.size:
        lo, hi = float(everything.min()), float(everything.max())
    else:
        lo, hi = 0.0, 1.0
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    _text(image, (x0 + 2, top - 2), f"{hi:.3g}", TEXT, 11)
    _text(image, (x0 + 2, bottom - 12), f"{lo:.3g}", TEXT, 11)
    xs = np.asarray(steps, dtype=np.float64)
    if xs.size < 2:
        return
    span = max(xs[-1] - xs[0], 1e-9)
    width = right - left
    stride = max(1, math.ceil(xs.size / width))  # at most one point per pixel column
    for _, values, colour in series:
        ys = np.asarray(values, dtype=np.float64)[::stride]
        px = left + (xs[::stride] - xs[0]) / span * width
        py = bottom - (np.clip(ys, lo, hi) - lo) / (hi - lo) * (bottom - top)
        ok = np.isfinite(py)
        if ok.sum() >= 2:
            draw.line(list(zip(px[ok].tolist(), py[ok].tolist(), strict=True)), fill=colour, width=2)
    _text(image, (right - 60, bottom - 12), f"step {int(xs[-1])}", AXIS, 11)


def render_curves(history: dict[str, list[float]], size: tuple[int, int] = (420, 420), *,
                  n_modes: int | None = None, critic: bool = False) -> Image.Image:
    """Four panels sharing the step axis: D and G losses; D(real) and D(fake) (the raw critic value
    when ``critic``, as for WGAN-GP); the JS divergence (bits, 0 to 1); mode coverage (0 to ``n_modes``)."""
    w, h = size
    image = Image.new("RGB", size, BACKGROUND)
    steps = history.get("step", [])
    rows = 4
    ph = h // rows
    outputs = "critic(real), critic(fake)" if critic else "D(real), D(fake)"
    panels: list[tuple[str, list[tuple[str, Sequence[float], tuple[int, int, int]]], tuple[float, float] | None]] = [
        ("losses", [("D", history.get("d_loss", []), D_COLOUR), ("G", history.get("g_loss", []), G_COLOUR)], None),
        (outputs, [("real", history.get("d_real", []), REAL), ("fake", history.get("d_fake", []), FAKE)],
         None if critic else (0.0, 1.0)),
        ("JS divergence (bits)", [("JS", history.get("js", []), D_COLOUR)], (0.0, 1.0)),
        ("mode coverage", [("modes covered", history.get("coverage", []), REAL)],
         (0.0, float(n_modes)) if n_modes else None),
    ]
    for i, (title, series, y_range) in enumerate(panels):
        _panel(image, (4, i * ph + 2, w - 2, (i + 1) * ph - 2), title, steps, series, y_range)
    return image


def render_frame(snap: Snapshot, size: int = 420) -> Image.Image:
    """The plane and the curves side by side (the CLI's final plot and the docs' pictures)."""
    plane = render_plane(snap, size)
    curves = render_curves(snap.history, (size, size), n_modes=len(snap.modes), critic=snap.loss == "wgan-gp")
    frame = Image.new("RGB", (2 * size + 8, size), BACKGROUND)
    frame.paste(plane, (0, 0))
    frame.paste(curves, (size + 8, 0))
    return frame
