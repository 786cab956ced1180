"""A class-conditional DCGAN generator (our own layout: ``embed.weight`` + ``main.*``).

The class label is looked up in a learned embedding, concatenated to z, and the result goes
through the DCGAN body of :mod:`.dcgan` (so ``main.*`` has the same structure as an unconditional
DCGAN with ``nz + embed_dim`` input channels).
"""

from __future__ import annotations

import torch
from torch import nn

from ..contract import Contract, Task
from .base import Generator
from .dcgan import build_dcgan_body, latent_to_4d

__all__ = ["ConditionalDCGANGenerator"]


class ConditionalDCGANGenerator(Generator):
    """``G(z, labels) -> image`` in [-1, 1] of shape (N, nc, image_size, image_size).

    Args:
        nz: length of the latent vector z.
        ngf: channels of the last hidden block.
        nc: output image channels.
        image_size: output side in pixels; a power of two >= 8.
        num_classes: number of classes; labels are ints in ``[0, num_classes)``.
        embed_dim: length of the learned label embedding concatenated to z.
    """

    architecture = "conditional_dcgan"
    default_task = Task.CONDITIONAL


    def __init__(
        self,
        nz: int = 100,
        ngf: int = 64,
        nc: int = 1,
        image_size: int = 32,
        num_classes: int = 10,
        embed_dim: int = 50,
    ) -> None:
        super().__init__()
        for name, value in (("nz", nz), ("ngf", ngf), ("nc", nc), ("num_classes", num_classes), ("embed_dim", embed_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.nz = nz
        self.ngf = ngf
        self.nc = nc
        self.image_size = image_size
        self.num_classes = num_classes
        self.embed_dim = embed_dim
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.main = build_dcgan_body(nz + embed_dim, ngf, nc, image_size)

    def check_labels(self, labels: torch.Tensor, batch: int | None = None) -> None:
        """Raise ``ValueError`` unless ``labels`` is an int tensor (N,) with values in range."""
        if not isinstance(labels, torch.Tensor) or labels.dim() != 1:
            shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(f"labels must be an int64 tensor of shape (N,), got {shape}")
        if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
            raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
        if batch is not None and labels.shape[0] != batch:
            raise ValueError(f"got {labels.shape[0]} labels for a batch of {batch} latents")
        if labels.numel():
            low, high = int(labels.min()), int(labels.max())
            bad = low if low < 0 else high if high >= self.num_classes else None
            if bad is not None:
                raise ValueError(
                    f"label {bad} is out of range: this model has num_classes={self.num_classes} "
                    f"(valid labels 0 … {self.num_classes - 1})"
                )

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.CONDITIONAL, latent_dim=self.nz, num_classes=self.num_classes, truncation="trick",
                        out_channels=self.nc, native_size=self.image_size, channels_last=frozenset({"fp32", "bf16"}))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Map z (N, nz) or (N, nz, 1, 1) and int labels (N,) to images."""
        z4 = latent_to_4d(z, self.nz)
        self.check_labels(labels, z4.shape[0])
        emb = self.embed(labels.long()).to(z4.dtype)[:, :, None, None]
        out: torch.Tensor = self.main(torch.cat([z4, emb], dim=1))
        return out
