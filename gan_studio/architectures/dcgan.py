"""The DCGAN generator of the PyTorch DCGAN tutorial, generalised to any power-of-two size.

At ``image_size=64`` the module is key-for-key the tutorial's ``Generator`` (``main.0 … main.12``:
ConvTranspose2d without bias, BatchNorm2d, ReLU, and a final Tanh). HugGAN's DCGAN is the same
network under the prefix ``model.``; :mod:`gan_studio.convert` renames it.

Other sizes add or remove one (ConvTranspose2d, BatchNorm2d, ReLU) block per factor of two:
the first block maps the latent to ``ngf * image_size // 8`` channels at 4×4, every following block
halves the channels and doubles the resolution, so the last hidden block has ``ngf`` channels at
``image_size // 2``, and the output layer makes ``nc`` channels at ``image_size``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = ["DCGANGenerator", "build_dcgan_body", "check_image_size", "latent_to_4d"]


def check_image_size(image_size: int) -> None:
    """Raise ``ValueError`` unless ``image_size`` is a power of two and at least 8."""
    if not isinstance(image_size, int) or isinstance(image_size, bool):
        raise ValueError(f"image_size must be an int, got {image_size!r}")
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 8 (8, 16, 32, 64, 128, …), got {image_size}")


def build_dcgan_body(in_channels: int, ngf: int, nc: int, image_size: int) -> nn.Sequential:
    """The tutorial's ``main`` stack for ``image_size`` pixels, fed a (N, in_channels, 1, 1) tensor."""
    check_image_size(image_size)
    n_hidden = image_size.bit_length() - 3  # 8 px -> 1 hidden block, 64 px -> 4
    channels = [ngf * 2 ** (n_hidden - 1 - i) for i in range(n_hidden)]  # e.g. [8ngf, 4ngf, 2ngf, ngf]
    layers: list[nn.Module] = []
    previous = in_channels
    for i, ch in enumerate(channels):
        if i == 0:  # 1×1 -> 4×4
            layers.append(nn.ConvTranspose2d(previous, ch, 4, 1, 0, bias=False))
        else:  # ×2
            layers.append(nn.ConvTranspose2d(previous, ch, 4, 2, 1, bias=False))
        layers += [nn.BatchNorm2d(ch), nn.ReLU(True)]
        previous = ch
    layers += [nn.ConvTranspose2d(previous, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def latent_to_4d(z: torch.Tensor, nz: int) -> torch.Tensor:
    """Accept z as (N, nz) or (N, nz, 1, 1) and return (N, nz, 1, 1); ``ValueError`` otherwise."""
    if z.dim() == 2 and z.shape[1] == nz:
        return z[:, :, None, None]
    if z.dim() == 4 and tuple(z.shape[1:]) == (nz, 1, 1):
        return z
    raise ValueError(f"z must have shape (N, {nz}) or (N, {nz}, 1, 1), got {tuple(z.shape)}")


class DCGANGenerator(Generator):
    """DCGAN generator: ``G(z) -> image`` in [-1, 1] of shape (N, nc, image_size, image_size).

    Args:
        nz: length of the latent vector z.
        ngf: channels of the last hidden block (the tutorial's generator feature width).
        nc: output image channels (3 for RGB, 1 for grayscale).
        image_size: output side in pixels; a power of two >= 8 (64 = the tutorial's layout).
    """

    architecture = "dcgan"
    default_task = Task.UNCONDITIONAL


    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3, image_size: int = 64) -> None:
        super().__init__()
        for name, value in (("nz", nz), ("ngf", ngf), ("nc", nc)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.nz = nz
        self.ngf = ngf
        self.nc = nc
        self.image_size = image_size
        self.main = build_dcgan_body(nz, ngf, nc, image_size)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.UNCONDITIONAL, latent_dim=self.nz, truncation="trick", out_channels=self.nc,
                        native_size=self.image_size, channels_last=frozenset({"fp32", "bf16"}))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map z (N, nz) or (N, nz, 1, 1) to images (N, nc, image_size, image_size)."""
        out: torch.Tensor = self.main(latent_to_4d(z, self.nz))
        return out
