"""Reference-structured generators, rewritten for the tests from the published code's structure.

Each class reproduces, layer for layer and in the same order, the module tree of a published
generator so that its ``state_dict`` has the published keys and its forward pass the published
numbers:

* ``TutorialDCGAN``: the PyTorch DCGAN tutorial ``Generator`` (``main`` Sequential, 64 px).
* ``HugGANDCGAN``: HugGAN's (huggingface/community-events) DCGAN ``Generator``, same network
  under ``model``.
* ``RefResnetGenerator`` / ``RefResnetBlock``: junyanz/pytorch-CycleGAN-and-pix2pix
  ``ResnetGenerator`` / ``ResnetBlock`` (``norm_layer`` as in ``get_norm_layer``, the
  ``use_bias`` rule, reflection padding, ConvTranspose2d with output_padding=1).
* ``RefUnetGenerator`` / ``RefUnetSkipConnectionBlock``: the same repository's U-Net.
* ``RefStarGANGenerator`` / ``RefStarGANResidualBlock``: yunjey/stargan ``model.py``.

Only the tests import this module; none of it is library code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn


def reference_norm_layer(norm_type: str, *, legacy_instance: bool = False) -> Callable[[int], nn.Module]:
    """The reference ``get_norm_layer``. ``legacy_instance`` gives the 2018 code's InstanceNorm
    with ``track_running_stats=True``, whose checkpoints carry running statistics."""
    if norm_type == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True)
    if norm_type == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=legacy_instance)
    if norm_type == "none":
        return lambda channels: nn.Identity()
    raise ValueError(norm_type)


def _reference_use_bias(norm_layer: Callable[[int], nn.Module]) -> bool:
    # The reference: conv bias only when the norm layer is InstanceNorm2d (partial or class).
    func = norm_layer.func if isinstance(norm_layer, functools.partial) else norm_layer
    return func is nn.InstanceNorm2d


class TutorialDCGAN(nn.Module):
    """DCGAN tutorial generator: 1×1 latent -> 4 -> 8 -> 16 -> 32 -> 64 px."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class HugGANDCGAN(nn.Module):
    """HugGAN's DCGAN generator: the tutorial network stored as ``model``; init args as published."""

    def __init__(self, num_channels: int = 3, latent_dim: int = 100, hidden_size: int = 64) -> None:
        super().__init__()
        self.model = TutorialDCGAN(latent_dim, hidden_size, num_channels).main

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.model(noise)


class RefResnetBlock(nn.Module):
    def __init__(self, dim: int, norm_layer: Callable[[int], nn.Module], use_dropout: bool, use_bias: bool) -> None:
        super().__init__()
        block: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias), norm_layer(dim), nn.ReLU(True)]
        if use_dropout:
            block.append(nn.Dropout(0.5))
        block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class RefResnetGenerator(nn.Module):
    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        ngf: int = 64,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
        use_dropout: bool = False,
        n_blocks: int = 6,
    ) -> None:
        super().__init__()
        use_bias = _reference_use_bias(norm_layer)
        seq: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0, bias=use_bias), norm_layer(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2**i
            seq += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                norm_layer(ngf * mult * 2),
                nn.ReLU(True),
            ]
        for _ in range(n_blocks):
            seq.append(RefResnetBlock(ngf * 4, norm_layer, use_dropout, use_bias))
        for i in range(2):
            mult = 2 ** (2 - i)
            seq += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=use_bias),
                norm_layer(ngf * mult // 2),
                nn.ReLU(True),
            ]
        seq += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class RefUnetSkipConnectionBlock(nn.Module):
    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        use_bias = _reference_use_bias(norm_layer)
        if input_nc is None:
            input_nc = outer_nc
        down_conv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        if outermost:
            up_conv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            seq = [down_conv, submodule, nn.ReLU(True), up_conv, nn.Tanh()]
        elif innermost:
            up_conv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=use_bias)
            seq = [nn.LeakyReLU(0.2, True), down_conv, nn.ReLU(True), up_conv, norm_layer(outer_nc)]
        else:
            up_conv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=use_bias)
            seq = [nn.LeakyReLU(0.2, True), down_conv, norm_layer(inner_nc), submodule, nn.ReLU(True), up_conv, norm_layer(outer_nc)]
            if use_dropout:
                seq.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class RefUnetGenerator(nn.Module):
    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        num_downs: int,
        ngf: int = 64,
        norm_layer: Callable[[int], nn.Module] = nn.BatchNorm2d,
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        block = RefUnetSkipConnectionBlock(ngf * 8, ngf * 8, norm_layer=norm_layer, innermost=True)
        for _ in range(num_downs - 5):
            block = RefUnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm_layer=norm_layer, use_dropout=use_dropout)
        block = RefUnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm_layer=norm_layer)
        block = RefUnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm_layer=norm_layer)
        block = RefUnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm_layer=norm_layer)
        self.model = RefUnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, norm_layer=norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _stargan_norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=True)


class RefStarGANResidualBlock(nn.Module):
    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim_in, dim_out, 3, stride=1, padding=1, bias=False),
            _stargan_norm(dim_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim_out, dim_out, 3, stride=1, padding=1, bias=False),
            _stargan_norm(dim_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class RefStarGANGenerator(nn.Module):
    def __init__(self, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6) -> None:
        super().__init__()
        seq: list[nn.Module] = [nn.Conv2d(3 + c_dim, conv_dim, 7, stride=1, padding=3, bias=False), _stargan_norm(conv_dim), nn.ReLU(inplace=True)]
        dim = conv_dim
        for _ in range(2):
            seq += [nn.Conv2d(dim, dim * 2, 4, stride=2, padding=1, bias=False), _stargan_norm(dim * 2), nn.ReLU(inplace=True)]
            dim *= 2
        for _ in range(repeat_num):
            seq.append(RefStarGANResidualBlock(dim, dim))
        for _ in range(2):
            seq += [nn.ConvTranspose2d(dim, dim // 2, 4, stride=2, padding=1, bias=False), _stargan_norm(dim // 2), nn.ReLU(inplace=True)]
            dim //= 2
        seq += [nn.Conv2d(dim, 3, 7, stride=1, padding=3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        # The reference replicates the domain vector spatially with view + repeat.
        c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


@torch.no_grad()
def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Fill every parameter and norm buffer with seeded random values (in place), so that
    layout or wiring mistakes change the numbers. Returns ``module``."""
    gen = torch.Generator().manual_seed(seed)
    for name, param in module.named_parameters():
        if param.ndim == 1 and name.endswith("weight"):  # norm scale
            param.copy_(torch.rand(param.shape, generator=gen) + 0.5)
        else:
            fan_in = param[0].numel() if param.ndim > 1 else 1
            param.copy_(torch.randn(param.shape, generator=gen) / fan_in**0.5)
    for name, buf in module.named_buffers():
        if name.endswith("running_mean"):
            buf.copy_(torch.randn(buf.shape, generator=gen) * 0.3)
        elif name.endswith("running_var"):
            buf.copy_(torch.rand(buf.shape, generator=gen) + 0.5)
        elif name.endswith("num_batches_tracked"):
            buf.fill_(int(torch.randint(1, 1000, (1,), generator=gen)))
    return module
