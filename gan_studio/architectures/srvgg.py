"""SRVGGNetCompact: Real-ESRGAN's compact super-resolution network (``realesr-general-x4v3``,
``realesr-animevideov3``), layout-exact to the published weights (BSD-3-Clause, xinntao/Real-ESRGAN).

A plain stack of 3×3 convolutions at the input resolution, every one but the last followed by an
activation, held in one list ``body`` (so keys are ``body.0.weight`` for the first convolution,
``body.1.weight`` for its PReLU slopes, …, ``body.{2 * num_conv + 2}`` for the last convolution);
the last convolution makes ``out_channels * scale²`` channels that a pixel shuffle turns into the
enlarged image, and the nearest-neighbour enlargement of the input is added, so the network learns
only the residual. Published configs: general-x4v3 ``num_feat=64, num_conv=32``; animevideov3
``num_feat=64, num_conv=16``; both ``scale=4``, PReLU.

Input and output are RGB in [0, 1] (the ``upscale`` task's contract).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = ["SRVGGNetCompact"]

ACTIVATIONS = ("prelu", "relu", "leakyrelu")


def _activation(kind: str, channels: int) -> nn.Module:
    if kind == "prelu":
        return nn.PReLU(num_parameters=channels)
    if kind == "relu":
        return nn.ReLU(inplace=True)
    return nn.LeakyReLU(negative_slope=0.1, inplace=True)


class SRVGGNetCompact(Generator):
    """Compact VGG-style upscaler ``G(x) -> x enlarged scale times`` (see the module docstring).

    Args:
        num_in_ch: channels of the input image.
        num_out_ch: channels of the output image.
        num_feat: feature channels of every hidden convolution.
        num_conv: hidden 3×3 convolutions between the first and the last.
        upscale: the enlargement factor (the pixel shuffle's).
        act_type: activation after each hidden convolution, one of ``prelu``, ``relu``, ``leakyrelu``.
    """

    architecture = "srvgg_compact"
    default_task = Task.UPSCALE

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_conv: int = 16,
                 upscale: int = 4, act_type: str = "prelu") -> None:
        super().__init__()
        for name, value in (("num_in_ch", num_in_ch), ("num_out_ch", num_out_ch), ("num_feat", num_feat),
                            ("upscale", upscale)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(num_conv, int) or isinstance(num_conv, bool) or num_conv < 0:
            raise ValueError(f"num_conv must be an int >= 0, got {num_conv!r}")
        if act_type not in ACTIVATIONS:
            raise ValueError(f"act_type must be one of {', '.join(ACTIVATIONS)}, got {act_type!r}")
        self.num_in_ch, self.num_out_ch, self.upscale = num_in_ch, num_out_ch, upscale
        self.num_conv = num_conv
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(upscale)

    @property
    def contract(self) -> Contract:
        # num_conv + 2 convolutions of radius 1, all at the input resolution
        return Contract(task=Task.UPSCALE, in_channels=self.num_in_ch, out_channels=self.num_out_ch,
                        scale=self.upscale, receptive_radius=self.num_conv + 2, auto_bf16=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The image (N, num_out_ch, H·scale, W·scale) for ``x`` (N, num_in_ch, H, W) in [0, 1] (not clamped)."""
        if x.dim() != 4 or x.shape[1] != self.num_in_ch:
            raise ValueError(f"x must have shape (N, {self.num_in_ch}, H, W), got {tuple(x.shape)}")
        h = x
        for layer in self.body:
            h = layer(h)
        out: torch.Tensor = self.upsampler(h)
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")
