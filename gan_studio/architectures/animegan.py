"""The AnimeGANv2 generator of the PyTorch port (bryandlee/animegan2-pytorch ``model.py``), key for key.

The port's published weights (``face_paint_512_v2.pt``, ``face_paint_512_v1.pt``,
``celeba_distill.pt``, ``paprika.pt``) are plain state dicts of its ``Generator``; this module has
the same module tree, so they load with ``load_state_dict(strict=True)``. Layout::

    block_a   conv 7×7 3→32, conv 3×3/2 32→64, conv 3×3 64→64           (full → 1/2 resolution)
    block_b   conv 3×3/2 64→128, conv 3×3 128→128                        (1/2 → 1/4)
    block_c   conv 128→128, 4 inverted residual blocks (128→256, then 256→256), conv 256→128
    (bilinear ×2)  block_d   two convs 128→128                           (1/4 → 1/2)
    (bilinear ×2)  block_e   convs 128→64, 64→64, 7×7 64→32              (1/2 → full)
    out_layer  1×1 conv 32→3 (no bias), Tanh

Every "conv" above is a ``_ConvNormLReLU``: a padding layer (index 0, reflection), the Conv2d
(index 1, no bias except the depthwise ones), ``GroupNorm(1, C)`` with affine parameters (index 2,
i.e. layer normalisation over C×H×W of each image) and LeakyReLU(0.2) (index 3). The stride-2
convs pad asymmetrically (0 left/top, 1 right/bottom). An inverted residual block is
``layers.0`` 1×1 expansion conv, ``layers.1`` depthwise 3×3 conv (with bias), ``layers.2`` 1×1
projection (no bias), ``layers.3`` GroupNorm, plus the identity when the channel counts match.

Call contract: ``G(x)`` with ``x`` (N, 3, H, W) in [-1, 1] (the port's scripts feed
``img / 127.5 - 1`` or ``to_tensor(img) * 2 - 1``) returns (N, 3, H, W) in [-1, 1] (they decode
``(y + 1) / 2``). Any H, W ≥ 8 come back at the input size with ``align_corners=True``.

``align_corners`` chooses the port's two upsampling modes: ``True`` resizes to the stored
half-resolution size and then to the input size with ``align_corners=True`` (its ``forward``
default, and what its ``face2paint`` helper uses); ``False`` upsamples by a factor of 2 with
``align_corners=False`` (what its ``test.py`` uses by default; then H and W should be multiples
of 4 for the output to have the input's size).

GroupNorm has no running statistics, so train and eval mode compute the same thing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = ["AnimeGANv2Generator"]


class _ConvNormLReLU(nn.Sequential):
    """Pad (reflect) → Conv2d → GroupNorm(1, out) → LeakyReLU(0.2) (keys 1.*, 2.*)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | tuple[int, int, int, int] = 1,
        groups: int = 1,
        bias: bool = False,
    ) -> None:
        super().__init__(
            nn.ReflectionPad2d(padding),
            nn.Conv2d(in_ch, out_ch, kernel_size=kernel_size, stride=stride, padding=0, groups=groups, bias=bias),
            nn.GroupNorm(num_groups=1, num_channels=out_ch, affine=True),
            nn.LeakyReLU(0.2, inplace=True),
        )


class _InvertedResBlock(nn.Module):
    """MobileNetV2-style block: 1×1 expand, depthwise 3×3, 1×1 project + GroupNorm; residual if shapes match."""

    def __init__(self, in_ch: int, out_ch: int, expansion_ratio: float = 2) -> None:
        super().__init__()
        self.use_res_connect = in_ch == out_ch
        hidden = int(round(in_ch * expansion_ratio))
        layers: list[nn.Module] = []
        if expansion_ratio != 1:
            layers.append(_ConvNormLReLU(in_ch, hidden, kernel_size=1, padding=0))
        layers += [
            _ConvNormLReLU(hidden, hidden, groups=hidden, bias=True),
            nn.Conv2d(hidden, out_ch, kernel_size=1, padding=0, bias=False),
            nn.GroupNorm(num_groups=1, num_channels=out_ch, affine=True),
        ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layers(x)
        return x + out if self.use_res_connect else out


class AnimeGANv2Generator(Generator):
    """AnimeGANv2 photo → anime translator ``G(x)``, both (N, 3, H, W) in [-1, 1].

    Args:
        align_corners: upsampling mode of the port's ``forward`` (see the module docstring);
            ``True`` (the port's default and its ``face2paint``) or ``False`` (its ``test.py``).
    """

    architecture = "animegan2"
    default_task = Task.TRANSLATION


    def __init__(self, align_corners: bool = True) -> None:
        super().__init__()
        if not isinstance(align_corners, bool):
            raise ValueError(f"align_corners must be true or false, got {align_corners!r}")
        self.align_corners = align_corners
        down = (0, 1, 0, 1)  # left, right, top, bottom: the port's asymmetric padding before stride 2
        self.block_a = nn.Sequential(
            _ConvNormLReLU(3, 32, kernel_size=7, padding=3),
            _ConvNormLReLU(32, 64, stride=2, padding=down),
            _ConvNormLReLU(64, 64),
        )
        self.block_b = nn.Sequential(
            _ConvNormLReLU(64, 128, stride=2, padding=down),
            _ConvNormLReLU(128, 128),
        )
        self.block_c = nn.Sequential(
            _ConvNormLReLU(128, 128),
            _InvertedResBlock(128, 256, 2),
            _InvertedResBlock(256, 256, 2),
            _InvertedResBlock(256, 256, 2),
            _InvertedResBlock(256, 256, 2),
            _ConvNormLReLU(256, 128),
        )
        self.block_d = nn.Sequential(_ConvNormLReLU(128, 128), _ConvNormLReLU(128, 128))
        self.block_e = nn.Sequential(
            _ConvNormLReLU(128, 64),
            _ConvNormLReLU(64, 64),
            _ConvNormLReLU(64, 32, kernel_size=7, padding=3),
        )
        self.out_layer = nn.Sequential(nn.Conv2d(32, 3, kernel_size=1, stride=1, padding=0, bias=False), nn.Tanh())

    def _upsample(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        if self.align_corners:
            return F.interpolate(x, size, mode="bilinear", align_corners=True)
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.TRANSLATION, in_channels=3, out_channels=3, size_multiple=4,  # ×2 resizes
                        channels_last=frozenset({"fp32", "bf16"}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate x (N, 3, H, W) in [-1, 1] to an anime-style image (N, 3, H, W) in [-1, 1]."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x must have shape (N, 3, H, W), got {tuple(x.shape)}")
        if min(x.shape[-2:]) < 8:
            raise ValueError(f"AnimeGANv2 needs images of at least 8×8 pixels, got {tuple(x.shape[-2:])}")
        out = self.block_a(x)
        half = out.shape[-2:]
        out = self.block_c(self.block_b(out))
        out = self.block_d(self._upsample(out, half))
        out = self.block_e(self._upsample(out, x.shape[-2:]))
        image: torch.Tensor = self.out_layer(out)
        return image
