"""FastGAN (Liu et al. 2021, "Towards Faster and Stabilized GAN Training for High-fidelity Few-shot
Image Synthesis") in the layout of the HugGAN few-shot models (``huggan/fastgan-few-shot-*``, MIT).

Those repositories hold ``pytorch_model.bin`` (a plain state dict, 117 MB, no ``config.json``) for
their ``Generator(in_channels=256, out_channels=3)`` (``models.py`` + ``layers.py`` in each repo):
FastGAN's generator at 1024 px with the reference channel table (ngf 64) and nz 256. The module tree
and keys are theirs:

* ``_init._layers``: ``0._conv`` a spectral-normed 4×4 transposed convolution nz -> 2·C4
  (``weight_orig``, ``weight_u``, ``weight_v``), ``1`` batch norm, ``2`` GLU;
* ``_upsample_{8,32,128,512}`` (FastGAN's ``UpBlockComp``): ``_layers`` = nearest ×2, ``1._conv``
  3×3 conv, ``2._weight`` noise injection, ``3`` batch norm, GLU, ``5._conv``, ``6._weight``, ``7``
  batch norm, GLU;
* ``_upsample_{16,64,256,1024}`` (``UpBlock``): nearest ×2, ``1._conv``, ``2`` batch norm, GLU;
* ``_sle_{64,128,256,512}`` (skip-layer excitation): adaptive average pool to 4×4, ``1._conv`` 4×4
  conv, SiLU, ``3._conv`` 1×1 conv, sigmoid; multiplies the larger feature map;
* ``_out_128`` (1×1 conv + tanh, the small image) and ``_out_{im_size}`` (3×3 conv + tanh).

Every convolution has no bias and is spectral-normed with ``torch.nn.utils.spectral_norm``, so the
stored ``weight_u``/``weight_v`` are used exactly as torch does in eval mode (σ = uᵀ W v, no power
iteration). The upstream FastGAN-pytorch ``Generator(ngf, nz, nc, im_size)`` is the same network
under other names (``init.init.0``, ``feat_8 …``, ``se_64 …``, ``to_128``, ``to_big``); its
``im_size`` 256 and 512 variants (fewer blocks) are built here under the names above.

Noise injections draw ``randn(N, 1, H, W)`` from torch's global RNG on every forward pass, in
block order (8, 32, 128, 512 px, two per block), as the reference does: ``noise_mode="random"``
(the pipeline seeds the RNG), or ``"none"`` (no noise, deterministic).
"""

from __future__ import annotations

import torch
from torch import nn

from ..contract import Contract, Task
from .base import Generator
from .dcgan import latent_to_4d

__all__ = ["FastGANGenerator", "NOISE_MODES"]

NOISE_MODES = ("random", "none")
IM_SIZES = (256, 512, 1024)
# FastGAN's channel multipliers (channels = int(multiplier * ngf)); ngf 64 gives HugGAN's table.
CHANNEL_MULTIPLIERS = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
# Blocks with two convolutions and two noise injections (FastGAN's UpBlockComp); the others have one.
NOISY_SIZES = (8, 32, 128, 512)


