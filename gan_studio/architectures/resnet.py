"""The CycleGAN reference ``ResnetGenerator`` (junyanz/pytorch-CycleGAN-and-pix2pix), key for key.

Layout with ``n_blocks=9`` (``resnet_9blocks``), ``norm="instance"``, no dropout::

    model.0  ReflectionPad2d(3)        model.10 … model.18  residual blocks
    model.1  Conv2d 7×7                model.19, model.22   ConvTranspose2d (stride 2, output_padding 1)
    model.4, model.7  Conv2d stride 2  model.26             Conv2d 7×7 -> output_nc, then Tanh

and inside each residual block ``conv_block.{1,5}`` (``conv_block.{1,6}`` with ``use_dropout``,
because a Dropout sits after the first ReLU).

Normalisation follows the reference's ``get_norm_layer``: ``"instance"`` is InstanceNorm2d without
affine parameters or running statistics (each image is normalised with its own statistics in
training and inference alike), ``"batch"`` is an affine BatchNorm2d, ``"none"`` is no
normalisation. Convolutions carry a bias only with ``"instance"`` (the reference's ``use_bias``
rule); the output convolution always has one.

Inference: models are used in ``eval()``. With ``norm="instance"`` (every published CycleGAN
generator) train and eval compute the same thing. With ``norm="batch"`` eval() uses the stored
running statistics and with ``use_dropout=True`` eval() turns the dropout off (plain PyTorch
semantics; the reference's ``test.py`` without ``--eval`` would use batch statistics and keep
dropout on).
"""

from __future__ import annotations

import torch
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = ["NORMS", "ResnetBlock", "ResnetGenerator", "make_norm"]

NORMS = ("instance", "batch", "none")


def make_norm(norm: str, channels: int) -> nn.Module:
    """The reference's norm layer for ``norm`` in :data:`NORMS`."""
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "batch":
        return nn.BatchNorm2d(channels, affine=True)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; choose one of: {', '.join(NORMS)}")


class ResnetBlock(nn.Module):
    """Residual block ``x + conv_block(x)`` with reflection padding (reference ``ResnetBlock``)."""

    def __init__(self, dim: int, norm: str, use_dropout: bool, use_bias: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
            make_norm(norm, dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
            make_norm(norm, dim),
        ]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual: torch.Tensor = self.conv_block(x)
        return x + residual


class ResnetGenerator(Generator):
    """CycleGAN translator ``G(x) -> image``, both (N, C, H, W) in [-1, 1].

    H and W should be multiples of 4 (two stride-2 downsamplings; other sizes come back rounded).

    Args:
        input_nc: channels of the input image.
        output_nc: channels of the output image.
        ngf: channels after the first convolution (64 in the published models).
        n_blocks: residual blocks at the bottleneck (9 = ``resnet_9blocks``, 6 = ``resnet_6blocks``).
        norm: ``"instance"`` (published CycleGAN), ``"batch"`` or ``"none"``.
        use_dropout: dropout (p=0.5) inside the residual blocks; shifts ``conv_block`` indices.
    """

    architecture = "cyclegan_resnet"
    default_task = Task.TRANSLATION


    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: str = "instance",
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of: {', '.join(NORMS)}")
        if not isinstance(n_blocks, int) or isinstance(n_blocks, bool) or n_blocks < 0:
            raise ValueError(f"n_blocks must be an int >= 0, got {n_blocks!r}")
        for name, value in (("input_nc", input_nc), ("output_nc", output_nc), ("ngf", ngf)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.input_nc = input_nc
        self.output_nc = output_nc
        self.ngf = ngf
        self.n_blocks = n_blocks
        self.norm = norm
        self.use_dropout = bool(use_dropout)
        use_bias = norm == "instance"

        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
            make_norm(norm, ngf),
            nn.ReLU(True),
        ]
        ch = ngf
        for _ in range(2):  # downsample ×2, doubling channels
            layers += [
                nn.Conv2d(ch, ch * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                make_norm(norm, ch * 2),
                nn.ReLU(True),
            ]
            ch *= 2
        layers += [ResnetBlock(ch, norm, self.use_dropout, use_bias) for _ in range(n_blocks)]
        for _ in range(2):  # upsample ×2, halving channels
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=use_bias),
                make_norm(norm, ch // 2),
                nn.ReLU(True),
            ]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.TRANSLATION, in_channels=self.input_nc, out_channels=self.output_nc,
                        size_multiple=4)  # two stride-2 convolutions and their transposes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate x (N, input_nc, H, W) in [-1, 1] to (N, output_nc, H, W) in [-1, 1]."""
        if x.dim() != 4 or x.shape[1] != self.input_nc:
            raise ValueError(f"x must have shape (N, {self.input_nc}, H, W), got {tuple(x.shape)}")
        out: torch.Tensor = self.model(x)
        return out
