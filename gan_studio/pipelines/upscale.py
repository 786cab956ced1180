"""Upscaling: enlarge an image with a super-resolution model, in padded, blended tiles, to any scale.

The model (task ``upscale``: ``G(x)``, x RGB in [0, 1], output ``contract.scale`` times larger)
runs over tiles of ``tile`` input px laid out by :func:`gan_studio.pipelines.tiling.plan_tiles`
with an overlap of ``4 × pad`` px; the tile outputs are blended in output coordinates with the
raised-cosine weights of :func:`~gan_studio.pipelines.tiling.axis_weights` (they sum to one, and
the outer ``pad`` input px of every tile border get weight 0). So a model whose receptive radius
(declared as ``contract.receptive_radius``) is at most ``pad`` gives exactly its one-pass output,
and a deeper one (RRDBNet) has no visible seams: its tiles agree to within float noise away
from their borders. ``pad`` is the declared radius, capped at :data:`MAX_TILE_PAD` and at an
eighth of the tile (Real-ESRGAN's own ``tile_pad`` is 10).

Memory is bounded by the tile, not the image: the input is held once (float32, the small side of
the job), the output is assembled one tile row at a time in a float32 buffer of two tile rows and
flushed into a preallocated 8-bit array. Progress is reported per tile as ``"tile k/n"``.

Any output scale: the model enlarges by its own ``scale``, then a Lanczos resize gives the asked
size (``round(side × scale)``), as Real-ESRGAN's ``outscale`` does.

Transparency: as Real-ESRGAN's ``RealESRGANer`` does by default, the alpha channel is upscaled by
the model too (run as a grey RGB image in the same batch as the colour, turned back into one
channel with the luma weights :data:`ALPHA_LUMA`), not just resized; the colour is what the studio's other image tasks feed
a model (composited onto white, :data:`~gan_studio.pipelines.common.ALPHA_BACKGROUND`).

Bit depth: the studio's decoder (:mod:`gan_studio.image_io.decode`) gives 8-bit images (16-bit
inputs are scaled to 8 bits on loading), so the input is ``/255`` and the output 8-bit;
Real-ESRGAN's ``/65535`` path for 16-bit files is not needed here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..contract import Contract, Task
from ..errors import UserInputError, WrongTaskError
from ..models import LoadedModel
from .common import ALPHA_BACKGROUND, ProgressFn, Result, carries_chain, provenance, report
from .tiling import axis_weights, plan_tiles

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = [
    "DEFAULT_UPSCALE_TILE",
    "MAX_OUTPUT_PIXELS",
    "MAX_SCALE",
    "MAX_TILE_PAD",
    "output_size",
    "tile_pad_for",
    "upscale",
    "upscale_tensor",
]

DEFAULT_UPSCALE_TILE = 256  # input px per tile side (×4: 1024 px of output per tile)
MAX_TILE_PAD = 32  # input px of context around every tile, at most
MAX_SCALE = 16.0  # the largest output scale a call may ask for
MIN_SCALE = 0.25
MAX_OUTPUT_PIXELS = 100_000_000  # a 24 MP result passes; a 400 MP one does not
ALPHA_LUMA = (0.299, 0.587, 0.114)  # the upscaled alpha (run as grey RGB) back to one channel


def tile_pad_for(contract: Contract, tile: int) -> int:
    """Input px of context each tile gets on every side: the declared receptive radius, capped at
    :data:`MAX_TILE_PAD` and at ``tile // 8`` (so the overlap, ``4 × pad``, is at most half a tile)."""
    return max(1, min(contract.receptive_radius or MAX_TILE_PAD, MAX_TILE_PAD, tile // 8))


def output_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The ``(width, height)`` of a ``width × height`` image enlarged ``scale`` times (rounded, at least 1)."""
    return max(1, round(width * scale)), max(1, round(height * scale))


def _check_scale(scale: float) -> float:
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise UserInputError(f"scale must be a number between {MIN_SCALE:g} and {MAX_SCALE:g}, got {scale!r}") from None
    if not math.isfinite(value) or not MIN_SCALE <= value <= MAX_SCALE:
        raise UserInputError(f"scale must be a number between {MIN_SCALE:g} and {MAX_SCALE:g}, got {scale!r}")
    return value


def upscale_tensor(model: Any, x: torch.Tensor, *, scale: int, tile: int, pad: int, multiple: int = 1,
                   device: Any = "cpu", dtype: Any = None, progress: ProgressFn | None = None) -> np.ndarray:
    """Run ``model`` (``G(x)`` → ``scale``× larger) over ``x`` (N, C, H, W) in [0, 1] in blended tiles.

    Returns the 8-bit output ``(N, H·scale, W·scale, C)`` (clamped to [0, 1], ``round(y × 255)``).
    ``tile`` is the tile side in input px, ``pad`` the context each tile gets (the overlap is
    ``4 × pad``, see the module docstring); ``multiple`` the size every tile must be a multiple of
    (the input is reflect-padded on the bottom/right to such a size and the output cropped).
    The caller sets up inference mode.
    """
    import torch
    import torch.nn.functional as F

    n, c, h, w = x.shape
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
    H, W = x.shape[-2:]
    plan = plan_tiles(W, H, tile=max(tile, 16), overlap=4 * pad, multiple=multiple)
    s = scale
    wx = axis_weights(W * s, [v * s for v in plan.xs], plan.tile_w * s, plan.overlap * s)
    wy = axis_weights(H * s, [v * s for v in plan.ys], plan.tile_h * s, plan.overlap * s)
    th, tw = plan.tile_h * s, plan.tile_w * s
    out = np.empty((n, h * s, w * s, c), dtype=np.uint8)

    def flush(top: int, rows: np.ndarray) -> None:
        stop = min(top + rows.shape[1], h * s)
        if stop > top:  # in place: these rows are finished, their float buffer is not used again
            q = rows[:, : stop - top, : w * s]
            np.clip(q, 0.0, 1.0, out=q)
            q *= 255.0
            np.rint(q, out=q)
            out[:, top:stop] = q

    total, done = len(plan), 0
    pending: np.ndarray | None = None
    pending_top = 0
    for r, y in enumerate(plan.ys):
        acc = np.zeros((n, th, W * s, c), dtype=np.float32)
        for k, x0 in enumerate(plan.xs):
            piece = x[:, :, y : y + plan.tile_h, x0 : x0 + plan.tile_w].to(device=device, dtype=dtype or torch.float32)
            y_out = model(piece)
            if tuple(y_out.shape[-2:]) != (th, tw) or y_out.shape[0] != n:
                raise UserInputError(f"the model turned a {tuple(piece.shape)} tile into {tuple(y_out.shape)}; "
                                     f"an upscaler declaring scale {s} must return (N, C, {th}, {tw})")
            weight = (wy[r][:, None] * wx[k][None, :]).astype(np.float32)[None, :, :, None]
            acc[:, :, x0 * s : x0 * s + tw] += y_out.float().cpu().permute(0, 2, 3, 1).numpy() * weight
            done += 1
            report(progress, done / total, f"tile {done}/{total}")
        y_top = y * s
        if pending is not None:
            finished = y_top - pending_top
            if finished > 0:
                flush(pending_top, pending[:, :finished])
            acc[:, : pending.shape[1] - finished] += pending[:, finished:]
        pending, pending_top = acc, y_top  # the previous row's buffer is freed here
    if pending is not None:
        flush(pending_top, pending)
    return out


@carries_chain
def upscale(
    loaded: LoadedModel,
    image: Image.Image,
    *,
    scale: float | None = None,
    tile_size: int | None = None,
    progress: ProgressFn | None = None,
) -> Result:
    """Enlarge ``image`` (PIL) ``scale`` times (default: the model's own factor) with an upscaler.

    ``tile_size`` is the tile side in input px (default :data:`DEFAULT_UPSCALE_TILE`; an image that
    fits in one tile runs in one pass). An input with transparency gives an ``RGBA`` result whose
    alpha was upscaled by the model alongside the colour; a grey (``L``) input gives an ``L`` result.
    """
    import torch
    from PIL import Image

    from ..image_io import join_alpha, pil_to_tensor, resize, split_alpha

    if loaded.task != Task.UPSCALE:
        raise WrongTaskError(f"model {loaded.spec.id!r} is a {loaded.spec.task.value} model, not an upscaler")
    if not isinstance(image, Image.Image):
        raise TypeError(f"upscale() takes a PIL image, not {type(image).__name__}")
    contract = loaded.contract
    model_scale = contract.scale
    outscale = float(model_scale) if scale is None else _check_scale(scale)
    tile = DEFAULT_UPSCALE_TILE if tile_size is None else int(tile_size)
    if tile < 16:
        raise UserInputError(f"tile size must be at least 16 px, got {tile_size!r}")
    width, height = image.size
    target = output_size(width, height, outscale)
    model_size = (width * model_scale, height * model_scale)
    if max(target[0] * target[1], model_size[0] * model_size[1]) > MAX_OUTPUT_PIXELS:
        raise UserInputError(f"a {width}×{height} image enlarged {outscale:g}× (the model works at {model_scale}×) "
                             f"would have more than {MAX_OUTPUT_PIXELS / 1e6:g} MP; choose a smaller scale or image")
    grey = image.mode in ("L", "LA", "I", "I;16", "F")
    rgb, alpha = split_alpha(image, background=ALPHA_BACKGROUND)
    rgb = rgb if rgb.mode == "RGB" else rgb.convert("RGB")
    x = (pil_to_tensor(rgb) + 1.0) / 2.0
    if alpha is not None:
        x = torch.cat([x, ((pil_to_tensor(alpha, channels=1) + 1.0) / 2.0).expand(-1, 3, -1, -1)])
    pad = tile_pad_for(contract, tile)
    report(progress, 0.0, f"upscaling {width}×{height} ×{model_scale}")
    with loaded.inference():
        arrays = upscale_tensor(loaded.forward, x, scale=model_scale, tile=tile, pad=pad,
                                multiple=contract.size_multiple, device=loaded.device, dtype=loaded.dtype,
                                progress=progress)
    out = Image.fromarray(arrays[0], mode="RGB")
    up_alpha = None
    if alpha is not None:  # back to one channel with the luma weights (what RealESRGANer's BGR2GRAY does)
        luma = arrays[1].astype(np.float32) @ np.asarray(ALPHA_LUMA, dtype=np.float32)
        up_alpha = Image.fromarray(np.clip(np.rint(luma), 0, 255).astype(np.uint8), mode="L")
    del arrays
    if out.size != target:
        out = resize(out, target)
        up_alpha = resize(up_alpha, target) if up_alpha is not None else None
    if grey:
        out = out.convert("L")
    notes: list[str] = []
    params = provenance(loaded, scale=outscale, model_scale=model_scale, tile_size=tile, tile_pad=pad,
                        input_size=[width, height])
    if outscale != model_scale:
        params["resize"] = "lanczos"
        notes.append(f"enlarged ×{model_scale} by the model, then resized to ×{outscale:g} (Lanczos)")
    source = resize(rgb.convert("L") if grey else rgb, target)
    if up_alpha is not None:
        out = join_alpha(out, up_alpha, background=ALPHA_BACKGROUND)
        source = join_alpha(source, up_alpha, background=ALPHA_BACKGROUND)
        params["alpha"] = "upscaled by the model alongside the colour"
        params["alpha_background"] = "white"
        notes.append("transparency kept: the alpha channel was upscaled by the model too")
    report(progress, 1.0, "done")
    return Result(out, params, notes=notes, source=source)
