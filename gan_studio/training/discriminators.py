"""Discriminators used only in training (the studio never loads them).

* :class:`DigitsDiscriminator`: a small spectral-normalised CNN for 32×32 images, optionally
  class-conditional through a projection head (Miyato & Koyama 2018).
* :class:`PatchDiscriminator`: a spectral-normalised PatchGAN (Isola et al. 2017) for translation
  and colorization; it judges overlapping patches, so it works at any input size.
* :class:`StarGANDiscriminator`: PatchGAN real/fake map + an attribute-classification head
  (Choi et al. 2018).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["DigitsDiscriminator", "PatchDiscriminator", "StarGANDiscriminator", "projection_logits"]


def projection_logits(linear: nn.Module, embed: nn.Module | None, h: torch.Tensor,
                      y: torch.Tensor | None) -> torch.Tensor:
    """A projection discriminator's head (Miyato & Koyama, 2018) on pooled features ``h`` (N, C):
    ``linear(h)``, plus ``<embed(y), h>`` when the discriminator is class-conditional (``embed`` set)."""
    out: torch.Tensor = linear(h).squeeze(1)
    if embed is not None:
        if y is None:
            raise ValueError("this discriminator is class-conditional: pass labels y")
        out = out + (embed(y) * h).sum(dim=1)
    return out


def _sn(module: nn.Module, enabled: bool = True) -> nn.Module:
    return spectral_norm(module) if enabled else module


class DigitsDiscriminator(nn.Module):
    """``D(x[, y]) -> logits (N,)`` for (N, nc, 32, 32) images.

    Args:
        nc: input channels.
        ndf: channels of the first convolution (doubled twice).
        num_classes: 0 for unconditional; otherwise a projection term ``<embed(y), h>`` is added.
        image_size: input side (a power of two >= 8).
    """

    def __init__(self, nc: int = 1, ndf: int = 32, num_classes: int = 0, image_size: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, ch, size = nc, ndf, image_size
        while size > 4:  # one stride-2 4×4 convolution per halving, DCGAN-style
            layers += [_sn(nn.Conv2d(ch_in, ch, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            ch_in, ch, size = ch, ch * 2, size // 2
        self.features = nn.Sequential(*layers)
        self.out_channels = ch_in
        self.linear = _sn(nn.Linear(ch_in, 1))
        self.embed = _sn(nn.Embedding(num_classes, ch_in)) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x).sum(dim=(2, 3))  # global sum pooling
        return projection_logits(self.linear, self.embed, h, y)


class PatchDiscriminator(nn.Module):
    """PatchGAN: ``D(x) -> (N, 1, H', W')`` logits, one per overlapping patch.

    Args:
        in_channels: input channels (e.g. 3, or 1 + 2 for an L-conditioned ab critic).
        ndf: channels of the first convolution.
        n_layers: number of stride-2 convolutions (receptive field 34 px with 2, 70 px with 3).
        spectral: spectral normalisation on every convolution.
    """

    def __init__(self, in_channels: int = 3, ndf: int = 32, n_layers: int = 3, spectral: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = [_sn(nn.Conv2d(in_channels, ndf, 4, 2, 1), spectral), nn.LeakyReLU(0.2, True)]
        ch = ndf
        for i in range(1, n_layers):
            nxt = min(ndf * 2**i, ndf * 8)
            layers += [_sn(nn.Conv2d(ch, nxt, 4, 2, 1), spectral), nn.LeakyReLU(0.2, True)]
            ch = nxt
        nxt = min(ch * 2, ndf * 8)
        layers += [_sn(nn.Conv2d(ch, nxt, 4, 1, 1), spectral), nn.LeakyReLU(0.2, True),
                   _sn(nn.Conv2d(nxt, 1, 4, 1, 1), spectral)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.main(x)
        return logits


class StarGANDiscriminator(nn.Module):
    """``D(x) -> (patch logits (N, 1, h, w), attribute logits (N, c_dim))`` (StarGAN's D, smaller).

    With ``n_classes`` it also has a content-classification head (:meth:`classify_content`).

    Args:
        image_size: input side (power of two).
        conv_dim: channels of the first convolution (doubled per layer).
        c_dim: number of binary attributes.
        repeat_num: number of stride-2 convolutions.
    """

    def __init__(self, image_size: int = 32, conv_dim: int = 32, c_dim: int = 3, repeat_num: int = 3,
                 n_classes: int = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = [_sn(nn.Conv2d(3, conv_dim, 4, 2, 1)), nn.LeakyReLU(0.01, True)]
        ch = conv_dim
        for _ in range(1, repeat_num):
            layers += [_sn(nn.Conv2d(ch, ch * 2, 4, 2, 1)), nn.LeakyReLU(0.01, True)]
            ch *= 2
        self.main = nn.Sequential(*layers)
        k = image_size // 2**repeat_num
        self.src = _sn(nn.Conv2d(ch, 1, 3, 1, 1, bias=False))
        self.cls = nn.Conv2d(ch, c_dim, k, bias=False)
        # optional content head (e.g. the digit class), which the attributes must not change
        self.content = nn.Conv2d(ch, n_classes, k, bias=False) if n_classes else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.src(h), self.cls(h).flatten(1)

    def classify_content(self, x: torch.Tensor) -> torch.Tensor:
        """Content-class logits (N, n_classes); needs ``n_classes > 0``."""
        if self.content is None:
            raise ValueError("this discriminator has no content head (n_classes=0)")
        logits: torch.Tensor = self.content(self.main(x))
        return logits.flatten(1)
