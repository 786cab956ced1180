"""Working in a style-based generator's W space: style mixing, interpolation in W, and semantic
directions found without training data (closed-form factorisation, SeFa).

A generator whose contract declares ``ws_resolutions`` (StyleGAN2/3, StyleGAN v1) maps z to one
style vector w per synthesis layer (``module.map``) and draws an image from them
(``module.synthesize``). Which layers count as *coarse*, *middle* or *fine* follows the StyleGAN
paper: the styles feeding 4–8 px, 16–32 px, and 64 px and up.

SeFa (Shen & Zhou, "Closed-Form Factorization of Latent Semantics in GANs", 2021): the style
(affine) weights of the chosen layers, each output channel's weight vector normalised, stacked into
A; the top eigenvectors of AᵀA are the directions in W that change those layers' styles most.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UserInputError, WrongTaskError
from ..models import LoadedModel
from .common import ProgressFn, Result, provenance, report, seeded
from .generation import class_for_seed, latent_dim, latent_for, num_classes_of, resolve_label, style_options

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = ["LAYER_GROUPS", "StyleMix", "direction_strips", "directions", "edit", "layer_indices", "style_mix",
           "w_interpolate"]

# layer group -> (smallest, largest) resolution of the styles it takes (the StyleGAN paper's split)
LAYER_GROUPS: dict[str, tuple[int, float]] = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, math.inf),
                                              "all": (1, math.inf)}
MAX_GRID = 8  # row and column seeds of a mixing grid, each
MAX_DIRECTIONS = 16


def require_w_space(loaded: LoadedModel) -> int:
    """The number of style vectors of ``loaded``; :class:`WrongTaskError` for a model without a W space."""
    num_ws = loaded.contract.num_ws
    if not num_ws:
        raise WrongTaskError(f"model {loaded.spec.id!r} ({loaded.architecture}) has no style space W; style mixing "
                             f"and directions need a StyleGAN")
    return num_ws


def layer_indices(loaded: LoadedModel, layers: str | Sequence[int]) -> list[int]:
    """The ws indices of a layer group (``coarse``, ``middle``, ``fine``, ``all``) or of explicit indices."""
    num_ws = require_w_space(loaded)
    resolutions = loaded.contract.ws_resolutions
    if isinstance(layers, str):
        if layers not in LAYER_GROUPS:
            raise UserInputError(f"unknown layer group {layers!r}; choose one of: {', '.join(LAYER_GROUPS)}")
        low, high = LAYER_GROUPS[layers]
        chosen = [i for i, r in enumerate(resolutions) if low <= r <= high]
        if not chosen:
            raise UserInputError(f"model {loaded.spec.id!r} has no {layers} layers: its styles feed "
                                 f"{min(resolutions)}–{max(resolutions)} px")
        return chosen
    chosen = sorted({int(i) for i in layers})
    if not chosen or chosen[0] < 0 or chosen[-1] >= num_ws:
        raise UserInputError(f"style layer indices must be in 0 … {num_ws - 1}, got {list(layers)}")
    return chosen


def _ws(loaded: LoadedModel, seeds: Sequence[int], label: int | str | None, truncation: float | None,
        truncation_cutoff: int | None) -> tuple[torch.Tensor, list[int | None]]:
    """ws [N, num_ws, w_dim] for seeds (with each seed's class for a conditional model)."""
    import torch

    nz = latent_dim(loaded)
    fixed = resolve_label(loaded, label)
    conditional = loaded.contract.num_classes > 0
    classes: list[int | None] = [
        (fixed if fixed is not None else class_for_seed(s, num_classes_of(loaded))) if conditional else None
        for s in seeds]
    z = torch.stack([latent_for(loaded, s, nz, truncation) for s in seeds]).to(loaded.device, loaded.dtype)
    labels = torch.tensor(classes, dtype=torch.long, device=loaded.device) if conditional else None
    psi = 1.0 if truncation is None else float(truncation)
    with loaded.inference():
        ws = loaded.module.map(z, labels, psi, truncation_cutoff)
    return ws.float(), classes  # fp32 styles for mixing and editing, whatever the autocast precision


def _z_images(loaded: LoadedModel, seeds: Sequence[int], label: int | str | None, truncation: float | None,
              deltas: Sequence[torch.Tensor]) -> list[Image.Image]:
    """Images of the seeds' latents moved by ``deltas`` in z (directions of a model without W)."""
    import torch

    from ..image_io import tensor_to_pil

    nz = latent_dim(loaded)
    fixed = resolve_label(loaded, label)
    z = torch.stack([latent_for(loaded, s, nz, truncation) + d.to(torch.float32) for s, d in zip(seeds, deltas)])
    labels = None
    if loaded.contract.num_classes:
        labels = torch.tensor([fixed if fixed is not None else class_for_seed(s, num_classes_of(loaded)) for s in seeds],
                              dtype=torch.long, device=loaded.device)
    with loaded.inference():
        out = loaded.forward(z.to(loaded.device, loaded.dtype)) if labels is None else \
            loaded.forward(z.to(loaded.device, loaded.dtype), labels)
    return tensor_to_pil(out.float().cpu())


def _images(loaded: LoadedModel, ws: torch.Tensor, noise_mode: str | None, seed: int) -> list[Image.Image]:
    from ..image_io import tensor_to_pil

    with loaded.inference(), seeded(seed, loaded.device):
        out = loaded.module.synthesize(ws, noise_mode or _default_noise(loaded))
    return tensor_to_pil(out.float().cpu())


def _default_noise(loaded: LoadedModel) -> str:
    modes = loaded.contract.noise_modes
    return "const" if "const" in modes or not modes else modes[0]


@dataclass
class StyleMix:
    """A style-mixing grid: the row and column sources and every mixed cell."""

    grid: Result  # the whole figure: column sources along the top, row sources down the left
    rows: list[Result]
    columns: list[Result]
    cells: list[list[Result]]  # cells[r][c]: row r's styles with column c's chosen layers


def style_mix(loaded: LoadedModel, *, row_seeds: Sequence[int], col_seeds: Sequence[int],
              layers: str | Sequence[int] = "coarse", label: int | str | None = None,
              truncation: float | None = None, truncation_cutoff: int | None = None,
              noise_mode: str | None = None, progress: ProgressFn | None = None) -> StyleMix:
    """The StyleGAN paper's style-mixing figure: each row seed's styles, with the ``layers``
    (``coarse`` 4–8 px, ``middle`` 16–32 px, ``fine`` 64 px and up, or indices) taken from each
    column seed."""
    from ..image_io import make_grid

    require_w_space(loaded)
    options = style_options(loaded, noise_mode, truncation_cutoff)
    noise = options.get("noise_mode")
    if not row_seeds or not col_seeds or len(row_seeds) > MAX_GRID or len(col_seeds) > MAX_GRID:
        raise UserInputError(f"give 1 to {MAX_GRID} row seeds and 1 to {MAX_GRID} column seeds, "
                             f"got {len(row_seeds)} and {len(col_seeds)}")
    chosen = layer_indices(loaded, layers)
    row_ws, _ = _ws(loaded, row_seeds, label, truncation, truncation_cutoff)
    col_ws, _ = _ws(loaded, col_seeds, label, truncation, truncation_cutoff)
    common = {"truncation": truncation, "truncation_cutoff": truncation_cutoff, "noise_mode": noise}

    def sources(ws: torch.Tensor, seeds: Sequence[int]) -> list[Result]:
        return [Result(im, provenance(loaded, seed=s, **common))
                for im, s in zip(_images(loaded, ws, noise, seeds[0]), seeds)]

    rows, columns = sources(row_ws, row_seeds), sources(col_ws, col_seeds)
    cells: list[list[Result]] = []
    for r, row_seed in enumerate(row_seeds):
        mixed = row_ws[r:r + 1].repeat(len(col_seeds), 1, 1)
        mixed[:, chosen] = col_ws[:, chosen]
        images = _images(loaded, mixed, noise, row_seed)
        cells.append([Result(im, provenance(loaded, mode="style-mix", seed=row_seed, style_seed=c,
                                            layers=layers if isinstance(layers, str) else chosen, **common))
                      for im, c in zip(images, col_seeds)])
        report(progress, (r + 1) / len(row_seeds), f"row {r + 1}/{len(row_seeds)}")
    from PIL import Image

    first = rows[0].image
    blank = Image.new(first.mode, first.size, 255 if first.mode == "L" else (255, 255, 255))
    figure = [blank] + [c.image for c in columns]
    for r, row in enumerate(cells):
        figure += [rows[r].image] + [c.image for c in row]
    grid = make_grid(figure, cols=len(col_seeds) + 1)
    params = provenance(loaded, mode="style-mix", row_seeds=list(row_seeds), col_seeds=list(col_seeds),
                        layers=layers if isinstance(layers, str) else chosen, **common)
    return StyleMix(Result(grid, params), rows, columns, cells)


def w_interpolate(loaded: LoadedModel, *, seed_a: int, seed_b: int, frames: int = 16, label: int | str | None = None,
                  truncation: float | None = None, noise_mode: str | None = None,
                  progress: ProgressFn | None = None) -> list[Result]:
    """``frames`` images along the straight line in W from ``w(seed_a)`` to ``w(seed_b)``."""
    import torch

    require_w_space(loaded)
    if not 2 <= frames <= 240:
        raise UserInputError(f"frames must be between 2 and 240, got {frames}")
    noise = style_options(loaded, noise_mode, None).get("noise_mode")
    ws, classes = _ws(loaded, [seed_a, seed_b], label, truncation, None)
    ts = [i / (frames - 1) for i in range(frames)]
    results: list[Result] = []
    for start in range(0, frames, 16):
        chunk = ts[start:start + 16]
        t = torch.tensor(chunk, device=ws.device, dtype=ws.dtype).view(-1, 1, 1)
        images = _images(loaded, torch.lerp(ws[0:1], ws[1:2], t), noise, seed_a)  # exact at both ends
        for image, tt in zip(images, chunk):
            results.append(Result(image, provenance(
                loaded, mode="interpolate", space="w", seed_a=seed_a, seed_b=seed_b, t=round(tt, 6), frames=frames,
                truncation=truncation, noise_mode=noise,
                label=None if classes[0] is None else (loaded.spec.labels[classes[0]]
                                                       if classes[0] < len(loaded.spec.labels) else str(classes[0])))))
        report(progress, len(results) / frames, f"frame {len(results)}/{frames}")
    return results


def in_z(loaded: LoadedModel, layers: str | Sequence[int]) -> bool:
    """Whether directions of ``loaded`` live in z (a ProGAN: no W, its first layer reads z), not W."""
    if loaded.contract.num_ws:
        return False
    if not loaded.contract.latent_directions:
        require_w_space(loaded)  # raises, naming the model
    if layers != "all":
        raise UserInputError(f"model {loaded.spec.id!r} has no style layers: its directions are in z, "
                             f"for the whole image (layers 'all'), got {layers!r}")
    return True


def directions(loaded: LoadedModel, *, k: int = 5, layers: str | Sequence[int] = "all") -> tuple[torch.Tensor, list[float]]:
    """The top-``k`` SeFa directions for the style layers ``layers``: unit vectors [k, w_dim] in W and
    their eigenvalues (how strongly each moves those layers' styles); for a ProGAN, [k, z_dim] in z
    from its first layer, as the SeFa paper does."""
    import torch

    if not 1 <= k <= MAX_DIRECTIONS:
        raise UserInputError(f"k (directions) must be between 1 and {MAX_DIRECTIONS}, got {k}")
    if in_z(loaded, layers):
        weights = [w.detach().float().cpu() for w in loaded.module.latent_affines()]
    else:
        chosen = set(layer_indices(loaded, layers))
        weights = [w.detach().float().cpu() for index, w in loaded.module.style_affines() if index in chosen]
    a = torch.cat(weights, dim=0)  # [channels of all chosen layers, w_dim]
    a = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    values, vectors = torch.linalg.eigh(a.T @ a)  # ascending
    order = torch.argsort(values, descending=True)[:k]
    return vectors[:, order].T.contiguous(), [float(v) for v in values[order]]


def edit(loaded: LoadedModel, *, seed: int, amounts: Sequence[float], k: int | None = None,
         layers: str | Sequence[int] = "all", label: int | str | None = None, truncation: float | None = None,
         noise_mode: str | None = None, ws: torch.Tensor | None = None) -> Result:
    """The image of ``seed`` (or of the styles ``ws`` [1, num_ws, w_dim], e.g. a projected photo's)
    moved along the SeFa directions by ``amounts`` (one per direction, in units of the direction's
    length in W) on the ``layers`` it was found for."""
    import torch

    if not amounts:
        raise UserInputError("give at least one amount (one per direction)")
    dirs, _ = directions(loaded, k=k or len(amounts), layers=layers)
    if len(amounts) > dirs.shape[0]:
        raise UserInputError(f"{len(amounts)} amounts for {dirs.shape[0]} directions")
    if in_z(loaded, layers):
        if ws is not None:
            raise UserInputError(f"model {loaded.spec.id!r} has no style space: a projected photo cannot be edited")
        delta_z = torch.stack([float(a) * dirs[i] for i, a in enumerate(amounts)]).sum(dim=0)
        image = _z_images(loaded, [seed], label, truncation, [delta_z])[0]
        return Result(image, provenance(loaded, mode="edit", seed=seed, space="z",
                                        directions=[round(float(a), 4) for a in amounts], truncation=truncation))
    chosen = layer_indices(loaded, layers)
    noise = style_options(loaded, noise_mode, None).get("noise_mode")
    projected = ws is not None
    if ws is None:
        ws, _ = _ws(loaded, [seed], label, truncation, None)
    elif tuple(ws.shape[1:]) != (loaded.contract.num_ws, ws.shape[-1]) or ws.shape[0] != 1:
        raise UserInputError(f"styles must have shape (1, {loaded.contract.num_ws}, w_dim), got {tuple(ws.shape)}")
    else:
        ws = ws.to(loaded.device, torch.float32)
    delta = sum(float(a) * dirs[i] for i, a in enumerate(amounts)).to(ws.device, ws.dtype)  # type: ignore[union-attr]
    ws = ws.clone()
    ws[:, chosen] += delta
    image = _images(loaded, ws, noise, seed)[0]
    params = provenance(loaded, mode="edit", seed=None if projected else seed, projected=projected or None,
                        directions=[round(float(a), 4) for a in amounts],
                        layers=layers if isinstance(layers, str) else chosen, truncation=truncation, noise_mode=noise)
    return Result(image, params)


def direction_strips(loaded: LoadedModel, *, seed: int, k: int = 5, steps: int = 5, max_amount: float = 5.0,
                     layers: str | Sequence[int] = "all", truncation: float | None = None,
                     noise_mode: str | None = None, progress: ProgressFn | None = None) -> Result:
    """A preview grid: one row per SeFa direction, the image of ``seed`` moved from ``-max_amount`` to
    ``+max_amount`` in ``steps`` steps along it."""
    import torch

    from ..image_io import make_grid

    if not 3 <= steps <= 11:
        raise UserInputError(f"steps must be between 3 and 11, got {steps}")
    dirs, values = directions(loaded, k=k, layers=layers)
    amounts = torch.linspace(-max_amount, max_amount, steps)
    tiles: list[Any] = []
    if in_z(loaded, layers):
        for d in range(dirs.shape[0]):
            tiles += _z_images(loaded, [seed] * steps, None, truncation, [float(a) * dirs[d] for a in amounts])
            report(progress, (d + 1) / dirs.shape[0], f"direction {d + 1}/{dirs.shape[0]}")
        params = provenance(loaded, mode="directions", space="z", seed=seed, k=k, steps=steps, max_amount=max_amount,
                            layers=layers, truncation=truncation, eigenvalues=[round(v, 4) for v in values])
        return Result(make_grid(tiles, cols=steps), params)
    chosen = layer_indices(loaded, layers)
    noise = style_options(loaded, noise_mode, None).get("noise_mode")
    ws, _ = _ws(loaded, [seed], None, truncation, None)
    for d in range(dirs.shape[0]):
        batch = ws.repeat(steps, 1, 1)
        batch[:, chosen] += (amounts.view(-1, 1) * dirs[d].view(1, -1)).to(ws.device, ws.dtype)[:, None]
        tiles += _images(loaded, batch, noise, seed)
        report(progress, (d + 1) / dirs.shape[0], f"direction {d + 1}/{dirs.shape[0]}")
    params = provenance(loaded, mode="directions", seed=seed, k=k, steps=steps, max_amount=max_amount,
                        layers=layers if isinstance(layers, str) else chosen, truncation=truncation,
                        noise_mode=noise, eigenvalues=[round(v, 4) for v in values])
    return Result(make_grid(tiles, cols=steps), params)
