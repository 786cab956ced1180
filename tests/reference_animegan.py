"""The AnimeGANv2 PyTorch port's ``Generator`` (bryandlee/animegan2-pytorch ``model.py``), rewritten
for the tests from the published structure.

Same module tree, layer for layer and in the same order, so its ``state_dict`` has the port's keys
(``block_a.0.1.weight``, ``block_c.1.layers.1.1.bias``, ``out_layer.0.weight``, …) and its forward
pass the port's numbers, including the port's ``forward(input, align_corners=True)`` switch.
Written independently of ``gan_studio.architectures.animegan`` (plain functions building
Sequentials) so that a wiring mistake in either shows up as different numbers.

Only the tests import this module; none of it is library code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_norm_lrelu(cin: int, cout: int, k: int = 3, s: int = 1, pad: int | tuple[int, ...] = 1, groups: int = 1,
                    bias: bool = False) -> nn.Sequential:
    """The port's ``ConvNormLReLU``: [ReflectionPad2d, Conv2d(padding=0), GroupNorm(1), LeakyReLU(0.2)]."""
    return nn.Sequential(
        nn.ReflectionPad2d(pad),
        nn.Conv2d(cin, cout, k, s, 0, groups=groups, bias=bias),
        nn.GroupNorm(1, cout, affine=True),
        nn.LeakyReLU(0.2, inplace=True),
    )


class RefInvertedResBlock(nn.Module):
    """The port's ``InvertedResBlock`` (expansion 2): ``layers`` = [1×1 CNL, depthwise CNL, 1×1 conv, GroupNorm]."""

    def __init__(self, cin: int, cout: int, expansion_ratio: int = 2) -> None:
        super().__init__()
        self.use_res_connect = cin == cout
        mid = int(round(cin * expansion_ratio))
        seq: list[nn.Module] = []
        if expansion_ratio != 1:
            seq.append(conv_norm_lrelu(cin, mid, k=1, pad=0))
        seq.append(conv_norm_lrelu(mid, mid, groups=mid, bias=True))
        seq.append(nn.Conv2d(mid, cout, 1, 1, 0, bias=False))
        seq.append(nn.GroupNorm(1, cout, affine=True))
        self.layers = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layers(x)
        if self.use_res_connect:
            y = x + y
        return y


class RefAnimeGANv2Generator(nn.Module):
    """The port's ``Generator``: ``block_a … block_e`` and ``out_layer``."""

    def __init__(self) -> None:
        super().__init__()
        asym = (0, 1, 0, 1)
        self.block_a = nn.Sequential(conv_norm_lrelu(3, 32, k=7, pad=3), conv_norm_lrelu(32, 64, s=2, pad=asym),
                                     conv_norm_lrelu(64, 64))
        self.block_b = nn.Sequential(conv_norm_lrelu(64, 128, s=2, pad=asym), conv_norm_lrelu(128, 128))
        self.block_c = nn.Sequential(
            conv_norm_lrelu(128, 128),
            RefInvertedResBlock(128, 256),
            RefInvertedResBlock(256, 256),
            RefInvertedResBlock(256, 256),
            RefInvertedResBlock(256, 256),
            conv_norm_lrelu(256, 128),
        )
        self.block_d = nn.Sequential(conv_norm_lrelu(128, 128), conv_norm_lrelu(128, 128))
        self.block_e = nn.Sequential(conv_norm_lrelu(128, 64), conv_norm_lrelu(64, 64),
                                     conv_norm_lrelu(64, 32, k=7, pad=3))
        self.out_layer = nn.Sequential(nn.Conv2d(32, 3, 1, 1, 0, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
        h = self.block_a(x)
        half_size = h.size()[-2:]
        h = self.block_c(self.block_b(h))
        if align_corners:
            h = F.interpolate(h, half_size, mode="bilinear", align_corners=True)
        else:
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        h = self.block_d(h)
        if align_corners:
            h = F.interpolate(h, x.size()[-2:], mode="bilinear", align_corners=True)
        else:
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
        h = self.block_e(h)
        return self.out_layer(h)


#: A few keys of the published state dicts (checked against the port's module tree).
PUBLISHED_KEYS_SAMPLE = (
    "block_a.0.1.weight",
    "block_a.0.2.weight",
    "block_a.0.2.bias",
    "block_b.0.1.weight",
    "block_c.1.layers.0.1.weight",
    "block_c.1.layers.1.1.weight",
    "block_c.1.layers.1.1.bias",
    "block_c.1.layers.2.weight",
    "block_c.1.layers.3.weight",
    "block_c.5.2.bias",
    "block_e.2.1.weight",
    "out_layer.0.weight",
)
