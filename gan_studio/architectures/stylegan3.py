"""StyleGAN3 (alias-free GAN, configs -T and -R) in NVIDIA's layout (``training/networks_stylegan3.py``
of NVlabs/stylegan3), key for key and number for number, in plain PyTorch.

The module tree and the state-dict keys are NVIDIA's:

* ``mapping``: ``embed`` (class-conditional models only), ``fc0 … fc{n-1}`` (2 layers by default),
  buffer ``w_avg``; the same arithmetic as StyleGAN2's mapping network (z and the embedded class
  normalised by their second moment, lr multiplier 0.01, truncation ``w_avg.lerp(w, psi)`` on the
  first ``truncation_cutoff`` ws), so :class:`~.stylegan2.MappingNetwork` is reused.
* ``synthesis.input``: ``weight`` [C, C], ``affine.{weight,bias}`` (w -> rotation/translation
  ``(r_c, r_s, t_x, t_y)``), buffers ``transform`` (3×3, the user's *inverse* transform of the image,
  identity when saved), ``freqs`` [C, 2] and ``phases`` [C] of the Fourier features.
* ``synthesis.L{i}_{size}_{channels}`` (``num_layers`` + 1 layers, the last the ToRGB layer):
  ``affine.{weight,bias}``, ``weight``, ``bias``, buffers ``magnitude_ema`` (scalar),
  ``up_filter`` and ``down_filter`` (1-D Kaiser low-pass filters, or a 2-D jinc filter for the
  radial down filters of -R; a 1-tap filter is None and absent from the state dict).

The forward pass follows the reference path of NVIDIA's code (``_filtered_lrelu_ref``): per layer a
modulated convolution with StyleGAN3's pre-normalisation (weights by their RMS per output channel,
styles by their RMS over the whole batch), demodulation, the input scaled by ``magnitude_ema⁻¹ᐟ²``,
"full" padding ``conv_kernel - 1``; then bias, zero-insertion ×up and the separable up filter (gain
up²), leaky ReLU 0.2 × √2 clamped to ``conv_clamp``, the down filter and ×down decimation. The ToRGB
layer is a 1×1 convolution without demodulation (styles × 1/√in), bias, clamp. The image is scaled
by ``output_scale``. The filters and the layer geometry are designed here (Kaiser-windowed sinc as
``scipy.signal.firwin`` does it, jinc × Kaiser for radial filters), so a fresh module equals NVIDIA's
buffers without scipy. fp16 layers (``num_fp16_res``) are a CUDA speed-up of the reference; this
module computes in fp32 (the reference's ``force_fp32=True``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator, class_vector
from .stylegan2 import FullyConnectedLayer, MappingNetwork

__all__ = ["StyleGAN3Generator", "design_lowpass_filter", "filtered_lrelu", "input_transform",
           "modulated_conv2d", "upfirdn2d"]

NOISE_MODES = ("const", "random", "none")  # accepted for the generator contract; StyleGAN3 has no noise inputs
MAPPING_KEYS = ("num_layers", "lr_multiplier", "w_avg_beta")
LRELU_GAIN = math.sqrt(2.0)


# ---- filter design (scipy.signal.firwin / NVIDIA's design_lowpass_filter, in numpy) -----------------
def _kaiser_beta(numtaps: int, width: float) -> float:
    """Kaiser window β for ``numtaps`` taps and a transition ``width`` relative to Nyquist."""
    atten = 2.285 * (numtaps - 1) * np.pi * width + 7.95
    if atten > 50:
        return float(0.1102 * (atten - 8.7))
    if atten > 21:
        return float(0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21))
    return 0.0


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                          radial: bool = False) -> torch.Tensor | None:
    """NVIDIA's low-pass filter: None for 1 tap; a separable Kaiser-windowed sinc ([numtaps], unit DC
    gain, as ``scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs)``); or, ``radial``, a 2-D jinc
    × Kaiser filter ([numtaps, numtaps], summing to 1)."""
    if numtaps == 1:
        return None
    nyq = fs / 2
    beta = _kaiser_beta(numtaps, width / nyq)
    window = np.kaiser(numtaps, beta)
    if not radial:
        m = np.arange(numtaps) - (numtaps - 1) / 2
        c = cutoff / nyq
        h = c * np.sinc(c * m) * window
        return torch.as_tensor(h / np.sum(h), dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    j1 = torch.special.bessel_j1(torch.as_tensor(2 * cutoff * (np.pi * r), dtype=torch.float64,
                                                 device="cpu")).numpy()  # also under torch.device("meta")
    f = j1 / (np.pi * r) * np.outer(window, window)
    return torch.as_tensor(f / np.sum(f), dtype=torch.float32)


# ---- the reference ops, in plain PyTorch -----------------------------------------------------------
def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, *, up: int = 1, down: int = 1,
              padding: Sequence[int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample by inserting zeros, pad (negative = crop; ``[x0, x1, y0, y1]``), convolve every channel
    with the FIR filter ``f`` (None: identity; 1-D: separable, width then height, each pass with
    √gain; 2-D: one pass with gain), keep every ``down``-th pixel."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = padding
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    if f is None:
        x = x * gain if gain != 1 else x
    else:
        k = (f * (gain ** (f.ndim / 2))).to(x.dtype).flip(list(range(f.ndim)))
        k = k[None, None].repeat([c, 1] + [1] * f.ndim)
        if f.ndim == 2:
            x = F.conv2d(x, k, groups=c)
        else:
            x = F.conv2d(x, k.unsqueeze(2), groups=c)
            x = F.conv2d(x, k.unsqueeze(3), groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor | None, *,
                   up: int = 1, down: int = 1, padding: Sequence[int] = (0, 0, 0, 0), gain: float = LRELU_GAIN,
                   slope: float = 0.2, clamp: float | None = None) -> torch.Tensor:
    """Bias, ×``up`` with ``fu`` (gain up²), leaky ReLU (``slope``) × ``gain`` clamped to ±``clamp``,
    ``fd`` and ×``down`` decimation: NVIDIA's ``_filtered_lrelu_ref``."""
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up ** 2)
    if slope != 1:
        x = F.leaky_relu(x, slope)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d(x, fd, down=down)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True,
                     padding: int = 0, input_gain: torch.Tensor | None = None) -> torch.Tensor:
    """StyleGAN3's modulated convolution: with demodulation the weight is first normalised by its RMS
    per output channel and the styles by their RMS over the whole batch; ``input_gain`` scales the
    input channels; one grouped convolution (one weight per sample)."""
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if demodulate:
        weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight.unsqueeze(0) * styles.reshape(n, 1, in_ch, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, out_ch, 1, 1, 1)
    if input_gain is not None:
        w = w * input_gain.expand(n, in_ch).reshape(n, 1, in_ch, 1, 1)
    x = x.reshape(1, n * in_ch, *x.shape[2:])
    x = F.conv2d(x, w.reshape(n * out_ch, in_ch, kh, kw).to(x.dtype), padding=padding, groups=n)
    return x.reshape(n, out_ch, *x.shape[2:])


