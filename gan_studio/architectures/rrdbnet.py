"""RRDBNet: the ESRGAN / Real-ESRGAN generator (``RealESRGAN_x4plus``, ``RealESRGAN_x2plus``,
``RealESRGAN_x4plus_anime_6B``), layout-exact to the published weights (BSD-3-Clause, BasicSR's
``basicsr/archs/rrdbnet_arch.py``).

``conv_first`` → ``num_block`` residual-in-residual dense blocks ``body.{i}`` (each three dense
blocks ``rdb1..rdb3`` of five 3×3 convolutions ``conv1..conv5``, growth ``num_grow_ch``, LeakyReLU
0.2, residuals scaled by 0.2) → ``conv_body`` plus the long skip → two nearest ×2 enlargements each
followed by a convolution (``conv_up1``, ``conv_up2``) → ``conv_hr`` → ``conv_last``. The network
always enlarges ×4 internally; for ``scale=2`` (``scale=1``) the input is first pixel-unshuffled by 2
(4), so it reads 4× (16×) the channels and its sides must be multiples of 2 (4).
Published configs: x4plus and x2plus ``num_block=23``, anime_6B ``num_block=6``; all ``num_feat=64,
num_grow_ch=32``.

Input and output are RGB in [0, 1] (the ``upscale`` task's contract).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = ["RRDBNet"]

SCALES = (1, 2, 4)
RESIDUAL_SCALE = 0.2


class _DenseBlock(nn.Module):
    """Five densely connected 3×3 convolutions; the output is ``0.2 * conv5(...) + x``."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        out: torch.Tensor = self.conv5(torch.cat(feats, 1))
        return out * RESIDUAL_SCALE + x


class _RRDB(nn.Module):
    """Three dense blocks in a row with a scaled residual around them."""

    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.rdb1 = _DenseBlock(num_feat, num_grow_ch)
        self.rdb2 = _DenseBlock(num_feat, num_grow_ch)
        self.rdb3 = _DenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.rdb3(self.rdb2(self.rdb1(x)))
        return out * RESIDUAL_SCALE + x


class RRDBNet(Generator):
    """ESRGAN's RRDB network ``G(x) -> x enlarged scale times`` (see the module docstring).

    Args:
        num_in_ch: channels of the input image.
        num_out_ch: channels of the output image.
        scale: the enlargement factor, one of 1, 2, 4 (2 and 1 pixel-unshuffle the input first).
        num_feat: feature channels of the trunk.
        num_block: residual-in-residual dense blocks in the trunk (23 in x4plus/x2plus, 6 in anime_6B).
        num_grow_ch: growth channels of each dense convolution.
    """

    architecture = "rrdbnet"
    default_task = Task.UPSCALE

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, scale: int = 4, num_feat: int = 64,
                 num_block: int = 23, num_grow_ch: int = 32) -> None:
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(map(str, SCALES))}, got {scale!r}")
        for name, value in (("num_in_ch", num_in_ch), ("num_out_ch", num_out_ch), ("num_feat", num_feat),
                            ("num_grow_ch", num_grow_ch)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(num_block, int) or isinstance(num_block, bool) or num_block < 0:
            raise ValueError(f"num_block must be an int >= 0, got {num_block!r}")
        self.scale = scale
        self.num_in_ch, self.num_out_ch, self.num_block = num_in_ch, num_out_ch, num_block
        self.unshuffle = 4 // scale  # 1 (none), 2 or 4
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(_RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    @property
    def contract(self) -> Contract:
        # 2 + 15·num_block convolutions at the trunk's resolution, then ones at ×2 and ×4: the exact
        # radius is far beyond any tile padding, so tiles are padded by the pipeline's default instead
        radius = (2 + 15 * self.num_block) * self.unshuffle + 3
        return Contract(task=Task.UPSCALE, in_channels=self.num_in_ch, out_channels=self.num_out_ch,
                        scale=self.scale, size_multiple=self.unshuffle, receptive_radius=radius, auto_bf16=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The image (N, num_out_ch, H·scale, W·scale) for ``x`` (N, num_in_ch, H, W) in [0, 1] (not clamped)."""
        if x.dim() != 4 or x.shape[1] != self.num_in_ch:
            raise ValueError(f"x must have shape (N, {self.num_in_ch}, H, W), got {tuple(x.shape)}")
        if self.unshuffle > 1:
            if x.shape[2] % self.unshuffle or x.shape[3] % self.unshuffle:
                raise ValueError(f"image size {x.shape[3]}×{x.shape[2]} is not a multiple of {self.unshuffle} "
                                 f"(scale {self.scale}); pad it first")
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        out: torch.Tensor = self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))
        return out
