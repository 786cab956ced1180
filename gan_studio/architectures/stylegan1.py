"""StyleGAN (v1) in genforce's layout (``models/stylegan_generator.py`` of genforce/genforce, the layout
of the HugGAN port ``huggan/stylegan_animeface512``), key for key and number for number.

The state-dict keys are genforce's:

* ``mapping.dense{0..mapping_layers-1}`` (``weight`` stored / ``mapping_lr_mul``, ``bias``) and, for a
  conditional model, ``mapping.label_weight`` [label_size, z_space_dim] (the one-hot label's
  embedding, concatenated to z before the pixel norm).
* ``truncation.w_avg``: the mean W (``w_space_dim``, or ``num_layers · w_space_dim`` without ``repeat_w``).
* ``synthesis.lod`` (level of detail, 0 for published models); per block ``i`` at ``4·2^i`` px the
  layers ``synthesis.layer{2i}`` and ``synthesis.layer{2i+1}``, each with ``weight`` (not ``layer0``
  when ``const_input``: it has ``const`` [1, C, 4, 4] instead), ``bias``, ``apply_noise.{noise,weight}``
  (the stored noise and its per-channel strength), ``style.{weight,bias}`` (the affine map of w to a
  per-channel scale and shift), and on upsampling layers ``blur.kernel`` ([1,2,1]ᵀ[1,2,1] / 16 per
  channel); ``synthesis.output{i}`` (``weight``, ``bias``): the 1×1 ToRGB convolution.

The forward pass is genforce's: z (with the label embedding) normalised per pixel, the mapping MLP
(weight-scaled dense layers, leaky ReLU 0.2 on every one), w broadcast to one code per layer and
truncated towards ``w_avg``, then per layer: (nearest ×2 upsampling and a 3×3 convolution, or with
``fused_scale`` a stride-2 transposed convolution of the 4×4 summed kernel) and the blur, noise
times its strength, bias, leaky ReLU, instance norm (eps 1e-8), ``x · (1 + scale) + shift``; the
image is the last block's ToRGB (grown with the level of detail as in :mod:`.pggan`).

Truncation: ``truncation`` ψ and ``truncation_cutoff`` are genforce's ``trunc_psi`` and
``trunc_layers`` with two differences the studio needs: ``truncation_cutoff=None`` truncates every
layer (genforce's ``trunc_layers=None`` truncates none; its ``synthesize.py`` uses 8), and ψ > 1
extrapolates away from the mean (genforce ignores ψ ≥ 1).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator, class_vector
from .pggan import INIT_RES, WSCALE_GAIN, check_positive, check_resolution, feature_maps, grow_image, pixel_norm

__all__ = ["StyleGANv1Generator"]

NOISE_MODES = ("const", "random", "none")
NOISE_TYPES = ("spatial", "channel")
AUTO_FUSED_SCALE_MIN_RES = 128  # fused_scale="auto": transposed convolutions from 128 px on


def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    x = x - torch.mean(x, dim=[2, 3], keepdim=True)
    return x / torch.sqrt(torch.mean(x**2, dim=[2, 3], keepdim=True) + eps)


class DenseBlock(nn.Module):
    """A weight-scaled dense layer with leaky ReLU (genforce's ``DenseBlock``)."""

    def __init__(self, in_channels: int, out_channels: int, *, use_wscale: bool = True, lr_mul: float = 1.0) -> None:
        super().__init__()
        wscale = WSCALE_GAIN / math.sqrt(in_channels)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels) * ((1.0 if use_wscale else wscale) / lr_mul))
        self.wscale = wscale * lr_mul if use_wscale else lr_mul
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.bscale = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(F.linear(x, self.weight * self.wscale, self.bias * self.bscale), 0.2)