def input_transform(translate: Sequence[float] = (0.0, 0.0), rotate: float = 0.0) -> torch.Tensor:
    """The 3×3 matrix ``synthesis.input.transform`` holds for an image translated by ``translate``
    (in image widths: 1/img_resolution = one output pixel; +x moves the content right, +y down) and
    rotated by ``rotate`` degrees (positive: counter-clockwise as displayed, ``torch.rot90(img, 1, (2, 3))``
    for 90): the *inverse* of NVIDIA's ``gen_images.make_transform``, as ``gen_images.py`` stores it."""
    tx, ty = (float(t) for t in translate)
    angle = float(rotate) / 360.0 * np.pi * 2
    s, c = np.sin(angle), np.cos(angle)
    m = np.array([[c, s, tx], [-s, c, ty], [0.0, 0.0, 1.0]])
    return torch.from_numpy(np.linalg.inv(m)).to(torch.float32)


# ---- layers --------------------------------------------------------------------------------------
class SynthesisInput(nn.Module):
    """Fourier features of ``channels`` random frequencies in the disc of radius ``bandwidth``,
    rotated/translated by the affine of w and the user's ``transform``, then mixed by ``weight``."""

    transform: torch.Tensor  # buffers
    freqs: torch.Tensor
    phases: torch.Tensor

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float) -> None:
        super().__init__()
        self.channels, self.size = channels, size
        self.sampling_rate, self.bandwidth = float(sampling_rate), float(bandwidth)
        freqs = torch.randn([channels, 2])
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs /= radii * radii.square().exp().pow(0.25)
        freqs *= bandwidth
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4)
        with torch.no_grad():  # NVIDIA's weight_init=0, bias_init=[1, 0, 0, 0]: the identity transform
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3, 3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand([channels]) - 0.5)

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        n = w.shape[0]
        transforms = (self.transform if transform is None else transform.to(w.device, torch.float32))
        transforms = transforms.unsqueeze(0) if transforms.ndim == 2 else transforms
        t: torch.Tensor = self.affine(w)  # (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        m_r = torch.eye(3, device=w.device).unsqueeze(0).repeat([n, 1, 1])  # inverse rotation of the image
        m_r[:, 0, 0] = t[:, 0]
        m_r[:, 0, 1] = -t[:, 1]
        m_r[:, 1, 0] = t[:, 1]
        m_r[:, 1, 1] = t[:, 0]
        m_t = torch.eye(3, device=w.device).unsqueeze(0).repeat([n, 1, 1])  # inverse translation
        m_t[:, 0, 2] = -t[:, 2]
        m_t[:, 1, 2] = -t[:, 3]
        transforms = m_r @ m_t @ transforms
        phases = self.phases.unsqueeze(0) + (self.freqs.unsqueeze(0) @ transforms[:, :2, 2:]).squeeze(2)
        freqs = self.freqs.unsqueeze(0) @ transforms[:, :2, :2]
        # dampen frequencies the user's transform pushed out of band
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        theta = torch.eye(2, 3, device=w.device)
        theta[0, 0] = 0.5 * self.size / self.sampling_rate
        theta[1, 1] = 0.5 * self.size / self.sampling_rate
        grids = F.affine_grid(theta.unsqueeze(0), [1, 1, self.size, self.size], align_corners=False)
        x: torch.Tensor = (grids.unsqueeze(3) @ freqs.permute(0, 2, 1).unsqueeze(1).unsqueeze(2)).squeeze(3)  # [N, H, W, C]
        x = x + phases.unsqueeze(1).unsqueeze(2)
        x = torch.sin(x * (np.pi * 2))
        x = x * amplitudes.unsqueeze(1).unsqueeze(2)
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """Modulated conv -> filtered leaky ReLU (or, ``is_torgb``, a 1×1 conv to the image channels)."""

    up_filter: torch.Tensor | None  # buffers (None: a 1-tap filter, absent from the state dict)
    down_filter: torch.Tensor | None
    magnitude_ema: torch.Tensor

    def __init__(self, w_dim: int, is_torgb: bool, is_critically_sampled: bool, in_channels: int, out_channels: int,
                 in_size: int, out_size: int, in_sampling_rate: int, out_sampling_rate: int, in_cutoff: float,
                 out_cutoff: float, in_half_width: float, out_half_width: float, *, conv_kernel: int = 3,
                 filter_size: int = 6, lrelu_upsampling: int = 2, use_radial_filters: bool = False,
                 conv_clamp: float | None = 256) -> None:
        super().__init__()
        self.is_torgb, self.in_channels, self.out_channels = is_torgb, in_channels, out_channels
        self.out_size, self.conv_clamp = out_size, conv_clamp
        self.out_sampling_rate = int(out_sampling_rate)
        self.conv_kernel = 1 if is_torgb else conv_kernel
        tmp_sampling_rate = max(in_sampling_rate, out_sampling_rate) * (1 if is_torgb else lrelu_upsampling)
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, self.conv_kernel, self.conv_kernel]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.up_factor = int(np.rint(tmp_sampling_rate / in_sampling_rate))
        self.down_factor = int(np.rint(tmp_sampling_rate / out_sampling_rate))
        if in_sampling_rate * self.up_factor != tmp_sampling_rate or out_sampling_rate * self.down_factor != tmp_sampling_rate:
            raise ValueError(f"sampling rates {in_sampling_rate} -> {tmp_sampling_rate} -> {out_sampling_rate} are not "
                             f"integer multiples; check lrelu_upsampling, first_stopband and img_resolution")
        up_taps = filter_size * self.up_factor if self.up_factor > 1 and not is_torgb else 1
        down_taps = filter_size * self.down_factor if self.down_factor > 1 and not is_torgb else 1
        self.register_buffer("up_filter", design_lowpass_filter(up_taps, in_cutoff, in_half_width * 2, tmp_sampling_rate))
        self.register_buffer("down_filter", design_lowpass_filter(
            down_taps, out_cutoff, out_half_width * 2, tmp_sampling_rate,
            radial=use_radial_filters and not is_critically_sampled))
        pad_total = (out_size - 1) * self.down_factor + 1  # output size before downsampling
        pad_total -= (in_size + self.conv_kernel - 1) * self.up_factor  # input size after upsampling
        pad_total += up_taps + down_taps - 2  # size reduction by the filters
        pad_lo = (pad_total + self.up_factor) // 2  # the symmetric interpretation (paper, appendix C.3)
        self.padding = (pad_lo, pad_total - pad_lo, pad_lo, pad_total - pad_lo)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles * (1 / math.sqrt(self.in_channels * self.conv_kernel ** 2))
        x = modulated_conv2d(x, self.weight, styles, padding=self.conv_kernel - 1, demodulate=not self.is_torgb,
                             input_gain=self.magnitude_ema.rsqrt())
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, up=self.up_factor, down=self.down_factor,
                              padding=self.padding, gain=1 if self.is_torgb else LRELU_GAIN,
                              slope=1 if self.is_torgb else 0.2, clamp=self.conv_clamp)


