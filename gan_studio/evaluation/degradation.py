"""Real-ESRGAN-style degradations: how a clean photo is made into a small, blurred, noisy, JPEG'd one.

Our implementation of the idea of Real-ESRGAN's second-order degradation model (Wang et al., 2021),
simplified (Gaussian kernels only, no sinc filter, no Poisson noise). Used by the ``photo-upscaler-x4``
recipe to make training inputs and by the upscale evaluation protocol (seeded) to make degraded
held-out inputs.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["SCALE", "bicubic_down", "degrade"]

SCALE = 4  # the enlargement the degradations undo


def _uniform(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def _gaussian_kernel(gen: torch.Generator, sigma_range: tuple[float, float]) -> torch.Tensor:
    """A random anisotropic, rotated Gaussian kernel (odd size 7…21), normalised to sum 1."""
    size = 2 * int(torch.randint(3, 11, (), generator=gen)) + 1
    sx, sy = _uniform(gen, *sigma_range), _uniform(gen, *sigma_range)
    theta = _uniform(gen, 0.0, math.pi)
    ax = torch.arange(size, dtype=torch.float32) - size // 2
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * xx + s * yy, -s * xx + c * yy
    k = torch.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))
    return k / k.sum()


def _blur(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    pad = kernel.shape[-1] // 2
    c = img.shape[1]
    weight = kernel[None, None].expand(c, 1, -1, -1)
    return F.conv2d(F.pad(img, (pad, pad, pad, pad), mode="reflect"), weight, groups=c)


def _resize(img: torch.Tensor, size: tuple[int, int], gen: torch.Generator) -> torch.Tensor:
    mode = ("area", "bilinear", "bicubic")[int(torch.randint(0, 3, (), generator=gen))]
    if mode == "area":
        return F.interpolate(img, size=size, mode="area")
    return F.interpolate(img, size=size, mode=mode, align_corners=False)


def _noise(img: torch.Tensor, gen: torch.Generator, sigma_range: tuple[float, float], grey_prob: float) -> torch.Tensor:
    sigma = _uniform(gen, *sigma_range) / 255.0
    if float(torch.rand((), generator=gen)) < grey_prob:
        n = torch.randn(img.shape[0], 1, *img.shape[2:], generator=gen).expand_as(img)
    else:
        n = torch.randn(img.shape, generator=gen)
    return img + sigma * n


def _jpeg(img: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG-compress (N, 3, H, W) in [0, 1] at ``quality`` with Pillow and decode it again."""
    from PIL import Image

    out = []
    arrays = (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for arr in arrays:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        with Image.open(buf) as im:
            out.append(torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0))
    return torch.stack(out).permute(0, 3, 1, 2)


def _one_round(img: torch.Tensor, gen: torch.Generator, *, blur_sigma: tuple[float, float],
               resize: tuple[float, float], noise_sigma: tuple[float, float], blur_prob: float) -> torch.Tensor:
    if float(torch.rand((), generator=gen)) < blur_prob:
        img = _blur(img, _gaussian_kernel(gen, blur_sigma))
    factor = _uniform(gen, *resize)
    h, w = img.shape[-2:]
    img = _resize(img, (max(8, round(h * factor)), max(8, round(w * factor))), gen)
    img = _noise(img, gen, noise_sigma, grey_prob=0.4).clamp(0, 1)
    return _jpeg(img, int(torch.randint(30, 96, (), generator=gen)))


def degrade(hr: torch.Tensor, gen: torch.Generator, *, second_order: float = 0.5) -> torch.Tensor:
    """A Real-ESRGAN-style degraded ×4 smaller version of ``hr`` (N, 3, H, W) in [0, 1] (H, W multiples
    of 4), drawn from ``gen``: one or two rounds of blur, resize, noise and JPEG, then the ×4 resize and
    a last JPEG. The whole batch shares one draw of the parameters."""
    h, w = hr.shape[-2:]
    img = _one_round(hr, gen, blur_sigma=(0.2, 3.0), resize=(0.15, 1.5), noise_sigma=(1.0, 30.0), blur_prob=1.0)
    if float(torch.rand((), generator=gen)) < second_order:
        img = _one_round(img, gen, blur_sigma=(0.2, 1.5), resize=(0.3, 1.2), noise_sigma=(1.0, 25.0), blur_prob=0.8)
    img = _resize(img, (h // SCALE, w // SCALE), gen).clamp(0, 1)
    return _jpeg(img, int(torch.randint(30, 96, (), generator=gen)))


def bicubic_down(hr: torch.Tensor) -> torch.Tensor:
    """The plain ×4 bicubic downscale (antialiased) of ``hr`` in [0, 1], quantised to 8 bits."""
    h, w = hr.shape[-2:]
    lr = F.interpolate(hr, size=(h // SCALE, w // SCALE), mode="bicubic", align_corners=False, antialias=True)
    return (lr.clamp(0, 1) * 255 + 0.5).floor() / 255


