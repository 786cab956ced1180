"""Training-only data code: the random crops the recipes draw from the shared data sets.

The data sets themselves (digits, attributes, photos, sketches) are in :mod:`gan_studio.data`,
below training, evaluation and comparison alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


class PatchSampler:
    """Random square crops (with horizontal flips and optional rescaling) of a set of images.

    ``images`` are (C, H, W) tensors; ``scales`` the range of the random resize factor applied
    before cropping (1.0 = full resolution).
    """

    def __init__(self, images: Sequence[torch.Tensor], size: int, scales: tuple[float, float] = (1.0, 1.0),
                 min_std: float = 0.0) -> None:
        if not images:
            raise ValueError("PatchSampler needs at least one image")
        self.images = list(images)
        self.size = size
        self.scales = scales
        self.min_std = min_std  # crops flatter than this (std of the channel mean) are redrawn, up to 20 times
        weights = torch.tensor([float(im.shape[1] * im.shape[2]) for im in self.images])
        self.weights = weights / weights.sum()

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` crops (n, C, size, size)."""
        if self.min_std <= 0:
            picks = torch.multinomial(self.weights, n, replacement=True, generator=generator).tolist()
            return torch.stack([self._crop(i, generator) for i in picks])
        out = []
        for _ in range(n):
            for _attempt in range(20):
                crop = self._crop(int(torch.multinomial(self.weights, 1, generator=generator)), generator)
                if float(crop.mean(0).std()) >= self.min_std:
                    break
            out.append(crop)
        return torch.stack(out)

    def _crop(self, i: int, generator: torch.Generator) -> torch.Tensor:
        img = self.images[i]
        lo, hi = self.scales
        scale = lo + (hi - lo) * float(torch.rand((), generator=generator))
        h, w = img.shape[1:]
        side = min(h, w, max(self.size, int(round(self.size / scale))))
        top = int(torch.randint(0, h - side + 1, (), generator=generator))
        left = int(torch.randint(0, w - side + 1, (), generator=generator))
        crop = img[:, top : top + side, left : left + side]
        if side != self.size:
            crop = F.interpolate(crop[None], size=(self.size, self.size), mode="bilinear",
                                 align_corners=False, antialias=True)[0]
        if bool(torch.rand((), generator=generator) < 0.5):
            crop = crop.flip(-1)
        return crop
