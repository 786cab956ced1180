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

Two heads (the ``bin_size`` config argument; the call contract ``G(L) -> ab`` is the same):

* ``bin_size=0`` (regression): the 1×1 convolution makes the two ab channels directly, through tanh.
* ``bin_size>0`` (classification, after Zhang, Isola & Efros, "Colorful Image Colorization", 2016):
  the 1×1 convolution makes one logit per bin of a regular grid over a*b* (bin centres
  ``k * bin_size`` for ``|k * bin_size| <= 110``, a square grid of ``(2K+1)**2`` bins with
  ``K = 110 // bin_size``); the forward pass decodes the per-pixel distribution into one ab by the
  *annealed mean* ``sum_q softmax(logits / temperature)_q * centre_q``. ``temperature=1`` is the
  plain mean of the predicted distribution (the estimate with the least expected squared error:
  where the model is unsure between colours it returns their average, close to grey); below 1
  it moves towards the most likely bin (Zhang et al. use 0.38, more saturated); above 1 it
  flattens the distribution towards the grid's centre, ab = 0 (greyscale). The grid is symmetric
  around 0, so no temperature adds a colour of its own. Decoding runs in bands of rows so that
  the per-bin probabilities never occupy more than a few million numbers at once.
* ``heads=K>1`` (with ``bin_size>0``): K classification heads on the same features (one 1×1
  convolution with ``K * num_bins`` outputs, head-major). Each head is decoded as above, and the
  forward pass returns their *consensus*, per channel (a and b separately) the "minmod" of the K
  values: the one closest to zero when all K have the same sign, else 0. Trained on different
  subsets of the data (the ``photo-colorizer`` recipe leaves one training photo out of each head),
  the heads agree where a colour holds across photos; where they disagree the output stays grey.
* ``head_priors`` (with ``bin_size>0``): one (a, b) per head, in ab/110 units, subtracted from that
  head's decoded colour before the consensus: each head's average guess on its training photos, so
  that only what a head sees *in this image* (its deviation from that average) can colour a pixel,
  never the warm average colour of the training photos themselves.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = ["AB_MAX", "ColorizationUNet"]

AB_MAX = 110  # a*b* units that ab = ±1 stands for (the contract's ab/110 scaling)
#: most per-bin probabilities the classification head decodes at once (a band of rows)
DECODE_CHUNK = 1 << 22


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
        bin_size: 0 for the regression head; else the step, in a*b* units, of the grid of ab bins
            the classification head predicts a distribution over (1 … 110).
        temperature: the annealed-mean decoding temperature of the classification head (> 0;
            1 = the mean of the predicted distribution). Unused by the regression head.
        heads: number of classification heads whose consensus (minmod) is returned (1 … 16);
            more than 1 needs ``bin_size > 0``.
        head_priors: ``None``, or one ``[a, b]`` (ab/110 units) per head subtracted from that head's
            decoded colour (classification head only).
    """

    architecture = "colorization_unet"
    default_task = Task.COLORIZATION


    def __init__(self, base_channels: int = 32, depth: int = 4, bin_size: int = 0, temperature: float = 1.0,
                 heads: int = 1, head_priors: list[list[float]] | None = None) -> None:
        super().__init__()
        if not isinstance(base_channels, int) or isinstance(base_channels, bool) or base_channels < 1:
            raise ValueError(f"base_channels must be a positive int, got {base_channels!r}")
        if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 8:
            raise ValueError(f"depth must be an int in 1 … 8, got {depth!r}")
        if not isinstance(bin_size, int) or isinstance(bin_size, bool) or not 0 <= bin_size <= AB_MAX:
            raise ValueError(f"bin_size must be an int in 0 … {AB_MAX} (0 = regression head), got {bin_size!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature < math.inf:
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        if not isinstance(heads, int) or isinstance(heads, bool) or not 1 <= heads <= 16 or (heads > 1 and not bin_size):
            raise ValueError(f"heads must be an int in 1 … 16 (more than 1 only with bin_size > 0), got {heads!r}")
        if head_priors is not None:
            ok = bool(bin_size) and isinstance(head_priors, (list, tuple)) and len(head_priors) == heads and all(
                isinstance(p, (list, tuple)) and len(p) == 2 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= 1 for v in p)
                for p in head_priors)
            if not ok:
                raise ValueError(f"head_priors must be None or {heads} pairs [a, b] in [-1, 1] (classification head only), "
                                 f"got {head_priors!r}")
        self.base_channels = base_channels
        self.depth = depth
        self.heads = heads
        self.head_priors = None if head_priors is None else [[float(v) for v in p] for p in head_priors]
        self.bin_size = bin_size
        self.temperature = float(temperature)
        channels = [base_channels * 2 ** min(level, 2) for level in range(depth + 1)]
        self.channels = channels
        self.stem = nn.Sequential(_conv_block(1, channels[0]), _conv_block(channels[0], channels[0]))
        self.down = nn.ModuleList(
            nn.Sequential(_conv_block(channels[i], channels[i + 1], stride=2), _conv_block(channels[i + 1], channels[i + 1]))
            for i in range(depth)
        )
        # up[i] takes level i+1 (upsampled) concatenated with the skip from level i -> channels[i]
        self.up = nn.ModuleList(_conv_block(channels[i + 1] + channels[i], channels[i]) for i in range(depth))
        if bin_size:
            k = AB_MAX // bin_size
            axis = torch.arange(-k, k + 1, dtype=torch.float32) * (bin_size / AB_MAX)  # in ab/110 units
            a, b = torch.meshgrid(axis, axis, indexing="ij")
            # (Q, 2) bin centres, a-major; derived from the config, so not part of the state dict
            self.register_buffer("centres", torch.stack([a.reshape(-1), b.reshape(-1)], 1), persistent=False)
            priors = torch.tensor(self.head_priors or [[0.0, 0.0]] * heads, dtype=torch.float32)
            self.register_buffer("priors", priors.view(1, heads, 2, 1, 1), persistent=False)  # config, not weights
        self.head = nn.Conv2d(channels[0], heads * self.num_bins if bin_size else 2, kernel_size=1)

    @property
    def num_bins(self) -> int:
        """Number of ab bins of the classification head (0 for the regression head)."""
        return (2 * (AB_MAX // self.bin_size) + 1) ** 2 if self.bin_size else 0

    @property
    def size_multiple(self) -> int:
        """H and W of the input must be multiples of this (``2 ** depth``)."""
        return int(2**self.depth)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.COLORIZATION, in_channels=1, out_channels=2, size_multiple=self.size_multiple,
                        channels_last=frozenset({"fp32", "bf16"}))

    def features(self, L: torch.Tensor) -> torch.Tensor:
        """The decoder's full-resolution features (N, base_channels, H, W), before the head."""
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
        features: torch.Tensor = h
        return features

    def bin_logits(self, L: torch.Tensor) -> torch.Tensor:
        """The classification heads' logits (N, heads * num_bins, H, W), head-major (training;
        inference decodes in bands)."""
        if not self.bin_size:
            raise ValueError("bin_logits needs the classification head (bin_size > 0)")
        logits: torch.Tensor = self.head(self.features(L))
        return logits

    def decode(self, logits: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """Annealed mean of bin logits (N, Q, H, W) -> ab/110 (N, 2, H, W), computed in fp32."""
        t = self.temperature if temperature is None else temperature
        p = torch.softmax(logits.float() / t, dim=1)
        centres = self.get_buffer("centres").to(p.device)
        return torch.einsum("nqhw,qc->nchw", p, centres)

    def decode_heads(self, logits: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """Logits of all heads (N, heads * Q, H, W) -> each head's annealed mean (N, heads, 2, H, W)."""
        n, _, h, w = logits.shape
        per_head = logits.reshape(n * self.heads, self.num_bins, h, w)
        return self.decode(per_head, temperature).reshape(n, self.heads, 2, h, w)

    @staticmethod
    def consensus(ab: torch.Tensor) -> torch.Tensor:
        """Minmod over dim 1 of (N, K, 2, H, W): the value closest to zero where all K share a sign, else 0."""
        smallest = ab.abs().amin(dim=1)
        agree = (ab > 0).all(dim=1) | (ab < 0).all(dim=1)
        return torch.where(agree, smallest * ab[:, 0].sign(), torch.zeros_like(smallest))

    def forward(self, L: torch.Tensor) -> torch.Tensor:  # L is the Lab channel's name
        """Predict ab (N, 2, H, W) in [-1, 1] from L (N, 1, H, W) in [-1, 1]."""
        h = self.features(L)
        if not self.bin_size:
            return torch.tanh(self.head(h))
        n, _, rows, cols = h.shape
        band = max(1, DECODE_CHUNK // max(1, n * self.heads * self.num_bins * cols))
        bands = []
        for r in range(0, rows, band):
            per_head = self.decode_heads(self.head(h[:, :, r : r + band])) - self.get_buffer("priors").to(h.device)
            bands.append(self.consensus(per_head) if self.heads > 1 else per_head[:, 0])
        return torch.cat(bands, dim=2).to(h.dtype)
