"""StyleGAN2 / StyleGAN2-ADA in NVIDIA's layout (``training/networks.py`` of stylegan2-ada-pytorch,
``networks_stylegan2.py`` of stylegan3), key for key and number for number, in plain PyTorch.

The module tree and the state-dict keys are NVIDIA's:

* ``mapping``: ``embed`` (class-conditional models only), ``fc0 … fc{n-1}`` (``weight``, ``bias``),
  buffer ``w_avg``. Weights are stored divided by the learning-rate multiplier (0.01) and used times
  ``lr_multiplier / sqrt(in_features)``; biases times ``lr_multiplier``.
* ``synthesis.b4 … synthesis.b{resolution}``: buffer ``resample_filter`` ([1,3,3,1] outer product,
  normalised), ``const`` (b4), ``conv0`` (upsampling, from b8 on), ``conv1``, ``torgb``. A
  synthesis layer holds ``affine.{weight,bias}`` (the style), ``weight``, ``bias``,
  ``noise_strength``, buffers ``noise_const`` and ``resample_filter``.

The forward pass follows the reference arithmetic: z (and the embedded class) normalised by their
second moment, the mapping MLP (leaky ReLU 0.2 with gain √2), truncation ``w_avg.lerp(w, psi)`` on
the first ``truncation_cutoff`` ws, then per block modulated 3×3 convolutions with demodulation
(``rsqrt(Σw² + 1e-8)``; an upsampling one as a stride-2 transposed convolution followed by the
[1,3,3,1] FIR filter with gain 4), noise added after the convolution, bias, leaky ReLU × √2, clamped
to ``conv_clamp``; ``torgb`` is a 1×1 modulated convolution without demodulation whose image is
summed with the FIR-upsampled image of the block before (the *skip* architecture). The ops are
written here from their documented semantics (upfirdn2d, bias_act), not from CUDA kernels, so the
model runs anywhere torch does. fp16 layers (``num_fp16_res``) are a CUDA speed-up of the reference;
this module always computes in the dtype it is given (fp32 = the reference's ``force_fp32=True``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator, class_vector

__all__ = ["StyleGAN2Generator", "bias_act", "modulated_conv2d", "setup_filter", "upfirdn2d"]

NOISE_MODES = ("const", "random", "none")
ARCHITECTURES = ("orig", "skip", "resnet")
LRELU_GAIN = math.sqrt(2.0)


# ---- the reference ops, in plain PyTorch ---------------------------------------------------------
def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """A normalised 2-D FIR filter from 1-D ``taps`` (their outer product, summing to 1)."""
    f = torch.as_tensor(list(taps), dtype=torch.float32)
    f = torch.outer(f, f) if f.ndim == 1 else f
    return f / f.sum()


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, *, up: int = 1, down: int = 1,
              padding: Sequence[int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample by inserting zeros, pad (negative = crop; ``[x0, x1, y0, y1]``), convolve every
    channel with the FIR filter ``f`` (true convolution), keep every ``down``-th pixel."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = padding
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    kernel = (f * gain).to(x.dtype).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    x = F.conv2d(x, kernel, groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """×``up`` upsampling with the FIR filter ``f`` (same-size padding, gain up²)."""
    fh = f.shape[0]
    p0, p1 = (fh + up - 1) // 2, (fh - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def bias_act(x: torch.Tensor, b: torch.Tensor | None, *, act: str = "linear", gain: float | None = None,
             clamp: float | None = None) -> torch.Tensor:
    """``x + b`` (per channel), then the activation (``linear`` or ``lrelu`` with slope 0.2), times
    ``gain`` (default: 1 for linear, √2 for lrelu), clamped to ±``clamp``."""
    if b is not None:
        x = x + b.to(x.dtype).reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2)
        gain = LRELU_GAIN if gain is None else gain
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}; choose 'linear' or 'lrelu'")
    gain = 1.0 if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True,
                     up: int = 1, padding: int = 0, resample_filter: torch.Tensor | None = None) -> torch.Tensor:
    """The StyleGAN2 modulated convolution as one grouped convolution (one weight per sample)."""
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    w = weight[None] * styles.reshape(n, 1, in_ch, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, out_ch, 1, 1, 1)
    x = x.reshape(1, n * in_ch, *x.shape[2:])
    if up == 1:
        x = F.conv2d(x, w.reshape(n * out_ch, in_ch, kh, kw).to(x.dtype), padding=padding, groups=n)
    else:
        assert resample_filter is not None  # internal wiring
        # transposed convolution (the weight flipped, input and output channels swapped per group),
        # then the FIR filter; the padding is that of conv2d_resample for `padding` around the upsampled image
        fh = resample_filter.shape[0]
        p0 = padding + (fh + up - 1) // 2 - (kw - 1)
        p1 = padding + (fh - up) // 2 - (kw - up)
        wt = w.reshape(n, out_ch, in_ch, kh, kw).transpose(1, 2).reshape(n * in_ch, out_ch, kh, kw)
        x = F.conv_transpose2d(x, wt.to(x.dtype), stride=up, groups=n)
        x = upfirdn2d(x, resample_filter, padding=(p0, p1, p0, p1), gain=up * up)
    return x.reshape(n, out_ch, *x.shape[2:])


# ---- layers --------------------------------------------------------------------------------------
class FullyConnectedLayer(nn.Module):
    """``weight`` [out, in] stored / lr_multiplier, ``bias``; ``bias_act`` after the matmul."""

    def __init__(self, in_features: int, out_features: int, *, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype) * self.bias_gain
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (+ embedded class) -> w, broadcast to ``num_ws`` and truncated around ``w_avg``."""

    w_avg: torch.Tensor

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, *, num_layers: int = 8,
                 embed_features: int | None = None, layer_features: int | None = None,
                 activation: str = "lrelu", lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.995) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        embed = 0 if c_dim == 0 else (w_dim if embed_features is None else embed_features)
        hidden = w_dim if layer_features is None else layer_features
        features = [z_dim + embed] + [hidden] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed)
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation=activation,
                                                        lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(torch.float32)) if self.z_dim > 0 else None
        if self.c_dim > 0:
            if c is None:
                raise ValueError(f"this generator is class-conditional (c_dim={self.c_dim}); pass c")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        assert x is not None  # z_dim or c_dim is positive (checked by the generator)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = x.float().unsqueeze(1).repeat([1, self.num_ws, 1])  # fp32 styles (also under bf16 autocast)
        if truncation_psi != 1:
            cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
            ws[:, :cutoff] = self.w_avg.lerp(ws[:, :cutoff], truncation_psi)
        return ws


