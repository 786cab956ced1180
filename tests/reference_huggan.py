"""Reference-structured generators of the Hub catalogue's foreign layouts, written for the tests.

Each class rebuilds, layer for layer and in the published order, the module tree of a generator
whose weights the catalogue downloads, so that its ``state_dict`` has the published keys and its
forward pass the published numbers:

* ``RefHugGANUNet``: huggingface/community-events ``huggan/pytorch/pix2pix/modeling_pix2pix.py``
  ``GeneratorUNet`` (``UNetDown``/``UNetUp`` blocks, ``final`` head). The published class has
  fixed widths 64 … 512; ``width`` (default 64 = published) scales them for small tests.
* ``RefHugGANResNet``: the same repository's ``huggan/pytorch/cyclegan/modeling_cyclegan.py``
  ``GeneratorResNet(input_shape, num_residual_blocks)`` (``width`` as above).
* ``RefLornatangStarGAN``: Lornatang/StarGAN-PyTorch ``StarGAN`` generator (the code behind the
  ``goodfellowliu/StarGAN-PyTorch`` checkpoints): the StarGAN network under the names
  ``first_layer``, ``down_sampling``, ``trunk.N.main``, ``up_sampling``, ``last_layer``.

Plain ``nn.Dropout`` / ``nn.InstanceNorm2d`` as published: train() vs eval() behaves as the
original does. Only the tests import this module; none of it is library code.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class _RefDown(nn.Module):
    def __init__(self, in_size: int, out_size: int, normalize: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        seq: list[nn.Module] = [nn.Conv2d(in_size, out_size, 4, 2, 1, bias=False)]
        if normalize:
            seq.append(nn.InstanceNorm2d(out_size))
        seq.append(nn.LeakyReLU(0.2))
        if dropout:
            seq.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _RefUp(nn.Module):
    def __init__(self, in_size: int, out_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        seq: list[nn.Module] = [
            nn.ConvTranspose2d(in_size, out_size, 4, 2, 1, bias=False),
            nn.InstanceNorm2d(out_size),
            nn.ReLU(inplace=True),
        ]
        if dropout:
            seq.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.model(x), skip), 1)


class RefHugGANUNet(nn.Module):
    """HugGAN ``GeneratorUNet(in_channels, out_channels)``; ``width=64`` is the published network."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        w = width
        self.down1 = _RefDown(in_channels, w, normalize=False)
        self.down2 = _RefDown(w, 2 * w)
        self.down3 = _RefDown(2 * w, 4 * w)
        self.down4 = _RefDown(4 * w, 8 * w, dropout=0.5)
        self.down5 = _RefDown(8 * w, 8 * w, dropout=0.5)
        self.down6 = _RefDown(8 * w, 8 * w, dropout=0.5)
        self.down7 = _RefDown(8 * w, 8 * w, dropout=0.5)
        self.down8 = _RefDown(8 * w, 8 * w, normalize=False, dropout=0.5)
        self.up1 = _RefUp(8 * w, 8 * w, dropout=0.5)
        self.up2 = _RefUp(16 * w, 8 * w, dropout=0.5)
        self.up3 = _RefUp(16 * w, 8 * w, dropout=0.5)
        self.up4 = _RefUp(16 * w, 8 * w, dropout=0.5)
        self.up5 = _RefUp(16 * w, 4 * w)
        self.up6 = _RefUp(8 * w, 2 * w)
        self.up7 = _RefUp(4 * w, w)
        self.final = nn.Sequential(
            nn.Upsample(scale_factor=2),
            nn.ZeroPad2d((1, 0, 1, 0)),
            nn.Conv2d(2 * w, out_channels, 4, padding=1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        d4 = self.down4(d3)
        d5 = self.down5(d4)
        d6 = self.down6(d5)
        d7 = self.down7(d6)
        d8 = self.down8(d7)
        u1 = self.up1(d8, d7)
        u2 = self.up2(u1, d6)
        u3 = self.up3(u2, d5)
        u4 = self.up4(u3, d4)
        u5 = self.up5(u4, d3)
        u6 = self.up6(u5, d2)
        u7 = self.up7(u6, d1)
        return self.final(u7)


class _RefResidual(nn.Module):
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
        return x + self.block(x)


class RefHugGANResNet(nn.Module):
    """HugGAN ``GeneratorResNet(input_shape, num_residual_blocks)``; ``width=64`` is the published network."""

    def __init__(self, input_shape: Sequence[int], num_residual_blocks: int, width: int = 64) -> None:
        super().__init__()
        channels = input_shape[0]
        out_features = width
        seq: list[nn.Module] = [
            nn.ReflectionPad2d(channels),
            nn.Conv2d(channels, out_features, 7),
            nn.InstanceNorm2d(out_features),
            nn.ReLU(inplace=True),
        ]
        in_features = out_features
        for _ in range(2):
            out_features *= 2
            seq += [nn.Conv2d(in_features, out_features, 3, stride=2, padding=1), nn.InstanceNorm2d(out_features),
                    nn.ReLU(inplace=True)]
            in_features = out_features
        for _ in range(num_residual_blocks):
            seq.append(_RefResidual(out_features))
        for _ in range(2):
            out_features //= 2
            seq += [nn.Upsample(scale_factor=2), nn.Conv2d(in_features, out_features, 3, stride=1, padding=1),
                    nn.InstanceNorm2d(out_features), nn.ReLU(inplace=True)]
            in_features = out_features
        seq += [nn.ReflectionPad2d(channels), nn.Conv2d(out_features, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _tracked_in(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=True)


class _RefRCB(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            _tracked_in(channels),
            nn.ReLU(True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            _tracked_in(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + x


class RefLornatangStarGAN(nn.Module):
    """Lornatang ``StarGAN(c_dim, in_channels, out_channels, channels, num_rcb)`` generator."""

    def __init__(self, c_dim: int = 5, in_channels: int = 3, out_channels: int = 3, channels: int = 64,
                 num_rcb: int = 6) -> None:
        super().__init__()
        c = channels
        self.first_layer = nn.Sequential(nn.Conv2d(in_channels + c_dim, c, 7, 1, 3, bias=False), _tracked_in(c),
                                         nn.ReLU(True))
        self.down_sampling = nn.Sequential(
            nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), _tracked_in(2 * c), nn.ReLU(True),
            nn.Conv2d(2 * c, 4 * c, 4, 2, 1, bias=False), _tracked_in(4 * c), nn.ReLU(True),
        )
        self.trunk = nn.Sequential(*[_RefRCB(4 * c) for _ in range(num_rcb)])
        self.up_sampling = nn.Sequential(
            nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False), _tracked_in(2 * c), nn.ReLU(True),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), _tracked_in(c), nn.ReLU(True),
        )
        self.last_layer = nn.Sequential(nn.Conv2d(c, out_channels, 7, 1, 3, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        x = torch.cat([x, c], dim=1)
        return self.last_layer(self.up_sampling(self.trunk(self.down_sampling(self.first_layer(x)))))
