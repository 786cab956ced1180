"""ProGAN (PGGAN) in genforce's layout (``models/pggan_generator.py`` of genforce/genforce, the layout
of the HugGAN port ``huggan/pggan-celebahq-1024``), key for key and number for number.

The state-dict keys are genforce's:

* ``lod``: the level of detail (a float buffer; 0 = full resolution, what published models hold).
* ``layer{2i}``, ``layer{2i+1}`` (``weight``, ``bias``) for block ``i`` at ``4·2^i`` px: ``layer0`` is
  the "dense" layer, a 4×4 convolution with padding 3 applied to the 1×1 latent; every later even
  layer upsamples (nearest, or with ``fused_scale`` a stride-2 transposed convolution whose weight
  ``[in, out, 3, 3]`` is padded and summed into 4×4) and convolves 3×3; odd layers convolve 3×3.
* ``output{i}`` (``weight``, ``bias``): the 1×1 ToRGB convolution of block ``i``.

Every layer starts by normalising its input per pixel (``x / sqrt(mean_c(x²) + 1e-8)``, so z is
normalised too), uses weight scaling (weights stored ~N(0, 1), used times ``gain / sqrt(fan_in)``,
gain √2, 1 for ToRGB) and a leaky ReLU (0.2; ToRGB is linear). With ``lod`` > 0 the image is grown
as during progressive training: the blocks above the level of detail are skipped, a fractional lod
blends the last ToRGB with the nearest-upsampled image of the block before.

The helpers here (:func:`pixel_norm`, :func:`grow_image`) are shared with
:mod:`.stylegan1`, genforce's StyleGAN being built on the same progressive skeleton.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator, class_vector

__all__ = ["PGGANGenerator", "check_resolution", "feature_maps", "grow_image", "pixel_norm"]

RESOLUTIONS = (8, 16, 32, 64, 128, 256, 512, 1024)  # genforce's allowed resolutions
INIT_RES = 4
WSCALE_GAIN = math.sqrt(2.0)


def check_resolution(resolution: int) -> None:
    """Raise ``ValueError`` unless ``resolution`` is one genforce allows."""
    if resolution not in RESOLUTIONS or isinstance(resolution, bool):
        raise ValueError(f"resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {resolution!r}")


def check_positive(**values: int) -> None:
    """Raise ``ValueError`` naming the first value that is not a positive int."""
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def feature_maps(res: int, *, fmaps_base: int, fmaps_max: int) -> int:
    """genforce's channel count at resolution ``res``: ``min(fmaps_base // res, fmaps_max)``, at least 1."""
    channels = min(fmaps_base // res, fmaps_max)
    if channels < 1:
        raise ValueError(f"fmaps_base={fmaps_base} leaves no channels at {res} px")
    return channels


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """genforce's ``PixelNormLayer``: divide by the root mean square over channels (dim 1)."""
    return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + eps)


