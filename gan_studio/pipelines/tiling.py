"""Full-resolution translation of large photos by overlapping tiles with seamless blending.

A fully convolutional translator ``G(x)`` is run on overlapping tiles (default 512 px with 64 px
of overlap) and the tile outputs are blended with raised-cosine feathering weights that sum to
exactly one at every pixel, so the result has no visible seams and an identity-like model gives
back its input unchanged.

How the tiles and weights are laid out (per axis; the 2-D weight of a tile is the product of its
row and column weights, which again sums to one):

* ``n = ceil((L - overlap) / (tile - overlap))`` tiles of ``tile`` px, spread evenly from 0 to
  ``L - tile`` (so every overlap is at least ``overlap``); an axis shorter than the tile is one
  tile of the whole length.
* Between two neighbouring tiles the blend happens around the middle of their overlap, over
  ``overlap / 2`` px. The outer quarter of the overlap on each side (``overlap / 4`` px, the
  *margin*) gets weight 0 from the tile whose border it is: the pixels a convolution pads at a
  tile border never reach the output. A purely local model whose receptive field radius is at
  most the margin therefore gives *exactly* its untiled output.
* ``overlap`` must be at most ``tile / 2``; then no pixel is blended from more than two tiles per
  axis.

Memory is bounded: tiles are cut from the PIL image one batch at a time, and the output is
assembled one row of tiles at a time in a float32 buffer of two tile rows (``2 × tile × W × C``,
about 50 MB for a 4000 px wide photo) that is flushed into a preallocated 8-bit output image.
Time is linear in the number of pixels (each tile is translated once). Progress is reported per
tile batch as ``progress(done / total, "tile done/total")``.

Normalisation layers that use per-image statistics (InstanceNorm in CycleGAN, GroupNorm(1) in
AnimeGANv2, batch statistics in pix2pix) would see one tile at a time: every tile normalised with
its own statistics gets its own tone and contrast, and neighbouring tiles disagree. With
``norm_stats="thumbnail"`` (the default) those layers instead use the statistics they see on a
thumbnail of the whole photo (long side = the tile size, so it costs one tile's memory), computed
once; every tile is then normalised alike — Thumbnail Instance Normalization, as in URST (Chen et
al., "Towards Ultra-Resolution Neural Style Transfer via Thumbnail Instance Normalization", AAAI
2022). An image that fits in one tile gives the model's single-pass output (to float rounding).
``norm_stats="tile"`` keeps the per-tile statistics. The model itself is never modified: a private
copy of it is used. docs/style-transfer.md gives measured numbers.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UserInputError
from .common import ProgressFn, report

__all__ = [
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "NORM_STATS",
    "TilePlan",
    "axis_starts",
    "axis_weights",
    "parse_tile_message",
    "per_input_norm_layers",
    "plan_tiles",
    "thumbnail_normalized",
    "translate_tiled",
    "translate_tiled_array",
]

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64
MIN_TILE = 16
#: Where per-input normalisation layers take their statistics from during a tiled run.
NORM_STATS = ("thumbnail", "tile")
_TILE_MESSAGE = re.compile(r"^tile (\d+)/(\d+)$")


def axis_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of the tiles along one axis of ``length`` px (evenly spread, first 0, last ``length - tile``)."""
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    n = max(n, 2)
    span = length - tile
    return [round(i * span / (n - 1)) for i in range(n)]