class SynthesisNetwork(nn.Module):
    """ws [N, num_layers + 2, w_dim] -> image, through ``input`` and the layers ``L0_…`` … ``L{num_layers}_…``."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, *, channel_base: int, channel_max: int,
                 num_layers: int, num_critical: int, first_cutoff: float, first_stopband: float,
                 last_stopband_rel: float, margin_size: int, output_scale: float, **layer_kwargs: Any) -> None:
        super().__init__()
        self.num_ws = num_layers + 2
        self.output_scale = output_scale
        # geometric progression of cutoffs and minimum stopbands (NVIDIA's arithmetic, float64)
        last_cutoff = img_resolution / 2
        last_stopband = last_cutoff * last_stopband_rel
        exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
        cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** exponents
        stopbands = first_stopband * (last_stopband / first_stopband) ** exponents
        sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
        half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
        if not np.all(half_widths > 0):
            raise ValueError(f"the filters' transition bands are empty (half widths {half_widths.tolist()}); "
                             f"check first_cutoff, first_stopband and last_stopband_rel")
        sizes = sampling_rates + margin_size * 2
        sizes[-2:] = img_resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels
        self.input = SynthesisInput(w_dim, int(channels[0]), int(sizes[0]), sampling_rates[0], cutoffs[0])
        self.layer_names: list[str] = []
        for idx in range(num_layers + 1):
            prev = max(idx - 1, 0)
            layer = SynthesisLayer(
                w_dim, is_torgb=idx == num_layers, is_critically_sampled=idx >= num_layers - num_critical,
                in_channels=int(channels[prev]), out_channels=int(channels[idx]), in_size=int(sizes[prev]),
                out_size=int(sizes[idx]), in_sampling_rate=int(sampling_rates[prev]),
                out_sampling_rate=int(sampling_rates[idx]), in_cutoff=cutoffs[prev], out_cutoff=cutoffs[idx],
                in_half_width=half_widths[prev], out_half_width=half_widths[idx], **layer_kwargs)
            name = f"L{idx}_{layer.out_size}_{layer.out_channels}"
            setattr(self, name, layer)
            self.layer_names.append(name)

    def forward(self, ws: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        w_list = ws.to(torch.float32).unbind(dim=1)
        x: torch.Tensor = self.input(w_list[0], transform)
        for name, w in zip(self.layer_names, w_list[1:], strict=True):
            layer: SynthesisLayer = getattr(self, name)
            x = layer(x, w)
        if self.output_scale != 1:
            x = x * self.output_scale
        return x.to(torch.float32)


# ---- the generator ---------------------------------------------------------------------------------
def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _positive_number(name: str, value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


class StyleGAN3Generator(Generator):
    """StyleGAN3 ``G(z, labels=None, truncation=ψ, truncation_cutoff=None, noise_mode="const", transform=None)``.

    The constructor arguments are NVIDIA's ``networks_stylegan3.Generator`` init kwargs, whose
    synthesis arguments are flat keywords (``Generator(z_dim, c_dim, w_dim, img_resolution,
    img_channels, mapping_kwargs, **synthesis_kwargs)``), exactly what a network pickle's ``G_ema``
    records, so a converted pickle rebuilds exactly. NVIDIA's -T config is the default; -R is
    ``conv_kernel=1, use_radial_filters=True`` with doubled ``channel_base`` and ``channel_max``.

    Args:
        z_dim: latent length (512 for the published models).
        c_dim: class-label length; 0 = unconditional, else the classes are one-hot vectors.
        w_dim: intermediate latent (W) length.
        img_resolution: output side (a power of two >= 4).
        img_channels: output channels.
        mapping_kwargs: ``num_layers`` (2), ``lr_multiplier`` (0.01), ``w_avg_beta`` (training only).
        channel_base: channels of a layer = min(channel_base / 2 / its cutoff, channel_max) (32768; -R 65536).
        channel_max: the most channels of any layer (512; -R 1024).
        num_layers: synthesis layers, excluding the Fourier input and ToRGB (14).
        num_critical: critically sampled layers at the end (2).
        first_cutoff: cutoff frequency of the first layer (2).
        first_stopband: minimum stopband of the first layer (2**2.1).
        last_stopband_rel: minimum stopband of the last layer, relative to its cutoff (2**0.3).
        margin_size: extra pixels around the image in the intermediate layers (10).
        output_scale: the image is multiplied by this (0.25).
        num_fp16_res: fp16 for the highest resolutions on CUDA in NVIDIA's code (ignored here: fp32).
        conv_kernel: convolution kernel side (3 for -T, 1 for -R; the ToRGB layer is always 1×1).
        filter_size: low-pass filter taps relative to the lower resolution when resampling (6).
        lrelu_upsampling: sampling-rate factor for the leaky ReLU (2).
        use_radial_filters: radially symmetric down filters in the non-critical layers (-R).
        conv_clamp: clamp each layer's output to ±this (256; None = no clamp).
        magnitude_ema_beta: decay of the input-magnitude average (training only; recorded by pickles).
    """

    architecture = "stylegan3"
    has_w_space = True
    default_task = Task.UNCONDITIONAL

    def __init__(self, z_dim: int = 512, c_dim: int = 0, w_dim: int = 512, img_resolution: int = 1024,
                 img_channels: int = 3, mapping_kwargs: Mapping[str, Any] | None = None, *,
                 channel_base: int = 32768, channel_max: int = 512, num_layers: int = 14, num_critical: int = 2,
                 first_cutoff: float = 2, first_stopband: float = 2 ** 2.1, last_stopband_rel: float = 2 ** 0.3,
                 margin_size: int = 10, output_scale: float = 0.25, num_fp16_res: int = 4, conv_kernel: int = 3,
                 filter_size: int = 6, lrelu_upsampling: int = 2, use_radial_filters: bool = False,
                 conv_clamp: float | None = 256, magnitude_ema_beta: float = 0.999) -> None:
        super().__init__()
        for name, value in (("z_dim", z_dim), ("w_dim", w_dim), ("img_channels", img_channels),
                            ("channel_base", channel_base), ("channel_max", channel_max), ("num_layers", num_layers),
                            ("conv_kernel", conv_kernel), ("filter_size", filter_size),
                            ("lrelu_upsampling", lrelu_upsampling)):
            _positive_int(name, value)
        for name, value in (("c_dim", c_dim), ("num_critical", num_critical), ("margin_size", margin_size),
                            ("num_fp16_res", num_fp16_res)):
            _positive_int(name, value, minimum=0)
        if not isinstance(img_resolution, int) or img_resolution < 4 or img_resolution & (img_resolution - 1):
            raise ValueError(f"img_resolution must be a power of two >= 4, got {img_resolution!r}")
        if num_critical >= num_layers:
            raise ValueError(f"num_critical must be smaller than num_layers ({num_layers}), got {num_critical}")
        numbers: tuple[tuple[str, float], ...] = (("first_cutoff", first_cutoff), ("first_stopband", first_stopband),
                                                  ("last_stopband_rel", last_stopband_rel), ("output_scale", output_scale))
        for name, number in numbers:
            _positive_number(name, number)
        if conv_clamp is not None:
            _positive_number("conv_clamp", conv_clamp)
        if not isinstance(use_radial_filters, bool):
            raise ValueError(f"use_radial_filters must be true or false, got {use_radial_filters!r}")
        if not isinstance(magnitude_ema_beta, int | float) or not 0 <= magnitude_ema_beta <= 1:
            raise ValueError(f"magnitude_ema_beta must be in [0, 1], got {magnitude_ema_beta!r}")
        mapping = dict(mapping_kwargs or {})
        unknown = sorted(set(mapping) - set(MAPPING_KEYS))
        if unknown:
            raise ValueError(f"mapping_kwargs has unknown keys {unknown}; known: {', '.join(MAPPING_KEYS)}")
        _positive_int("mapping_kwargs['num_layers']", mapping.get("num_layers", 2))
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(
            w_dim, img_resolution, img_channels, channel_base=channel_base, channel_max=channel_max,
            num_layers=num_layers, num_critical=num_critical, first_cutoff=first_cutoff, first_stopband=first_stopband,
            last_stopband_rel=last_stopband_rel, margin_size=margin_size, output_scale=output_scale,
            conv_kernel=conv_kernel, filter_size=filter_size, lrelu_upsampling=lrelu_upsampling,
            use_radial_filters=use_radial_filters, conv_clamp=conv_clamp)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, num_layers=mapping.get("num_layers", 2),
                                      lr_multiplier=mapping.get("lr_multiplier", 0.01),
                                      w_avg_beta=mapping.get("w_avg_beta", 0.998))

    @classmethod
    def recognises_network_pickle(cls, class_name: str, submodule_classes: set[str]) -> bool:
        # networks_stylegan3.py: a Fourier-feature SynthesisInput (StyleGAN2 has SynthesisBlocks instead)
        return class_name == "Generator" and "SynthesisInput" in submodule_classes

    @property
    def contract(self) -> Contract:
        # auto_bf16 off: bench/ measured bf16 at 47.4 dB (1.55× faster) at 256 px, but on random weights
        # only; the Fourier features' phases want fp32 until that is checked on trained weights
        return Contract(task=Task.CONDITIONAL if self.c_dim else Task.UNCONDITIONAL, latent_dim=self.z_dim,
                        num_classes=self.c_dim, truncation="w", out_channels=self.img_channels,
                        native_size=self.img_resolution, auto_bf16=False, ws_resolutions=self.ws_resolutions(),
                        input_transform=True)

    def ws_resolutions(self) -> tuple[int, ...]:
        """The sampling rate each style vector feeds: the input's, then each layer's output rate."""
        synthesis = self.synthesis
        rates = [int(synthesis.input.sampling_rate)]
        rates += [getattr(synthesis, name).out_sampling_rate for name in synthesis.layer_names]
        return tuple(rates)

    def style_affines(self) -> list[tuple[int, torch.Tensor]]:
        """``(ws index, style weight [channels, w_dim])`` of each layer (the input's rotation/translation
        affine is not a style and is left out)."""
        out = []
        for i, name in enumerate(self.synthesis.layer_names, start=1):
            affine = getattr(self.synthesis, name).affine
            out.append((i, affine.weight * affine.weight_gain))
        return out

    def map(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0,
            truncation_cutoff: int | None = None) -> torch.Tensor:
        """ws [N, num_ws, w_dim] for z, truncated towards ``w_avg`` on the first ``truncation_cutoff``."""
        ws: torch.Tensor = self.mapping(z, self.class_vector(labels, z.shape[0]), truncation, truncation_cutoff)
        return ws

    def synthesize(self, ws: torch.Tensor, noise_mode: str = "const",
                   transform: torch.Tensor | None = None) -> torch.Tensor:
        """Images from ws (``noise_mode`` is accepted for the common call and ignored: no noise inputs)."""
        image: torch.Tensor = self.synthesis(ws, transform)
        return image

    input_transform = staticmethod(input_transform)

    def class_vector(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """c for the mapping network: one-hot from int64 class indices, or a float vector as given."""
        return class_vector(labels, self.c_dim, n, name="StyleGAN3", size_name="c_dim")

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const",
                transform: torch.Tensor | None = None) -> torch.Tensor:
        """Images [N, img_channels, R, R] (about [-1, 1]) from z [N, z_dim].

        ``transform`` ([3, 3] or [N, 3, 3]) replaces ``synthesis.input.transform`` for this call only
        (the stored buffer is untouched): :meth:`input_transform` builds it from a translation and a
        rotation, as NVIDIA's ``gen_images.py`` does. ``noise_mode`` is checked and ignored (StyleGAN3
        has no noise inputs)."""
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"unknown noise_mode {noise_mode!r}; choose one of: {', '.join(NOISE_MODES)}")
        if transform is not None and (transform.ndim not in (2, 3) or tuple(transform.shape[-2:]) != (3, 3)
                                      or (transform.ndim == 3 and transform.shape[0] not in (1, z.shape[0]))):
            raise ValueError(f"transform must be a [3, 3] or [N, 3, 3] matrix, got shape {list(transform.shape)}")
        return self.synthesize(self.map(z, labels, truncation, truncation_cutoff), noise_mode, transform)
