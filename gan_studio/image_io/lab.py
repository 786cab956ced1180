"""Lab colour for the colorizer: sRGB, D65, 2° observer, the formulas of ``skimage.color``
(``rgb2lab``/``lab2rgb``), with ``L/50 - 1`` and ``ab/110`` scaling.

torch is imported inside the functions, so importing :mod:`gan_studio.image_io` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "LAB_BAND_ROWS",
    "denormalize_ab",
    "denormalize_l",
    "lab_to_rgb",
    "merge_lab",
    "normalize_ab",
    "normalize_l",
    "rgb_to_lab",
    "split_luminance",
]

_XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def _lab_dtype(x: torch.Tensor) -> torch.dtype:
    import torch

    if not torch.is_floating_point(x):
        raise TypeError(f"expected a floating-point tensor, got {x.dtype}")
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _check_channels(x: torch.Tensor, what: str) -> None:
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"{what} must have shape (N, 3, H, W) (or (3, H, W)), got {tuple(x.shape)}")


def _apply_matrix(matrix: np.ndarray, x: torch.Tensor) -> torch.Tensor:
    import torch

    m = torch.as_tensor(matrix, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,...jhw->...ihw", m, x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(N, 3, H, W)`` in ``[0, 1]`` -> CIE Lab: L in [0, 100], a and b roughly in [-110, 110].

    Matches ``skimage.color.rgb2lab`` (D65, 2°) to float precision; differentiable.
    """
    import torch

    _check_channels(rgb, "rgb")
    dtype = _lab_dtype(rgb)
    x = rgb.to(dtype)
    linear = torch.where(x > 0.04045, ((x.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = _apply_matrix(_XYZ_FROM_RGB, linear)
    white = torch.as_tensor(_D65_WHITE, dtype=dtype, device=x.device).view(3, 1, 1)
    t = xyz / white
    f = torch.where(t > 0.008856, t.clamp(min=0.008856) ** (1.0 / 3.0), 7.787 * t + 16.0 / 116.0)
    fx, fy, fz = f.unbind(dim=-3)
    lab = torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)
    return lab.to(rgb.dtype)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab ``(N, 3, H, W)`` -> sRGB in ``[0, 1]`` (clamped). Matches ``skimage.color.lab2rgb``.

    Like skimage, a negative Z (colours far outside the gamut) is clipped to zero.
    """
    import torch

    _check_channels(lab, "lab")
    dtype = _lab_dtype(lab)
    x = lab.to(dtype)
    L, a, b = x.unbind(dim=-3)
    fy = (L + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = (fy - b / 200.0).clamp(min=0.0)
    f = torch.stack((fx, fy, fz), dim=-3)
    t = torch.where(f > 0.2068966, f**3, (f - 16.0 / 116.0) / 7.787)
    white = torch.as_tensor(_D65_WHITE, dtype=dtype, device=x.device).view(3, 1, 1)
    linear = _apply_matrix(_RGB_FROM_XYZ, t * white)
    rgb = torch.where(
        linear > 0.0031308, 1.055 * linear.clamp(min=0.0031308) ** (1.0 / 2.4) - 0.055, linear * 12.92
    )
    return rgb.clamp(0.0, 1.0).to(lab.dtype)


def normalize_l(L: Any) -> Any:
    """L* in [0, 100] -> the colorizer's input scale [-1, 1] (``L / 50 - 1``)."""
    return L / 50.0 - 1.0


def denormalize_l(L: Any) -> Any:
    """Inverse of :func:`normalize_l`."""
    return (L + 1.0) * 50.0


def normalize_ab(ab: Any) -> Any:
    """a*, b* -> the colorizer's output scale (``ab / 110``)."""
    return ab / 110.0


def denormalize_ab(ab: Any) -> Any:
    """Inverse of :func:`normalize_ab`."""
    return ab * 110.0


#: Rows converted at a time by :func:`split_luminance` and :func:`merge_lab`: the colour maths runs
#: on bands, so a 12 MP photo needs a few bands' worth of float memory, not ~100 MB per megapixel.
LAB_BAND_ROWS = 256


def split_luminance(img: Image.Image) -> torch.Tensor:
    """The normalised luminance ``L / 50 - 1`` of an image as a ``(1, 1, H, W)`` float32 tensor."""
    import torch

    arr = np.asarray(img.convert("RGB"))
    out = torch.empty((1, 1, arr.shape[0], arr.shape[1]), dtype=torch.float32)
    for y in range(0, arr.shape[0], LAB_BAND_ROWS):
        band = torch.from_numpy(np.array(arr[y:y + LAB_BAND_ROWS])).permute(2, 0, 1)[None]  # writable copy
        out[:, :, y:y + LAB_BAND_ROWS] = normalize_l(rgb_to_lab(band.to(torch.float32).div_(255.0))[:, :1])
    return out


def merge_lab(L_full: torch.Tensor, ab_full: torch.Tensor) -> Image.Image:
    """Combine normalised ``L`` ``(1, 1, H, W)`` and ``ab`` ``(1, 2, h, w)`` into an RGB image.

    ``ab`` is upsampled bilinearly to ``L``'s size when the colorizer ran at a lower resolution,
    so the full-resolution luminance is kept. Works in bands of :data:`LAB_BAND_ROWS` rows.
    """
    import torch
    import torch.nn.functional as F

    if L_full.ndim != 4 or L_full.shape[:2] != (1, 1):
        raise ValueError(f"L_full must have shape (1, 1, H, W), got {tuple(L_full.shape)}")
    if ab_full.ndim != 4 or ab_full.shape[:2] != (1, 2):
        raise ValueError(f"ab_full must have shape (1, 2, H, W), got {tuple(ab_full.shape)}")
    L = L_full.detach().to("cpu", torch.float32)
    ab = ab_full.detach().to("cpu", torch.float32)
    if ab.shape[-2:] != L.shape[-2:]:
        ab = F.interpolate(ab, size=tuple(L.shape[-2:]), mode="bilinear", align_corners=False)
    height, width = L.shape[-2:]
    out = np.empty((height, width, 3), dtype=np.uint8)
    for y in range(0, height, LAB_BAND_ROWS):
        lab = torch.cat((denormalize_l(L[..., y:y + LAB_BAND_ROWS, :]),
                         denormalize_ab(ab[..., y:y + LAB_BAND_ROWS, :])), dim=1)
        rgb = lab_to_rgb(lab).mul_(255.0).round_().to(torch.uint8)
        out[y:y + LAB_BAND_ROWS] = rgb[0].permute(1, 2, 0).numpy()
    return Image.fromarray(out, "RGB")