def _step(x: np.ndarray, cut: float, half: float) -> np.ndarray:
    """0 before ``cut - half``, 1 after ``cut + half``, a raised cosine in between (pixel centres ``x + 0.5``)."""
    centres = x + 0.5
    if half <= 0:
        return (centres >= cut).astype(np.float64)
    t = np.clip((centres - (cut - half)) / (2 * half), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def axis_weights(length: int, starts: list[int], tile_len: int, overlap: int) -> list[np.ndarray]:
    """Per-tile blending weights along one axis (each of length ``tile_len``); they sum to one over the axis.

    Tile ``i`` covers ``[starts[i], starts[i] + tile_len)``. Its weight rises around the middle
    of its overlap with tile ``i - 1`` and falls around the middle of its overlap with tile
    ``i + 1``, over ``overlap / 2`` px, leaving a margin of ``overlap / 4`` px at its borders at 0.
    """
    n = len(starts)
    if n == 1:
        return [np.ones(tile_len, dtype=np.float64)]
    # Cut between tile i and i + 1: the middle of their overlap [starts[i+1], starts[i] + tile_len).
    cuts = [(starts[i + 1] + starts[i] + tile_len) / 2.0 for i in range(n - 1)]
    half = (overlap // 2) / 2.0  # the blend spans overlap // 2 px, centred on each cut
    if len(cuts) > 1:  # two blends never overlap (this only bites for overlap = tile / 2 and rounding)
        half = min(half, min(b - a for a, b in zip(cuts, cuts[1:])) / 2.0)
    weights = []
    for i, s in enumerate(starts):
        x = np.arange(s, s + tile_len, dtype=np.float64)
        rise = _step(x, cuts[i - 1], half) if i > 0 else np.ones_like(x)
        fall = 1.0 - _step(x, cuts[i], half) if i < n - 1 else np.ones_like(x)
        weights.append(rise * fall)
    return weights


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of a ``width × height`` image go; ``len(plan)`` is the number of tiles."""

    width: int
    height: int
    tile_w: int  # width of every tile (= min(tile, width))
    tile_h: int  # height of every tile (= min(tile, height))
    xs: tuple[int, ...]  # left edges of the tile columns
    ys: tuple[int, ...]  # top edges of the tile rows
    overlap: int

    def __len__(self) -> int:
        return len(self.xs) * len(self.ys)

    def boxes(self) -> list[tuple[int, int, int, int]]:
        """``(left, top, right, bottom)`` of every tile, row by row."""
        return [(x, y, x + self.tile_w, y + self.tile_h) for y in self.ys for x in self.xs]

    def weights(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(column weights, row weights): 1-D arrays whose outer products are the tiles' 2-D weights."""
        return (axis_weights(self.width, list(self.xs), self.tile_w, self.overlap),
                axis_weights(self.height, list(self.ys), self.tile_h, self.overlap))


def plan_tiles(width: int, height: int, *, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP,
               multiple: int = 1) -> TilePlan:
    """Lay out tiles of ``tile`` px with at least ``overlap`` px of overlap over a ``width × height`` image.

    ``tile`` is rounded up to a multiple of ``multiple`` (what the architecture needs, e.g. 4 for
    CycleGAN's ResNet, 256 for pix2pix ``unet_256``). Raises ``ValueError`` naming the bad value
    for sizes that cannot work (overlap above half the tile, tiles under 16 px).
    """
    for name, value in (("width", width), ("height", height), ("tile", tile), ("multiple", multiple)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise UserInputError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(overlap, (int, np.integer)) or isinstance(overlap, bool) or overlap < 0:
        raise UserInputError(f"overlap must be an integer >= 0, got {overlap!r}")
    tile = -(-int(tile) // multiple) * multiple
    if tile < MIN_TILE:
        raise UserInputError(f"tile size must be at least {MIN_TILE} px, got {tile}")
    if overlap > tile // 2:
        raise UserInputError(
            f"overlap must be at most half the tile size ({tile // 2} px for {tile} px tiles), got {overlap}"
        )
    tile_w, tile_h = min(tile, width), min(tile, height)
    return TilePlan(width, height, tile_w, tile_h, tuple(axis_starts(width, tile, overlap)),
                    tuple(axis_starts(height, tile, overlap)), int(overlap))


def parse_tile_message(message: str) -> tuple[int, int] | None:
    """``(done, total)`` from a tiled run's progress message ``"tile 3/12"``, else ``None`` (for progress bars)."""
    match = _TILE_MESSAGE.match(message.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def per_input_norm_layers(module: Any) -> list[Any]:
    """The norm layers of ``module`` that normalise each input with its own statistics (as it runs now).

    InstanceNorm2d without running statistics (or in training mode), StarGAN's ``instance_stats``
    InstanceNorm, pix2pix's ``batch_stats`` BatchNorm, BatchNorm2d in training mode, and GroupNorm.
    """
    from torch import nn

    found: list[nn.Module] = []
    for m in module.modules() if isinstance(module, nn.Module) else ():
        if isinstance(m, nn.GroupNorm):
            found.append(m)
        elif isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)):
            mode = getattr(m, "inference_norm", None)
            if mode in ("instance_stats", "batch_stats"):
                found.append(m)
            elif isinstance(m, nn.InstanceNorm2d) and not m.track_running_stats:
                found.append(m)
            elif m.training:
                found.append(m)
    return found


def _freeze_statistics(layer: Any) -> None:
    """Make ``layer`` (a private copy) normalise with the statistics of the first input it sees, from then on."""
    import torch
    from torch import nn

    groups = layer.num_groups if isinstance(layer, nn.GroupNorm) else None
    stats: list[Any] = []

    def forward(x: Any) -> Any:
        if x.dim() != 4:
            raise UserInputError(f"{type(layer).__name__}: expected a (N, C, H, W) input, got {tuple(x.shape)}")
        n, c = x.shape[:2]
        flat = x.float().reshape(n, groups if groups else c, -1)
        if not stats:  # the thumbnail pass (batch of one): record, and normalise with its own statistics
            var, mean = torch.var_mean(flat, dim=(0, 2), unbiased=False)
            stats.extend((mean, torch.rsqrt(var + layer.eps)))
        mean, inv_std = stats
        y = ((flat - mean[None, :, None]) * inv_std[None, :, None]).reshape(x.shape)
        if layer.weight is not None:
            y = y * layer.weight.float()[None, :, None, None] + layer.bias.float()[None, :, None, None]
        return y.to(x.dtype)

    layer.forward = forward  # an instance attribute: only this copy changes


def thumbnail_normalized(module: Any, thumbnail: Any) -> tuple[Any, int]:
    """A copy of ``module`` whose per-input norm layers use the statistics they see on ``thumbnail``.

    ``thumbnail`` is a batch of one image (already on the module's device and dtype); it is run
    through the copy once. Returns ``(copy, number of layers frozen)``; with no such layers,
    ``(module, 0)`` unchanged.
    """
    if not per_input_norm_layers(module):
        return module, 0
    work = copy.deepcopy(module)
    layers = per_input_norm_layers(work)
    for layer in layers:
        _freeze_statistics(layer)
    work(thumbnail)
    return work, len(layers)


def _thumbnail(image: Any, tile: int, multiple: int, in_channels: int) -> Any:
    """The photo scaled so it fits in one tile (long side = ``tile``), sides a multiple of ``multiple``."""
    from ..image_io import pil_to_tensor, resize, working_size

    if max(image.size) <= tile:
        return _pad_to_multiple(pil_to_tensor(image, channels=in_channels), multiple)
    size = working_size(image.width, image.height, target=tile, multiple=multiple, side="long")
    return pil_to_tensor(resize(image, size), channels=in_channels)


def _pad_to_multiple(x: Any, multiple: int) -> Any:
    """Pad (N, C, h, w) on the bottom/right up to multiples of ``multiple`` (reflect where possible)."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not ph and not pw:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def _tile_rows(
    model: Callable[[Any], Any], image: Any, plan: TilePlan, *, multiple: int, in_channels: int, device: Any,
    dtype: Any, batch_size: int, progress: ProgressFn | None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(top, strip)``: finished output rows as float32 ``(rows, W, C)`` in [-1, 1], top to bottom."""

    from ..image_io import pil_to_tensor

    wx, wy = plan.weights()
    total = len(plan)
    done = 0
    pending: np.ndarray | None = None  # weighted sum over rows [pending_top, pending_top + tile_h)
    pending_top = 0
    for row, y in enumerate(plan.ys):
        acc: np.ndarray | None = None
        for first in range(0, len(plan.xs), batch_size):
            cols = list(range(first, min(first + batch_size, len(plan.xs))))
            crops = [image.crop((plan.xs[c], y, plan.xs[c] + plan.tile_w, y + plan.tile_h)) for c in cols]
            x = _pad_to_multiple(pil_to_tensor(crops, channels=in_channels), multiple)
            out = model(x.to(device=device, dtype=dtype))
            if out.shape[-2] < plan.tile_h or out.shape[-1] < plan.tile_w or out.shape[0] != len(cols):
                raise UserInputError(
                    f"the model turned a {tuple(x.shape)} tile into {tuple(out.shape)}; tiled translation needs a "
                    f"fully convolutional model that keeps the size"
                )
            out = out[..., : plan.tile_h, : plan.tile_w].float().cpu().permute(0, 2, 3, 1).numpy()
            if acc is None:
                acc = np.zeros((plan.tile_h, plan.width, out.shape[-1]), dtype=np.float32)
            for k, c in enumerate(cols):
                weight = (wy[row][:, None] * wx[c][None, :]).astype(np.float32)[..., None]
                acc[:, plan.xs[c] : plan.xs[c] + plan.tile_w] += out[k] * weight
            done += len(cols)
            report(progress, done / total, f"tile {done}/{total}")
        assert acc is not None
        if pending is None:
            pending, pending_top = acc, y
            continue
        finished = y - pending_top  # rows above this tile row get nothing more
        if finished > 0:
            yield pending_top, pending[:finished]
        carry = pending[finished:]
        acc[: carry.shape[0]] += carry
        pending, pending_top = acc, y
    if pending is not None:
        yield pending_top, pending


def _prepare_model(model: Any, image: Any, plan: TilePlan, norm_stats: str, *, multiple: int, device: Any,
                   dtype: Any, in_channels: int = 3) -> Any:
    if norm_stats not in NORM_STATS:
        raise UserInputError(f"unknown norm_stats {norm_stats!r}; choose one of: {', '.join(NORM_STATS)}")
    if norm_stats == "tile" or not per_input_norm_layers(model):
        return model
    thumb = _thumbnail(image, max(plan.tile_w, plan.tile_h), multiple, in_channels).to(device=device, dtype=dtype)
    model, _ = thumbnail_normalized(model, thumb)
    return model


def _check_image(image: Any) -> Any:
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise TypeError(f"tiled translation takes a PIL image, not {type(image).__name__}")
    return image if image.mode == "RGB" else image.convert("RGB")


def translate_tiled(
    model: Callable[[Any], Any],
    image: Any,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    multiple: int = 1,
    in_channels: int = 3,
    device: Any = "cpu",
    dtype: Any = None,
    batch_size: int = 1,
    norm_stats: str = "thumbnail",
    progress: ProgressFn | None = None,
) -> Any:
    """Run ``model`` (``G(x)``, x in [-1, 1]) over ``image`` (PIL) in blended tiles; return a PIL image of its size.

    The caller sets up inference mode, seeding and the model's device; ``device``/``dtype`` are
    where the tiles go. ``batch_size`` tiles of one row are translated per forward pass.
    ``norm_stats`` is ``"thumbnail"`` (per-input norm layers use a thumbnail's statistics, see
    the module docstring) or ``"tile"``. The output is 8-bit (``RGB``, or ``L`` for one-channel
    models), quantised like :func:`gan_studio.image_io.tensor_to_pil`.
    """
    import torch
    from PIL import Image

    from ..image_io import tensor_to_pil

    image = _check_image(image)
    out: Any = None
    for top, strip in _blended_strips(model, image, tile=tile, overlap=overlap, multiple=multiple,
                                      in_channels=in_channels, device=device, dtype=dtype, batch_size=batch_size,
                                      norm_stats=norm_stats, progress=progress):
        piece = tensor_to_pil(torch.from_numpy(np.ascontiguousarray(strip.transpose(2, 0, 1)))[None])[0]
        if out is None:
            out = Image.new(piece.mode, (image.width, image.height))
        out.paste(piece, (0, top))
    return out


def translate_tiled_array(
    model: Callable[[Any], Any],
    image: Any,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    multiple: int = 1,
    in_channels: int = 3,
    device: Any = "cpu",
    dtype: Any = None,
    batch_size: int = 1,
    norm_stats: str = "thumbnail",
) -> np.ndarray:
    """Like :func:`translate_tiled` but return the blended float32 ``(H, W, C)`` array in [-1, 1], unquantised.

    Holds the whole image in float32: meant for measuring seams on moderate images, not for 12 MP photos.
    """
    strips = [strip for _, strip in _blended_strips(model, _check_image(image), tile=tile, overlap=overlap,
                                                    multiple=multiple, in_channels=in_channels, device=device,
                                                    dtype=dtype, batch_size=batch_size, norm_stats=norm_stats,
                                                    progress=None)]
    return np.concatenate(strips, axis=0)


def _blended_strips(model: Callable[[Any], Any], image: Any, *, tile: int, overlap: int, multiple: int,
                    in_channels: int, device: Any, dtype: Any, batch_size: int, norm_stats: str,
                    progress: ProgressFn | None) -> Any:
    """Plan the tiles, prepare the model (norm statistics) and yield ``(top, float strip)`` rows."""
    import torch

    if batch_size < 1:
        raise UserInputError(f"batch_size must be at least 1, got {batch_size}")
    plan = plan_tiles(image.width, image.height, tile=tile, overlap=overlap, multiple=multiple)
    dtype = dtype or torch.float32
    model = _prepare_model(model, image, plan, norm_stats, multiple=multiple, device=device, dtype=dtype,
                           in_channels=in_channels)
    yield from _tile_rows(model, image, plan, multiple=multiple, in_channels=in_channels, device=device,
                          dtype=dtype, batch_size=batch_size, progress=progress)
