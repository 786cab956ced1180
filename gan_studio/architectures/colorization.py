"""A small U-Net that predicts Lab chrominance from lightness (our own layout).

Input ``L`` is (N, 1, H, W) with ``L = L*/50 - 1`` in [-1, 1]; output ``ab`` is (N, 2, H, W) with
``ab = ab*/110``, in [-1, 1] through a final tanh. H and W must be multiples of ``2 ** depth``
(16 with the default ``depth=4``); the colorization pipeline pads the input to such a size.

Structure (default ``base_channels=32, depth=4``, about 1.6 M parameters): a stem of two 3×3
convolutions at full resolution, then per level a stride-2 3×3 convolution and a 3×3
convolution (channels ``base * 2**level``, capped at ``4 * base``); the decoder upsamples
(nearest), concatenates the encoder feature of the same resolution and applies one 3×3
convolution; a 1×1 convolution and tanh make the two output channels. Every hidden convolution
is followed by GroupNorm (no running statistics, so train and eval agree and single images
work) and LeakyReLU(0.2).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = ["ColorizationUNet"]


def _conv_block(in_ch: int, out_ch: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(math.gcd(8, out_ch), out_ch),
        nn.LeakyReLU(0.2, inplace=True),
    )


class ColorizationUNet(Generator):
    """Colorizer ``G(L) -> ab``; see the module docstring for value ranges and size rules.

    Args:
        base_channels: channels at full resolution; deeper levels double it, up to 4×.
        depth: number of stride-2 downsamplings; H and W must be multiples of ``2 ** depth``.
    """

    architecture = "colorization_unet"
    default_task = Task.COLORIZATION


    def __init__(self, base_channels: int = 32, depth: int = 4) -> None:
        super().__init__()
        if not isinstance(base_channels, int) or isinstance(base_channels, bool) or base_channels < 1:
            raise ValueError(f"base_channels must be a positive int, got {base_channels!r}")
        if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 8:
            raise ValueError(f"depth must be an int in 1 … 8, got {depth!r}")
        self.base_channels = base_channels
        self.depth = depth
        channels = [base_channels * 2 ** min(level, 2) for level in range(depth + 1)]
        self.channels = channels
        self.stem = nn.Sequential(_conv_block(1, channels[0]), _conv_block(channels[0], channels[0]))
        self.down = nn.ModuleList(
            nn.Sequential(_conv_block(channels[i], channels[i + 1], stride=2), _conv_block(channels[i + 1], channels[i + 1]))
            for i in range(depth)
        )
        # up[i] takes level i+1 (upsampled) concatenated with the skip from level i -> channels[i]
        self.up = nn.ModuleList(_conv_block(channels[i + 1] + channels[i], channels[i]) for i in range(depth))
        self.head = nn.Conv2d(channels[0], 2, kernel_size=1)

    @property
    def size_multiple(self) -> int:
        """H and W of the input must be multiples of this (``2 ** depth``)."""
        return int(2**self.depth)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.COLORIZATION, in_channels=1, out_channels=2, size_multiple=self.size_multiple,
                        channels_last=frozenset({"fp32", "bf16"}))

    def forward(self, L: torch.Tensor) -> torch.Tensor:  # L is the Lab channel's name
        """Predict ab (N, 2, H, W) in [-1, 1] from L (N, 1, H, W) in [-1, 1]."""
        if L.dim() != 4 or L.shape[1] != 1:
            raise ValueError(f"L must have shape (N, 1, H, W), got {tuple(L.shape)}")
        m = self.size_multiple
        if L.shape[2] % m or L.shape[3] % m:
            raise ValueError(
                f"image size {L.shape[3]}×{L.shape[2]} is not a multiple of {m} (2**depth with depth={self.depth}); pad it first"
            )
        skips = [self.stem(L)]
        for block in self.down:
            skips.append(block(skips[-1]))
        h = skips.pop()
        for i in reversed(range(self.depth)):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = self.up[i](torch.cat([h, skips[i]], dim=1))
        return torch.tanh(self.head(h))
