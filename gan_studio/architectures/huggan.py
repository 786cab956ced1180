"""The HugGAN sprint generators (huggingface/community-events ``huggan/pytorch``), key for key.

Two families published on the Hub as ``pytorch_model.bin`` (a plain state dict):

* :class:`HugGANUNetGenerator` — HugGAN pix2pix ``GeneratorUNet`` (``huggan/pix2pix-*``).
  Eight ``UNetDown`` blocks ``down1 … down8`` (``down{i}.model.0`` a 4×4 stride-2 conv without
  bias, then InstanceNorm2d except in ``down1`` and ``down8``, LeakyReLU(0.2), and Dropout(0.5)
  in ``down4 … down8``), seven ``UNetUp`` blocks ``up1 … up7`` (``up{i}.model.0`` a 4×4 stride-2
  transposed conv without bias, InstanceNorm2d, ReLU, Dropout(0.5) in ``up1 … up4``; the skip
  is concatenated after the block) and the head ``final`` = Upsample(×2, nearest) →
  ZeroPad2d((1, 0, 1, 0)) → Conv2d(2·ngf, out, 4, padding=1) (``final.2``) → Tanh. Every
  InstanceNorm2d is PyTorch's default: no affine parameters, no running statistics, so the
  checkpoint has no norm keys. The eighth downsampling must reach 1×1, so H and W must be
  multiples of 256 (a 2×2 map at ``down7`` is the smallest InstanceNorm accepts).
* :class:`HugGANResnetGenerator` — HugGAN CycleGAN ``GeneratorResNet`` (``huggan/sim2real_cyclegan``).
  ``model.0`` ReflectionPad2d(channels) (the *channel count* is the padding, a quirk kept as
  published), ``model.1`` 7×7 conv, ``model.4``/``model.7`` stride-2 convs, ``model.{10…}``
  residual blocks (``block.1`` and ``block.5`` 3×3 convs with reflection padding), then twice
  Upsample(×2) + 3×3 conv (``model.{10+R+1}``, ``model.{10+R+5}``) and ReflectionPad2d(channels)
  + 7×7 output conv (``model.{10+R+9}``) + Tanh. All convs have biases; InstanceNorm2d as above.

Inference behaviour is explicit. The model cards load these networks with
``PyTorchModelHubMixin.from_pretrained``, which calls ``eval()``: dropout off, and the
InstanceNorms (no running statistics) normalise each image with its own statistics in every
mode. ``HugGANUNetGenerator(inference_dropout=True)`` keeps the U-Net's dropout active in
``eval()`` instead — the pix2pix paper's test-time noise — drawing from torch's global RNG,
which the translation pipeline seeds (``pipelines.common.seeded``) so a seed gives one image.

Our ``ngf`` argument scales the channel widths (64 = the published networks, which hard-code
64); it exists so tests can build the same layout small.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..contract import Contract, Task
from .base import Generator
from .unet import InferenceDropout

__all__ = ["HugGANResnetGenerator", "HugGANUNetGenerator"]


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class _UNetDown(nn.Module):
    """HugGAN ``UNetDown``: conv 4×4/2 (no bias) [→ InstanceNorm] → LeakyReLU(0.2) [→ Dropout]."""

    def __init__(self, in_ch: int, out_ch: int, *, normalize: bool, dropout: bool, dropout_in_eval: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=False)]
        if normalize:
            layers.append(nn.InstanceNorm2d(out_ch))
        layers.append(nn.LeakyReLU(0.2))
        if dropout:
            layers.append(InferenceDropout(0.5, active_in_eval=dropout_in_eval))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(x)
        return out


class _UNetUp(nn.Module):
    """HugGAN ``UNetUp``: transposed conv 4×4/2 (no bias) → InstanceNorm → ReLU [→ Dropout], then cat(skip)."""

    def __init__(self, in_ch: int, out_ch: int, *, dropout: bool, dropout_in_eval: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=False),
            nn.InstanceNorm2d(out_ch),
            nn.ReLU(inplace=True),
        ]
        if dropout:
            layers.append(InferenceDropout(0.5, active_in_eval=dropout_in_eval))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.model(x), skip), 1)


class HugGANUNetGenerator(Generator):
    """HugGAN pix2pix translator ``G(x) -> image``, both (N, C, H, W) in [-1, 1]; H, W multiples of 256.

    Args:
        in_channels: channels of the input image (HugGAN's init argument).
        out_channels: channels of the output image (HugGAN's init argument).
        ngf: channels after ``down1``; the published networks use 64 (widths 64 … 512).
        inference_dropout: keep Dropout(0.5) active in ``eval()`` (pix2pix test-time noise,
            seeded by the pipeline). ``False`` (default) is what the model cards run
            (``from_pretrained`` puts the model in ``eval()``).
    """

    architecture = "huggan_pix2pix_unet"
    default_task = Task.TRANSLATION


    size_multiple = 256  # 8 stride-2 downsamplings to 1×1

    def __init__(self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, inference_dropout: bool = False) -> None:
        super().__init__()
        self.in_channels = _positive_int("in_channels", in_channels)
        self.out_channels = _positive_int("out_channels", out_channels)
        self.ngf = _positive_int("ngf", ngf)
        if not isinstance(inference_dropout, bool):
            raise ValueError(f"inference_dropout must be true or false, got {inference_dropout!r}")
        self.inference_dropout = inference_dropout
        g, keep = ngf, inference_dropout

        def down(i: int, o: int, normalize: bool = True, dropout: bool = False) -> _UNetDown:
            return _UNetDown(i, o, normalize=normalize, dropout=dropout, dropout_in_eval=keep)

        def up(i: int, o: int, dropout: bool = False) -> _UNetUp:
            return _UNetUp(i, o, dropout=dropout, dropout_in_eval=keep)

        self.down1 = down(in_channels, g, normalize=False)
        self.down2 = down(g, 2 * g)
        self.down3 = down(2 * g, 4 * g)
        self.down4 = down(4 * g, 8 * g, dropout=True)
        self.down5 = down(8 * g, 8 * g, dropout=True)
        self.down6 = down(8 * g, 8 * g, dropout=True)
        self.down7 = down(8 * g, 8 * g, dropout=True)
        self.down8 = down(8 * g, 8 * g, normalize=False, dropout=True)
        self.up1 = up(8 * g, 8 * g, dropout=True)
        self.up2 = up(16 * g, 8 * g, dropout=True)
        self.up3 = up(16 * g, 8 * g, dropout=True)
        self.up4 = up(16 * g, 8 * g, dropout=True)
        self.up5 = up(16 * g, 4 * g)
        self.up6 = up(8 * g, 2 * g)
        self.up7 = up(4 * g, g)
        self.final = nn.Sequential(
            nn.Upsample(scale_factor=2),
            nn.ZeroPad2d((1, 0, 1, 0)),
            nn.Conv2d(2 * g, out_channels, 4, padding=1),
            nn.Tanh(),
        )

    @property
    def contract(self) -> Contract:
        stochastic = self.inference_dropout  # see UnetGenerator.contract
        return Contract(task=Task.TRANSLATION, in_channels=self.in_channels, out_channels=self.out_channels,
                        size_multiple=self.size_multiple, native_size=256, stochastic=stochastic,
                        channels_last=frozenset() if stochastic else frozenset({"bf16"}), compile=not stochastic)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate x (N, in_channels, H, W) in [-1, 1]; H and W multiples of 256."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % self.size_multiple or x.shape[3] % self.size_multiple:
            raise ValueError(
                f"image size {x.shape[3]}×{x.shape[2]} is not a multiple of {self.size_multiple} "
                f"(the HugGAN U-Net downsamples 8 times to 1×1); resize or pad the input"
            )
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        d4 = self.down4(d3)
        d5 = self.down5(d4)
        d6 = self.down6(d5)
        d7 = self.down7(d6)
        d8 = self.down8(d7)
        u = self.up1(d8, d7)
        u = self.up2(u, d6)
        u = self.up3(u, d5)
        u = self.up4(u, d4)
        u = self.up5(u, d3)
        u = self.up6(u, d2)
        u = self.up7(u, d1)
        out: torch.Tensor = self.final(u)
        return out


class _ResidualBlock(nn.Module):
    """HugGAN CycleGAN ``ResidualBlock``: ``x + block(x)`` with reflection-padded 3×3 convs."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(features, features, 3),
            nn.InstanceNorm2d(features),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(features, features, 3),
            nn.InstanceNorm2d(features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual: torch.Tensor = self.block(x)
        return x + residual


class HugGANResnetGenerator(Generator):
    """HugGAN CycleGAN translator ``G(x) -> image``, both (N, channels, H, W) in [-1, 1].

    H and W should be multiples of 4 (two stride-2 convs, two ×2 upsamplings).

    Args:
        channels: image channels in and out (HugGAN's ``input_shape[0]``); also, as published,
            the reflection padding around the two 7×7 convs (3 for RGB keeps the size).
        num_residual_blocks: residual blocks at the bottleneck (9 in the published models).
        ngf: channels after the first conv; the published networks use 64.
        input_shape: HugGAN's own init argument ``(channels, H, W)``, accepted so that a HugGAN
            ``config.json`` works as is; only its first entry matters and it must equal ``channels``
            when both are given.
    """

    architecture = "huggan_cyclegan_resnet"
    default_task = Task.TRANSLATION


    size_multiple = 4

    def __init__(
        self,
        channels: int = 3,
        num_residual_blocks: int = 9,
        ngf: int = 64,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if input_shape is not None:
            if not isinstance(input_shape, (list, tuple)) or not input_shape:
                raise ValueError(f"input_shape must be a list like [3, 256, 256], got {input_shape!r}")
            if channels != 3 and channels != input_shape[0]:
                raise ValueError(f"channels={channels!r} contradicts input_shape={list(input_shape)!r}")
            channels = input_shape[0]
        self.channels = _positive_int("channels", channels)
        if not isinstance(num_residual_blocks, int) or isinstance(num_residual_blocks, bool) or num_residual_blocks < 0:
            raise ValueError(f"num_residual_blocks must be an int >= 0, got {num_residual_blocks!r}")
        self.num_residual_blocks = num_residual_blocks
        self.ngf = _positive_int("ngf", ngf)
        features = ngf
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(channels),
            nn.Conv2d(channels, features, 7),
            nn.InstanceNorm2d(features),
            nn.ReLU(inplace=True),
        ]
        for _ in range(2):
            layers += [
                nn.Conv2d(features, 2 * features, 3, stride=2, padding=1),
                nn.InstanceNorm2d(2 * features),
                nn.ReLU(inplace=True),
            ]
            features *= 2
        layers += [_ResidualBlock(features) for _ in range(num_residual_blocks)]
        for _ in range(2):
            layers += [
                nn.Upsample(scale_factor=2),
                nn.Conv2d(features, features // 2, 3, stride=1, padding=1),
                nn.InstanceNorm2d(features // 2),
                nn.ReLU(inplace=True),
            ]
            features //= 2
        layers += [nn.ReflectionPad2d(channels), nn.Conv2d(features, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.TRANSLATION, in_channels=self.channels, out_channels=self.channels,
                        size_multiple=self.size_multiple)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate x (N, channels, H, W) in [-1, 1]."""
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(f"x must have shape (N, {self.channels}, H, W), got {tuple(x.shape)}")
        out: torch.Tensor = self.model(x)
        return out
