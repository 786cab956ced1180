"""Bring your own photo: project an image into a StyleGAN's W (one style for every layer) or W+ (one
per layer), so it can be mixed and edited like a generated one.

The optimisation follows NVIDIA's ``projector.py`` in outline: start from the average style, Adam
with a learning rate ramped up then down, a small noise on the styles early on to escape poor
starts; the generator's noise inputs stay fixed (``const``). The loss is a pixel loss on the image
and on ×2 and ×4 downscaled copies (the coarse scales weigh colours and layout, the fine one
edges), plus, when VGG16's features are available (:mod:`gan_studio.perceptual`, safetensors from
the Hub, ~530 MB), a perceptual distance, which matches faces much better. ``loss="auto"`` uses the
perceptual distance only if the VGG16 file is already in the Hub cache; ``"perceptual"`` downloads
it; ``"pixel"`` never uses it. The result's parameters say which loss was used.

Projection is a loop of forward and backward passes; it reports progress every step, stops when
``stop`` is set (a cancel button) or when the step budget is spent, and returns the best styles
found so far.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UserInputError
from ..models import LoadedModel
from .common import ProgressFn, Result, provenance, report
from .styles import require_w_space

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = ["LOSSES", "LOSS_NOTE", "MAX_STEPS", "Projection", "project"]

MAX_STEPS = 1000
SPACES = ("w", "w+")
LOSSES = ("auto", "perceptual", "pixel")
LOSS_NOTE = ("perceptual loss (VGG16 features) when its weights are in the Hub cache, else a pixel loss (L2 on "
             "the image and its ×2, ×4 downscales), which matches faces in colour and layout more than in "
             "identity; the result's parameters say which was used")


@dataclass
class Projection:
    """What a projection found: the styles, the image they make, and how the loss went."""

    ws: torch.Tensor  # [1, num_ws, w_dim], on the CPU, fp32
    result: Result  # the generator's image for ws
    target: Image.Image  # the photo as the generator saw it (square, native size)
    losses: list[float] = field(default_factory=list)  # per step
    stopped: bool = False  # cancelled before the budget was spent


def _target_tensor(loaded: LoadedModel, image: Image.Image) -> tuple[torch.Tensor, Image.Image]:
    from ..image_io import center_crop, pil_to_tensor, resize

    side = loaded.contract.native_size or 256
    square = center_crop(image.convert("RGB"), min(image.size))
    square = resize(square, (side, side))
    channels = loaded.contract.out_channels
    return pil_to_tensor(square, channels=channels), square if channels == 3 else square.convert("L")


def _loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    import torch.nn.functional as F

    total = F.mse_loss(x, y)
    for factor in (2, 4):
        if min(x.shape[-2:]) >= 4 * factor:
            total = total + F.mse_loss(F.avg_pool2d(x, factor), F.avg_pool2d(y, factor))
    return total


def average_ws(loaded: LoadedModel, samples: int = 1000) -> torch.Tensor:
    """The mean style of ``samples`` latents drawn from seed 0 … (the projection's start)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    z = torch.randn(samples, loaded.contract.latent_dim, generator=gen).to(loaded.device, loaded.dtype)
    labels = None
    if loaded.contract.num_classes:
        labels = torch.randint(loaded.contract.num_classes, (samples,), generator=gen).to(loaded.device)
    with torch.no_grad():
        ws = loaded.module.map(z, labels).float()
    return ws.mean(dim=0, keepdim=True)


def _perceptual(loss: str) -> tuple[str, Any]:
    """``(loss used, the VGG16 features or None)`` for the ``loss`` asked for."""
    if loss not in LOSSES:
        raise UserInputError(f"unknown projection loss {loss!r}; choose one of: {', '.join(LOSSES)}")
    if loss == "pixel":
        return "pixel", None
    from ..errors import HubError
    from ..perceptual import load_vgg16

    try:
        return "perceptual", load_vgg16(download=loss == "perceptual")
    except HubError:
        if loss == "perceptual":
            raise
        return "pixel", None


def project(loaded: LoadedModel, image: Image.Image, *, steps: int = 100, space: str = "w", lr: float = 0.1,
            seed: int = 0, loss: str = "auto", progress: ProgressFn | None = None,
            stop: threading.Event | None = None) -> Projection:
    """Find styles whose image looks like ``image`` (centre square, at the model's native size);
    ``loss``: ``"auto"``, ``"perceptual"`` or ``"pixel"`` (module docstring)."""
    import torch

    from ..image_io import tensor_to_pil

    require_w_space(loaded)
    if space not in SPACES:
        raise UserInputError(f"unknown projection space {space!r}; choose one of: {', '.join(SPACES)}")
    used, vgg = _perceptual(loss)
    if not 1 <= steps <= MAX_STEPS:
        raise UserInputError(f"steps must be between 1 and {MAX_STEPS}, got {steps}")
    target, shown = _target_tensor(loaded, image)
    target = target.to(loaded.device, torch.float32)
    module = loaded.module
    num_ws = loaded.contract.num_ws
    start = average_ws(loaded)
    w_std = float(start.std()) or 1.0
    if space == "w":
        param = start[:, :1].clone().requires_grad_(True)
    else:
        param = start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([param], lr=lr, betas=(0.9, 0.999))
    gen = torch.Generator().manual_seed(int(seed))
    losses: list[float] = []
    best = (math.inf, param.detach().clone())
    stopped = False
    module.requires_grad_(False)
    for step in range(steps):
        if stop is not None and stop.is_set():
            stopped = True
            break
        t = step / max(steps - 1, 1)
        rate = lr * min(1.0, (1 - t) / 0.25) * min(1.0, t / 0.05) if steps > 1 else lr
        for group in optimiser.param_groups:
            group["lr"] = max(rate, lr * 0.01)
        noise_scale = w_std * 0.05 * max(0.0, 1 - t / 0.75) ** 2
        ws = param if space == "w+" else param.repeat(1, num_ws, 1)
        ws = ws + torch.randn(ws.shape, generator=gen).to(ws) * noise_scale
        with torch.enable_grad():
            out = module.synthesize(ws.to(loaded.dtype), "const").float()
            value_t = _loss(out, target)
            if vgg is not None:
                from ..perceptual import perceptual_distance

                value_t = value_t + perceptual_distance(vgg.to(out.device), out, target)
            optimiser.zero_grad(set_to_none=True)
            value_t.backward()  # type: ignore[no-untyped-call]  # torch.Tensor.backward is unannotated
        optimiser.step()
        value = float(value_t.detach())
        losses.append(value)
        if value < best[0]:
            best = (value, param.detach().clone())
        report(progress, (step + 1) / steps, f"step {step + 1}/{steps}: loss {value:.4f}")
    final = best[1] if space == "w+" else best[1].repeat(1, num_ws, 1)
    with loaded.inference():
        image_out = tensor_to_pil(module.synthesize(final.to(loaded.dtype), "const").float().cpu())[0]
    params = provenance(loaded, mode="projection", space=space, steps=len(losses), steps_asked=steps, lr=lr,
                        seed=seed, loss=used, final_loss=round(best[0], 6) if losses else None)
    return Projection(final.detach().float().cpu(), Result(image_out, params, source=shown), shown, losses, stopped)