class MappingModule(nn.Module):
    """z (+ label embedding) -> pixel norm -> ``dense0 … dense{n-1}`` -> w."""

    def __init__(self, z_dim: int, hidden: int, out_dim: int, label_size: int, num_layers: int, *,
                 use_wscale: bool, lr_mul: float) -> None:
        super().__init__()
        self.num_layers, self.label_size = num_layers, label_size
        for i in range(num_layers):
            in_channels = z_dim * (2 if label_size else 1) if i == 0 else hidden
            self.add_module(f"dense{i}", DenseBlock(in_channels, out_dim if i == num_layers - 1 else hidden,
                                                    use_wscale=use_wscale, lr_mul=lr_mul))
        if label_size:
            self.label_weight = nn.Parameter(torch.randn(label_size, z_dim))

    def forward(self, z: torch.Tensor, label: torch.Tensor | None) -> torch.Tensor:
        if label is not None:
            z = torch.cat((z, torch.matmul(label.to(z.dtype), self.label_weight)), dim=1)
        w = pixel_norm(z)
        for i in range(self.num_layers):
            w = getattr(self, f"dense{i}")(w)
        return w


class TruncationModule(nn.Module):
    """Holds ``w_avg``; turns w into one code per layer and truncates the first ``cutoff`` towards ``w_avg``."""

    w_avg: torch.Tensor

    def __init__(self, w_dim: int, num_layers: int, repeat_w: bool) -> None:
        super().__init__()
        self.w_dim, self.num_layers, self.repeat_w = w_dim, num_layers, repeat_w
        self.register_buffer("w_avg", torch.zeros(w_dim if repeat_w else num_layers * w_dim))

    def forward(self, w: torch.Tensor, psi: float = 1.0, cutoff: int | None = None) -> torch.Tensor:
        if self.repeat_w:
            wp = w.reshape(-1, 1, self.w_dim).repeat(1, self.num_layers, 1)
        else:
            wp = w.reshape(-1, self.num_layers, self.w_dim)
        cutoff = self.num_layers if cutoff is None else cutoff
        if psi != 1 and cutoff > 0:  # genforce's arithmetic: every layer, those past the cutoff times 1
            coefs = torch.ones(1, self.num_layers, 1, dtype=torch.float32)
            coefs[:, :cutoff] *= psi
            w_avg = self.w_avg.reshape(1, -1, self.w_dim)
            wp = w_avg + (wp - w_avg) * coefs.to(wp)
        return wp


class NoiseApplyingLayer(nn.Module):
    """The stored ``noise`` (or fresh noise, or none) times the learned ``weight``."""

    noise: torch.Tensor

    def __init__(self, resolution: int, channels: int, noise_type: str) -> None:
        super().__init__()
        self.resolution, self.channels, self.noise_type = resolution, channels, noise_type
        if noise_type == "spatial":
            self.register_buffer("noise", torch.randn(1, 1, resolution, resolution))
            self.weight = nn.Parameter(torch.zeros(channels))
        else:
            self.register_buffer("noise", torch.randn(1, channels, 1, 1))
            self.weight = nn.Parameter(torch.zeros(resolution, resolution))

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if noise_mode == "none":
            return x
        if noise_mode == "random":
            shape = (x.shape[0], *self.noise.shape[1:])
            noise = torch.randn(shape, device=x.device, dtype=x.dtype)
        else:
            noise = self.noise.to(x.dtype)
        if self.noise_type == "spatial":
            return x + noise * self.weight.reshape(1, self.channels, 1, 1)
        return x + noise * self.weight.reshape(1, 1, self.resolution, self.resolution)


class StyleModLayer(nn.Module):
    """w -> (scale, shift) per channel by a weight-scaled affine map; ``x · (scale + 1) + shift``."""

    def __init__(self, w_dim: int, channels: int, use_wscale: bool) -> None:
        super().__init__()
        self.channels = channels
        wscale = 1.0 / math.sqrt(w_dim)
        self.weight = nn.Parameter(torch.randn(channels * 2, w_dim) * (1.0 if use_wscale else wscale))
        self.wscale = wscale if use_wscale else 1.0
        self.bias = nn.Parameter(torch.zeros(channels * 2))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        style = F.linear(w, self.weight * self.wscale, self.bias).reshape(-1, 2, self.channels, 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]