class SynthesisLayer(nn.Module):
    """A modulated 3×3 convolution (×2 upsampling when ``up=2``) with noise, bias and leaky ReLU."""

    resample_filter: torch.Tensor
    noise_const: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, *, up: int = 1,
                 kernel_size: int = 3, use_noise: bool = True, resample_filter: Sequence[float] = (1, 3, 3, 1),
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise, self.conv_clamp = resolution, up, use_noise, conv_clamp
        self.padding = kernel_size // 2
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight, styles, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter)
        if self.use_noise and noise_mode == "random":
            x = x + torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device,
                                dtype=x.dtype) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        return bias_act(x, self.bias, act="lrelu", clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """A 1×1 modulated convolution without demodulation to the image channels."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        return bias_act(modulated_conv2d(x, self.weight, styles, demodulate=False), self.bias, clamp=self.conv_clamp)


class SkipConv(nn.Module):
    """The *resnet* architecture's 1×1 upsampling shortcut (NVIDIA's ``Conv2dLayer``, no bias)."""

    resample_filter: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, resample_filter: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, gain: float) -> torch.Tensor:
        x = F.conv2d(x, (self.weight * self.weight_gain).to(x.dtype))
        return upsample2d(x, self.resample_filter) * gain


class SynthesisBlock(nn.Module):
    """One resolution: (const | conv0 ↑2) -> conv1 -> torgb, the image summed across blocks."""

    resample_filter: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, *, architecture: str = "skip", resample_filter: Sequence[float] = (1, 3, 3, 1),
                 conv_clamp: float | None = None, **layer_kwargs: Any) -> None:
        super().__init__()
        self.in_channels, self.resolution, self.is_last, self.architecture = in_channels, resolution, is_last, architecture
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp,
                                    **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = SkipConv(in_channels, out_channels, resample_filter)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str = "const") -> tuple[torch.Tensor, torch.Tensor | None]:
        w_iter = iter(ws.unbind(dim=1))
        if x is None:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1]).to(ws.dtype)
            x = self.conv1(x, next(w_iter), noise_mode)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w_iter), noise_mode)
            x = self.conv1(x, next(w_iter), noise_mode)
            x = y + x * math.sqrt(0.5)  # the reference's gain √0.5 on conv1 (its clamp scales with it)
        else:
            x = self.conv0(x, next(w_iter), noise_mode)
            x = self.conv1(x, next(w_iter), noise_mode)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, next(w_iter)).to(torch.float32)
            img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image, through blocks b4 … b{img_resolution}."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, *, channel_base: int = 32768,
                 channel_max: int = 512, **block_kwargs: Any) -> None:
        super().__init__()
        self.w_dim, self.img_resolution = w_dim, img_resolution
        self.block_resolutions = [2 ** i for i in range(2, int(math.log2(img_resolution)) + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, img_channels,
                                   is_last=res == img_resolution, **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if res == img_resolution else 0)
            setattr(self, f"b{res}", block)

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        ws = ws.to(torch.float32)
        x: torch.Tensor | None = None
        img: torch.Tensor | None = None
        index = 0
        for block in self.blocks():
            x, img = block(x, img, ws.narrow(1, index, block.num_conv + block.num_torgb), noise_mode)
            index += block.num_conv
        assert img is not None
        return img


# ---- the generator ---------------------------------------------------------------------------------
MAPPING_KEYS = ("num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta")
SYNTHESIS_KEYS = ("channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture", "resample_filter",
                  "use_noise", "kernel_size", "fp16_channels_last", "activation")


class StyleGAN2Generator(Generator):
    """StyleGAN2(-ADA) ``G(z, labels=None, truncation=ψ, truncation_cutoff=None, noise_mode="const")``.

    The constructor arguments are NVIDIA's ``Generator`` init kwargs (what a network pickle's
    ``G_ema`` records), so a converted pickle rebuilds exactly.

    Args:
        z_dim: latent length (512 for the published models).
        c_dim: class-label length; 0 = unconditional, else the classes are one-hot vectors.
        w_dim: intermediate latent (W) length.
        img_resolution: output side (a power of two >= 4).
        img_channels: output channels.
        mapping_kwargs: ``num_layers`` (8), ``embed_features``, ``layer_features``, ``lr_multiplier`` (0.01), …
        synthesis_kwargs: ``channel_base`` (32768; 16384 for 256/512 px ADA models), ``channel_max`` (512),
            ``conv_clamp`` (256 for ADA-trained nets, None for converted TF nets), ``architecture``
            (``skip``), ``num_fp16_res`` (ignored here: a CUDA speed-up), ``resample_filter``.
    """

    architecture = "stylegan2"
    default_task = Task.UNCONDITIONAL
    has_w_space = True

    def __init__(self, z_dim: int = 512, c_dim: int = 0, w_dim: int = 512, img_resolution: int = 1024,
                 img_channels: int = 3, mapping_kwargs: Mapping[str, Any] | None = None,
                 synthesis_kwargs: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        for name, value in (("z_dim", z_dim), ("w_dim", w_dim), ("img_channels", img_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(c_dim, int) or isinstance(c_dim, bool) or c_dim < 0:
            raise ValueError(f"c_dim must be an int >= 0, got {c_dim!r}")
        if not isinstance(img_resolution, int) or img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution!r}")
        mapping = dict(mapping_kwargs or {})
        synthesis = dict(synthesis_kwargs or {})
        for what, given, known in (("mapping_kwargs", mapping, MAPPING_KEYS), ("synthesis_kwargs", synthesis, SYNTHESIS_KEYS)):
            unknown = sorted(set(given) - set(known))
            if unknown:
                raise ValueError(f"{what} has unknown keys {unknown}; known: {', '.join(known)}")
        arch = synthesis.get("architecture", "skip")
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown synthesis architecture {arch!r}; choose one of: {', '.join(ARCHITECTURES)}")
        if mapping.get("activation", "lrelu") != "lrelu" or synthesis.get("activation", "lrelu") != "lrelu":
            raise ValueError("only the published leaky-ReLU activation is supported")
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        layer_kwargs = {k: synthesis[k] for k in ("use_noise", "kernel_size") if k in synthesis}
        self.synthesis = SynthesisNetwork(
            w_dim, img_resolution, img_channels, channel_base=int(synthesis.get("channel_base", 32768)),
            channel_max=int(synthesis.get("channel_max", 512)), architecture=arch,
            resample_filter=tuple(synthesis.get("resample_filter", (1, 3, 3, 1))),
            conv_clamp=synthesis.get("conv_clamp"), **layer_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws,
                                      **{k: mapping[k] for k in MAPPING_KEYS if k in mapping and k != "activation"})

    @classmethod
    def kwargs_from_network_pickle(cls, init_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """stylegan2-ada-pytorch records ``synthesis_kwargs={…}``; stylegan3's ``networks_stylegan2``
        takes them as flat keywords (and adds ``fused_modconv_default``, a speed switch that does not
        change the numbers): both become this constructor's nested ``synthesis_kwargs``."""
        kwargs = dict(init_kwargs)
        kwargs.pop("fused_modconv_default", None)
        flat = {k: kwargs.pop(k) for k in list(kwargs) if k in SYNTHESIS_KEYS}
        if flat:
            kwargs["synthesis_kwargs"] = {**dict(kwargs.get("synthesis_kwargs") or {}), **flat}
        return kwargs

    @classmethod
    def recognises_network_pickle(cls, class_name: str, submodule_classes: set[str]) -> bool:
        # networks.py / networks_stylegan2.py: synthesis blocks; StyleGAN3 has SynthesisInput instead
        return class_name == "Generator" and "SynthesisBlock" in submodule_classes

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.CONDITIONAL if self.c_dim else Task.UNCONDITIONAL, latent_dim=self.z_dim,
                        num_classes=self.c_dim, truncation="w", out_channels=self.img_channels,
                        native_size=self.img_resolution, ws_resolutions=self.ws_resolutions(),
                        noise_modes=NOISE_MODES,
                        # bf16 autocast measured 33.7 dB against fp32 at 1024 px (docs/benchmarks.md),
                        # below the studio's 35 dB tolerance: fp32 unless asked
                        auto_bf16=False)

    def ws_resolutions(self) -> tuple[int, ...]:
        """The resolution each of the ``num_ws`` style vectors feeds: block b{R} reads its conv0 and
        conv1 ws (b4: conv1 only) and its torgb shares the next block's first w."""
        out: list[int] = []
        for block in self.synthesis.blocks():
            out += [block.resolution] * block.num_conv
        last = self.synthesis.blocks()[-1]
        out += [last.resolution] * last.num_torgb
        return tuple(out)

    def style_affines(self) -> list[tuple[int, torch.Tensor]]:
        """``(ws index, effective style weight [channels, w_dim])`` of every modulated layer: the
        matrices closed-form factorisation (SeFa) decomposes."""
        out: list[tuple[int, torch.Tensor]] = []
        index = 0
        for block in self.synthesis.blocks():
            layers = ([block.conv0] if hasattr(block, "conv0") else []) + [block.conv1]
            for layer in layers:
                out.append((index, layer.affine.weight * layer.affine.weight_gain))
                index += 1
            if hasattr(block, "torgb"):
                out.append((index, block.torgb.affine.weight * block.torgb.affine.weight_gain))
        return out

    def map(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0,
            truncation_cutoff: int | None = None) -> torch.Tensor:
        """ws [N, num_ws, w_dim] for z (and classes), truncated towards ``w_avg`` on the first
        ``truncation_cutoff`` ws (all when None)."""
        ws: torch.Tensor = self.mapping(z, self.class_vector(labels, z.shape[0]), truncation, truncation_cutoff)
        return ws

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """Images from ws [N, num_ws, w_dim] (style mixing and editing work here)."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"unknown noise_mode {noise_mode!r}; choose one of: {', '.join(NOISE_MODES)}")
        img: torch.Tensor = self.synthesis(ws, noise_mode=noise_mode)
        return img

    def class_vector(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """c for the mapping network: one-hot from int64 class indices, or a float vector as given."""
        return class_vector(labels, self.c_dim, n, name="StyleGAN2", size_name="c_dim")

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const") -> torch.Tensor:
        """Images [N, img_channels, R, R] (about [-1, 1]) from z [N, z_dim]."""
        return self.synthesize(self.map(z, labels, truncation, truncation_cutoff), noise_mode)