class SpectralConv(nn.Module):
    """A spectral-normed convolution kept under ``_conv`` (keys ``_conv.weight_orig/_u/_v``)."""

    def __init__(self, conv: nn.Module) -> None:
        super().__init__()
        self._conv = nn.utils.spectral_norm(conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self._conv(x)
        return y


def conv(in_ch: int, out_ch: int, kernel: int) -> SpectralConv:
    """A bias-free spectral-normed convolution with 'same' padding for odd kernels, none for 4×4."""
    return SpectralConv(nn.Conv2d(in_ch, out_ch, kernel, 1, kernel // 2 if kernel % 2 else 0, bias=False))


class Noise(nn.Module):
    """``x + _weight · n``, n ~ N(0, 1) of shape (N, 1, H, W) drawn from torch's global RNG."""

    def __init__(self) -> None:
        super().__init__()
        self._weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if noise_mode == "none":
            return x
        n, _, h, w = x.shape
        noise = torch.randn(n, 1, h, w, device=x.device)
        return self._weight * noise.to(x.dtype) + x


class Block(nn.Module):
    """A ``_layers`` stack whose noise injections receive the noise mode."""

    _layers: nn.Sequential

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        for layer in self._layers:
            x = layer(x, noise_mode) if isinstance(layer, Noise) else layer(x)
        return x


class InitLayer(Block):
    """z (N, nz, 1, 1) -> (N, out_ch, 4, 4)."""

    def __init__(self, nz: int, out_ch: int) -> None:
        super().__init__()
        self._layers = nn.Sequential(SpectralConv(nn.ConvTranspose2d(nz, out_ch * 2, 4, 1, 0, bias=False)),
                                     nn.BatchNorm2d(out_ch * 2), nn.GLU(dim=1))


class UpBlock(Block):
    """Nearest ×2, 3×3 conv, batch norm, GLU (with ``noisy``: noise after each of two convs)."""

    def __init__(self, in_ch: int, out_ch: int, *, noisy: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"), conv(in_ch, out_ch * 2, 3)]
        if noisy:
            layers += [Noise(), nn.BatchNorm2d(out_ch * 2), nn.GLU(dim=1), conv(out_ch, out_ch * 2, 3), Noise()]
        layers += [nn.BatchNorm2d(out_ch * 2), nn.GLU(dim=1)]
        self._layers = nn.Sequential(*layers)


class SLEBlock(nn.Module):
    """Skip-layer excitation: ``high · sigmoid(conv1×1(SiLU(conv4×4(pool4(low)))))``."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self._layers = nn.Sequential(nn.AdaptiveAvgPool2d(4), conv(in_ch, out_ch, 4), nn.SiLU(),
                                     conv(out_ch, out_ch, 1), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        gate: torch.Tensor = self._layers(low)
        return high * gate


class FastGANGenerator(Generator):
    """FastGAN generator: ``G(z) -> image`` (N, nc, im_size, im_size) in [-1, 1].

    Args:
        nz: length of z (HugGAN's ``in_channels``; 256 in the HugGAN models, 100 upstream's default).
        ngf: channel width (channels per resolution = FastGAN's multipliers × ngf; 64 in both).
        nc: output image channels (HugGAN's ``out_channels``).
        im_size: output side, 256, 512 or 1024 (1024 in the HugGAN models).
        inference_noise: what the noise injections add when a call names no ``noise_mode``:
            ``"random"`` (fresh normal noise from torch's global RNG, as the reference code does;
            the pipeline seeds it) or ``"none"``.
    """

    architecture = "fastgan"
    default_task = Task.UNCONDITIONAL

    def __init__(self, nz: int = 256, ngf: int = 64, nc: int = 3, im_size: int = 1024,
                 inference_noise: str = "random") -> None:
        super().__init__()
        for name, value in (("nz", nz), ("ngf", ngf), ("nc", nc)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if im_size not in IM_SIZES:
            raise ValueError(f"im_size must be one of {IM_SIZES}, got {im_size!r}")
        if inference_noise not in NOISE_MODES:
            raise ValueError(f"unknown inference_noise {inference_noise!r}; choose one of: {', '.join(NOISE_MODES)}")
        sizes = [s for s in CHANNEL_MULTIPLIERS if s <= im_size]
        ch = {s: int(CHANNEL_MULTIPLIERS[s] * ngf) for s in sizes}
        if ch[im_size] < 1:
            raise ValueError(f"ngf {ngf} leaves no channels at {im_size} px (needs ngf >= {int(1 / CHANNEL_MULTIPLIERS[im_size])})")
        self.nz, self.ngf, self.nc, self.im_size, self.inference_noise = nz, ngf, nc, im_size, inference_noise
        self.sizes = sizes[1:]  # the upsampling resolutions, 8 … im_size
        self._init = InitLayer(nz, ch[4])
        for s in self.sizes:
            self.add_module(f"_upsample_{s}", UpBlock(ch[s // 2], ch[s], noisy=s in NOISY_SIZES))
        for s in (64, 128, 256, 512):
            if s <= im_size and s < 1024:
                self.add_module(f"_sle_{s}", SLEBlock(ch[s // 16], ch[s]))
        self._out_128 = nn.Sequential(conv(ch[128], nc, 1), nn.Tanh())
        self.add_module(f"_out_{im_size}", nn.Sequential(conv(ch[im_size], nc, 3), nn.Tanh()))

    @property
    def contract(self) -> Contract:
        stochastic = self.inference_noise == "random"
        # Noise drawn from torch's global RNG in memory order: channels-last or compiled code could
        # change the images, so a model that draws noise runs as it is (see UnetGenerator.contract).
        return Contract(task=Task.UNCONDITIONAL, latent_dim=self.nz, truncation="trick", out_channels=self.nc,
                        native_size=self.im_size, stochastic=stochastic, compile=not stochastic,
                        auto_bf16=False)  # bf16 not measured (bench/): fp32 unless asked

    def images(self, z: torch.Tensor, noise_mode: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(image, small)``: the im_size image and the 128 px image, as the HugGAN model card's
        ``gan_images, _ = generator(noise)`` receives them."""
        mode = self.inference_noise if noise_mode is None else noise_mode
        if mode not in NOISE_MODES:
            raise ValueError(f"unknown noise_mode {mode!r}; choose one of: {', '.join(NOISE_MODES)}")
        feats = {4: self._init(latent_to_4d(z, self.nz), mode)}
        for s in self.sizes:
            x = getattr(self, f"_upsample_{s}")(feats[s // 2], mode)
            if 64 <= s <= 512:
                x = getattr(self, f"_sle_{s}")(feats[s // 16], x)
            feats[s] = x
        big = getattr(self, f"_out_{self.im_size}")(feats[self.im_size])
        return big, self._out_128(feats[128])

    def forward(self, z: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """Map z (N, nz) or (N, nz, 1, 1) to images (N, nc, im_size, im_size) in [-1, 1]."""
        return self.images(z, noise_mode)[0]