class BlurLayer(nn.Module):
    """Depthwise 3×3 blur with the stored ``kernel`` ([1,2,1]ᵀ[1,2,1] / 16 per channel)."""

    kernel: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = torch.outer(taps, taps)
        self.register_buffer("kernel", (kernel / kernel.sum()).expand(channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel.to(x.dtype), padding=1, groups=x.shape[1])


class ConvBlock(nn.Module):
    """genforce's StyleGAN ``ConvBlock``; ``position`` ``"const_init"`` (the learned constant),
    ``"last"`` (ToRGB: 1×1 convolution + bias only) or None (a styled convolution layer)."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, w_dim: int, *,
                 position: str | None = None, kernel_size: int = 3, padding: int = 1, upsample: bool = False,
                 fused_scale: bool = False, use_wscale: bool = True, wscale_gain: float = WSCALE_GAIN,
                 noise_type: str = "spatial") -> None:
        super().__init__()
        self.position, self.upsample, self.padding = position, upsample, padding
        self.transpose = upsample and fused_scale
        self.bias = nn.Parameter(torch.zeros(out_channels))
        if position != "last":
            self.apply_noise = NoiseApplyingLayer(resolution, out_channels, noise_type)
            self.style = StyleModLayer(w_dim, out_channels, use_wscale)
        if position == "const_init":
            self.const = nn.Parameter(torch.ones(1, in_channels, resolution, resolution))
            return
        if upsample:
            self.blur = BlurLayer(out_channels)
        wscale = wscale_gain / math.sqrt(kernel_size * kernel_size * in_channels)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size)
                                   * (1.0 if use_wscale else wscale))
        self.wscale = wscale if use_wscale else 1.0

    def forward(self, x: torch.Tensor | None, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        if self.position == "const_init":
            x = self.const.repeat(w.shape[0], 1, 1, 1).to(w.dtype)
        else:
            assert x is not None  # internal wiring
            weight = self.weight * self.wscale
            if self.transpose:
                weight = F.pad(weight, (1, 1, 1, 1))
                weight = weight[:, :, 1:, 1:] + weight[:, :, :-1, 1:] + weight[:, :, 1:, :-1] + weight[:, :, :-1, :-1]
                x = F.conv_transpose2d(x, weight.permute(1, 0, 2, 3), stride=2, padding=1)
            else:
                if self.upsample:
                    x = F.interpolate(x, scale_factor=2, mode="nearest")
                x = F.conv2d(x, weight, padding=self.padding)
            if self.upsample:
                x = self.blur(x)
        if self.position == "last":
            return x + self.bias.reshape(1, -1, 1, 1)
        x = self.apply_noise(x, noise_mode)
        x = F.leaky_relu(x + self.bias.reshape(1, -1, 1, 1), 0.2)
        out: torch.Tensor = self.style(instance_norm(x), w)
        return out


class SynthesisModule(nn.Module):
    """wp [N, num_layers, w_dim] -> image, through ``layer{0..}`` and ``output{i}``, grown to ``lod``."""

    lod: torch.Tensor

    def __init__(self, resolution: int, w_dim: int, image_channels: int, *, const_input: bool,
                 fused_scale: bool | str, use_wscale: bool, noise_type: str, fmaps_base: int, fmaps_max: int) -> None:
        super().__init__()
        self.w_dim, self.const_input = w_dim, const_input
        self.num_blocks = int(math.log2(resolution)) - int(math.log2(INIT_RES)) + 1
        self.register_buffer("lod", torch.zeros(()))

        nf = functools.partial(feature_maps, fmaps_base=fmaps_base, fmaps_max=fmaps_max)

        def conv(in_channels: int, out_channels: int, res: int, **kwargs: Any) -> ConvBlock:
            return ConvBlock(in_channels, out_channels, res, w_dim, use_wscale=use_wscale, noise_type=noise_type,
                             **kwargs)

        for block in range(self.num_blocks):
            res = INIT_RES * 2**block
            if block == 0 and const_input:
                first = conv(nf(res), nf(res), res, position="const_init")
            elif block == 0:
                first = conv(w_dim, nf(res), res, kernel_size=INIT_RES, padding=INIT_RES - 1)
            else:
                fused = res >= AUTO_FUSED_SCALE_MIN_RES if fused_scale == "auto" else bool(fused_scale)
                first = conv(nf(res // 2), nf(res), res, upsample=True, fused_scale=fused)
            self.add_module(f"layer{2 * block}", first)
            self.add_module(f"layer{2 * block + 1}", conv(nf(res), nf(res), res))
            self.add_module(f"output{block}", conv(nf(res), image_channels, res, position="last", kernel_size=1,
                                                   padding=0, wscale_gain=1.0))

    def forward(self, wp: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        def run_block(block: int, x: torch.Tensor | None) -> torch.Tensor:
            if block == 0 and not self.const_input:
                x = wp[:, 0].reshape(-1, self.w_dim, 1, 1)
            x = getattr(self, f"layer{2 * block}")(x, wp[:, 2 * block], noise_mode)
            out: torch.Tensor = getattr(self, f"layer{2 * block + 1}")(x, wp[:, 2 * block + 1], noise_mode)
            return out

        def to_rgb(block: int, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = getattr(self, f"output{block}")(x, wp)
            return out

        return grow_image(None, float(self.lod), self.num_blocks, run_block, to_rgb)


class StyleGANv1Generator(Generator):
    """StyleGAN ``G(z, labels=None, truncation=ψ, truncation_cutoff=None, noise_mode="const")`` -> images
    [N, image_channels, resolution, resolution] in about [-1, 1].

    The constructor arguments are genforce's ``StyleGANGenerator`` arguments.

    Args:
        resolution: output side, one of 8, 16, …, 1024.
        z_space_dim: latent length (512).
        w_space_dim: intermediate latent (W) length (512).
        label_size: classes of a conditional model (one-hot labels, embedded by ``mapping.label_weight``);
            0 = unconditional.
        mapping_layers: dense layers of the mapping network (8).
        mapping_fmaps: hidden width of the mapping network (512).
        mapping_lr_mul: learning-rate multiplier of the mapping network (0.01; weights are stored divided by it).
        repeat_w: one w for every layer (True); False: the mapping outputs ``num_layers · w_space_dim``.
        image_channels: output channels (3).
        final_tanh: squash the image with tanh (False).
        const_input: start from the learned constant (True); False: a 4×4 convolution of w.
        fused_scale: ``"auto"`` (transposed convolutions from 128 px on), true or false.
        use_wscale: weights stored ~N(0, 1) and scaled at run time (True, as published).
        noise_type: ``"spatial"`` (one noise map, a strength per channel) or ``"channel"``.
        fmaps_base: channels at resolution r are ``min(fmaps_base // r, fmaps_max)`` (16384).
        fmaps_max: the most channels of a layer (512).
    """

    architecture = "stylegan1"
    default_task = Task.UNCONDITIONAL
    has_w_space = True

    def __init__(self, resolution: int = 1024, z_space_dim: int = 512, w_space_dim: int = 512, label_size: int = 0,
                 mapping_layers: int = 8, mapping_fmaps: int = 512, mapping_lr_mul: float = 0.01,
                 repeat_w: bool = True, image_channels: int = 3, final_tanh: bool = False, const_input: bool = True,
                 fused_scale: bool | str = "auto", use_wscale: bool = True, noise_type: str = "spatial",
                 fmaps_base: int = 16 << 10, fmaps_max: int = 512) -> None:
        super().__init__()
        check_resolution(resolution)
        check_positive(z_space_dim=z_space_dim, w_space_dim=w_space_dim, mapping_layers=mapping_layers,
                       mapping_fmaps=mapping_fmaps, image_channels=image_channels, fmaps_base=fmaps_base,
                       fmaps_max=fmaps_max)
        if not isinstance(label_size, int) or isinstance(label_size, bool) or label_size < 0:
            raise ValueError(f"label_size must be an int >= 0, got {label_size!r}")
        if not isinstance(mapping_lr_mul, int | float) or isinstance(mapping_lr_mul, bool) or mapping_lr_mul <= 0:
            raise ValueError(f"mapping_lr_mul must be a positive number, got {mapping_lr_mul!r}")
        if fused_scale not in (True, False, "auto"):
            raise ValueError(f"fused_scale must be true, false or 'auto', got {fused_scale!r}")
        if noise_type not in NOISE_TYPES:
            raise ValueError(f"unknown noise_type {noise_type!r}; choose one of: {', '.join(NOISE_TYPES)}")
        for name, flag in (("repeat_w", repeat_w), ("final_tanh", final_tanh), ("const_input", const_input),
                           ("use_wscale", use_wscale)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be true or false, got {flag!r}")
        self.resolution, self.z_space_dim, self.w_space_dim = resolution, z_space_dim, w_space_dim
        self.label_size, self.image_channels, self.final_tanh = label_size, image_channels, final_tanh
        self.num_layers = (int(math.log2(resolution)) - int(math.log2(INIT_RES)) + 1) * 2
        self.mapping = MappingModule(z_space_dim, mapping_fmaps,
                                     w_space_dim if repeat_w else w_space_dim * self.num_layers, label_size,
                                     mapping_layers, use_wscale=use_wscale, lr_mul=float(mapping_lr_mul))
        self.truncation = TruncationModule(w_space_dim, self.num_layers, repeat_w)
        self.synthesis = SynthesisModule(resolution, w_space_dim, image_channels, const_input=const_input,
                                         fused_scale=fused_scale, use_wscale=use_wscale, noise_type=noise_type,
                                         fmaps_base=fmaps_base, fmaps_max=fmaps_max)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.CONDITIONAL if self.label_size else Task.UNCONDITIONAL,
                        latent_dim=self.z_space_dim, num_classes=self.label_size, truncation="w",
                        out_channels=self.image_channels, native_size=self.resolution,
                        ws_resolutions=tuple(INIT_RES * 2 ** (i // 2) for i in range(self.num_layers)),
                        noise_modes=NOISE_MODES, auto_bf16=False)  # bf16 not measured (bench/): fp32 unless asked

    def map(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0,
            truncation_cutoff: int | None = None) -> torch.Tensor:
        """One code per layer, wp [N, num_layers, w_dim], truncated towards ``w_avg`` on the first
        ``truncation_cutoff`` layers (all when None)."""
        if truncation_cutoff is not None and not 0 <= truncation_cutoff <= self.num_layers:
            raise ValueError(f"truncation_cutoff must be in 0 … {self.num_layers}, got {truncation_cutoff}")
        n = z.shape[0]
        if z.numel() != n * self.z_space_dim:
            raise ValueError(f"z must have shape (N, {self.z_space_dim}), got {tuple(z.shape)}")
        label = class_vector(labels, self.label_size, n, name="StyleGAN", size_name="label_size")
        w = self.mapping(z.reshape(n, self.z_space_dim), label)
        wp: torch.Tensor = self.truncation(w.float(), float(truncation), truncation_cutoff)
        return wp

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """Images from per-layer codes wp [N, num_layers, w_dim]."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"unknown noise_mode {noise_mode!r}; choose one of: {', '.join(NOISE_MODES)}")
        image: torch.Tensor = self.synthesis(ws, noise_mode)
        return torch.tanh(image) if self.final_tanh else image

    def style_affines(self) -> list[tuple[int, torch.Tensor]]:
        """``(layer, effective style weight [2·channels, w_dim])`` of each ``layer{i}.style``."""
        return [(i, getattr(self.synthesis, f"layer{i}").style.weight * getattr(self.synthesis, f"layer{i}").style.wscale)
                for i in range(self.num_layers)]

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const") -> torch.Tensor:
        """Images from z [N, z_space_dim] (or [N, z_space_dim, 1, 1]) and, if conditional, int64 class labels [N].

        ``truncation`` ψ pulls the codes of the first ``truncation_cutoff`` layers (all when None)
        towards ``w_avg``; ``noise_mode``: ``"const"`` the stored noise (genforce's
        ``randomize_noise=False``), ``"random"`` fresh ``torch.randn``, ``"none"`` no noise.
        """
        return self.synthesize(self.map(z, labels, truncation, truncation_cutoff), noise_mode)