def upsample_nearest(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


def grow_image(x: torch.Tensor | None, lod: float, num_blocks: int,
               run_block: Callable[[int, torch.Tensor | None], torch.Tensor],
               to_rgb: Callable[[int, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """genforce's progressive loop: run the blocks up to level of detail ``lod`` (0 = all of them),
    take the ToRGB image of the last one run, blending (for a fractional lod) the last ToRGB with the
    nearest-upsampled image of the block before, and upsample it to the full resolution."""
    if not 0 <= lod <= num_blocks - 1:
        raise ValueError(f"the level of detail (lod) must be in [0, {num_blocks - 1}], got {lod}")
    image: torch.Tensor | None = None
    for block in range(num_blocks):
        current_lod = num_blocks - 1 - block
        if lod < current_lod + 1:
            x = run_block(block, x)
        assert x is not None
        if current_lod - 1 < lod <= current_lod:
            image = to_rgb(block, x)
        elif current_lod < lod < current_lod + 1:
            assert image is not None  # block 0 has current_lod = num_blocks - 1 >= lod
            alpha = math.ceil(lod) - lod
            image = to_rgb(block, x) * alpha + upsample_nearest(image) * (1 - alpha)
        elif image is not None:  # lod >= current_lod + 1
            image = upsample_nearest(image)
    assert image is not None
    return image


class ConvBlock(nn.Module):
    """genforce's PGGAN ``ConvBlock``: pixel norm, (upsample), weight-scaled convolution, bias, activation."""

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int = 3, padding: int = 1,
                 upsample: bool = False, fused_scale: bool = False, use_wscale: bool = True,
                 wscale_gain: float = WSCALE_GAIN, activation: str = "lrelu") -> None:
        super().__init__()
        self.upsample, self.activation = upsample, activation
        self.transpose = upsample and fused_scale
        self.stride, self.padding = (2, 1) if self.transpose else (1, padding)
        shape = (in_channels, out_channels) if self.transpose else (out_channels, in_channels)
        wscale = wscale_gain / math.sqrt(kernel_size * kernel_size * in_channels)
        self.weight = nn.Parameter(torch.randn(*shape, kernel_size, kernel_size) * (1.0 if use_wscale else wscale))
        self.wscale = wscale if use_wscale else 1.0
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(x)
        weight = self.weight * self.wscale
        if self.transpose:
            weight = F.pad(weight, (1, 1, 1, 1))
            weight = weight[:, :, 1:, 1:] + weight[:, :, :-1, 1:] + weight[:, :, 1:, :-1] + weight[:, :, :-1, :-1]
            x = F.conv_transpose2d(x, weight, self.bias, stride=self.stride, padding=self.padding)
        else:
            if self.upsample:
                x = upsample_nearest(x)
            x = F.conv2d(x, weight, self.bias, stride=self.stride, padding=self.padding)
        return F.leaky_relu(x, 0.2) if self.activation == "lrelu" else x


class PGGANGenerator(Generator):
    """ProGAN ``G(z, labels=None)`` -> images [N, image_channels, resolution, resolution] in about [-1, 1].

    The constructor arguments are genforce's ``PGGANGenerator`` arguments (``huggan/pggan-celebahq-1024``:
    ``resolution=1024``, the rest the defaults).

    Args:
        resolution: output side, one of 8, 16, …, 1024.
        z_space_dim: latent length (512).
        image_channels: output channels (3).
        final_tanh: squash the image with tanh (False: the published models output about [-1, 1] unclamped).
        label_size: classes of a conditional model (one-hot labels concatenated to z); 0 = unconditional.
        fused_scale: upsample with a stride-2 transposed convolution instead of nearest + conv (False).
        use_wscale: weights stored ~N(0, 1) and scaled at run time (True, as published).
        fmaps_base: channels at resolution r are ``min(fmaps_base // r, fmaps_max)`` (16384).
        fmaps_max: the most channels of a layer (512).
    """

    architecture = "pggan"
    default_task = Task.UNCONDITIONAL
    has_latent_directions = True
    lod: torch.Tensor

    def __init__(self, resolution: int = 1024, z_space_dim: int = 512, image_channels: int = 3,
                 final_tanh: bool = False, label_size: int = 0, fused_scale: bool = False, use_wscale: bool = True,
                 fmaps_base: int = 16 << 10, fmaps_max: int = 512) -> None:
        super().__init__()
        check_resolution(resolution)
        check_positive(z_space_dim=z_space_dim, image_channels=image_channels, fmaps_base=fmaps_base,
                       fmaps_max=fmaps_max)
        if not isinstance(label_size, int) or isinstance(label_size, bool) or label_size < 0:
            raise ValueError(f"label_size must be an int >= 0, got {label_size!r}")
        for name, flag in (("final_tanh", final_tanh), ("fused_scale", fused_scale), ("use_wscale", use_wscale)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be true or false, got {flag!r}")
        self.resolution, self.z_space_dim, self.image_channels = resolution, z_space_dim, image_channels
        self.label_size, self.final_tanh = label_size, final_tanh
        self.num_blocks = int(math.log2(resolution)) - int(math.log2(INIT_RES)) + 1
        self.register_buffer("lod", torch.zeros(()))

        nf = functools.partial(feature_maps, fmaps_base=fmaps_base, fmaps_max=fmaps_max)

        for block in range(self.num_blocks):
            res = INIT_RES * 2**block
            if block == 0:
                first = ConvBlock(z_space_dim + label_size, nf(res), kernel_size=INIT_RES, padding=INIT_RES - 1,
                                  use_wscale=use_wscale)
            else:
                first = ConvBlock(nf(res // 2), nf(res), upsample=True, fused_scale=fused_scale, use_wscale=use_wscale)
            self.add_module(f"layer{2 * block}", first)
            self.add_module(f"layer{2 * block + 1}", ConvBlock(nf(res), nf(res), use_wscale=use_wscale))
            self.add_module(f"output{block}", ConvBlock(nf(res), image_channels, kernel_size=1, padding=0,
                                                        use_wscale=use_wscale, wscale_gain=1.0, activation="linear"))

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.CONDITIONAL if self.label_size else Task.UNCONDITIONAL,
                        latent_dim=self.z_space_dim, num_classes=self.label_size, truncation="trick",
                        out_channels=self.image_channels, native_size=self.resolution, latent_directions=True,
                        auto_bf16=False)  # bf16 not measured (bench/): fp32 unless asked

    def latent_affines(self) -> list[torch.Tensor]:
        """``layer0``'s weight as [out·4·4, z_space_dim]: how each first feature reads z (SeFa on ProGAN
        factorises it; the class columns of a conditional model are left out)."""
        weight: torch.Tensor = self.get_parameter("layer0.weight")  # [out, z + labels, 4, 4]
        return [weight.permute(0, 2, 3, 1).reshape(-1, weight.shape[1])[:, :self.z_space_dim]]

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images from z [N, z_space_dim] (or [N, z_space_dim, 1, 1]) and, if conditional, int64 class labels [N]."""
        n = z.shape[0]
        if z.numel() != n * self.z_space_dim:
            raise ValueError(f"z must have shape (N, {self.z_space_dim}), got {tuple(z.shape)}")
        x = pixel_norm(z.reshape(n, self.z_space_dim))
        label = class_vector(labels, self.label_size, n, name="PGGAN", size_name="label_size")
        if label is not None:
            x = torch.cat((x, label.to(x.dtype)), dim=1)
        x = x.reshape(n, -1, 1, 1)

        def run_block(block: int, h: torch.Tensor | None) -> torch.Tensor:
            out: torch.Tensor = getattr(self, f"layer{2 * block + 1}")(getattr(self, f"layer{2 * block}")(h))
            return out

        def to_rgb(block: int, h: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = getattr(self, f"output{block}")(h)
            return out

        image = grow_image(x, float(self.lod), self.num_blocks, run_block, to_rgb)
        return torch.tanh(image) if self.final_tanh else image
