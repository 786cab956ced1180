"""The StarGAN reference ``Generator`` (yunjey/stargan ``model.py``), key for key.

Layout with ``conv_dim=64, c_dim=5, repeat_num=6``: ``main.0`` 7×7 conv on 3 + c_dim channels
(the target-domain vector tiled over H×W and concatenated to the image), ``main.3``/``main.6``
stride-2 convs, ``main.9 … main.14`` residual blocks (``main.N.main.{0,1,3,4}``), ``main.15``/
``main.18`` transposed convs, ``main.21`` the 7×7 output conv, then Tanh. Every norm is
InstanceNorm2d with affine parameters and tracked running statistics.

Inference behaviour is explicit: the reference's ``test()`` runs ``G`` without ``eval()``, so its
InstanceNorm layers normalise each input with its own statistics (and, as a side effect, update
the stored running statistics). With ``inference_norm="instance_stats"`` (default) our model does
the same in ``eval()`` but never changes the stored statistics; ``"running_stats"`` normalises
with the stored statistics in ``eval()`` (what ``G.eval()`` would do in the reference).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = ["INFERENCE_NORMS", "InstanceNorm2dWithInferenceMode", "StarGANGenerator", "StarGANResidualBlock"]

INFERENCE_NORMS = ("instance_stats", "running_stats")


class InstanceNorm2dWithInferenceMode(nn.InstanceNorm2d):
    """Affine InstanceNorm2d with running statistics whose eval() behaviour is chosen.

    Same parameters and buffers as ``nn.InstanceNorm2d(affine=True, track_running_stats=True)``.
    """

    def __init__(self, num_features: int, inference_norm: str = "instance_stats") -> None:
        super().__init__(num_features, affine=True, track_running_stats=True)
        if inference_norm not in INFERENCE_NORMS:
            raise ValueError(f"unknown inference_norm {inference_norm!r}; choose one of: {', '.join(INFERENCE_NORMS)}")
        self.inference_norm = inference_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or self.inference_norm == "running_stats":
            return super().forward(x)
        # Each input's own statistics; no running buffers passed, so nothing is updated.
        return F.instance_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)

    def extra_repr(self) -> str:
        base = super().extra_repr()  # type: ignore[no-untyped-call]  # unannotated in torch's _NormBase
        return f"{base}, inference_norm={self.inference_norm!r}"


class StarGANResidualBlock(nn.Module):
    """``x + main(x)`` with two 3×3 convs and InstanceNorms (reference ``ResidualBlock``)."""

    def __init__(self, dim: int, inference_norm: str) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1, bias=False),
            InstanceNorm2dWithInferenceMode(dim, inference_norm),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1, bias=False),
            InstanceNorm2dWithInferenceMode(dim, inference_norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual: torch.Tensor = self.main(x)
        return x + residual


class StarGANGenerator(Generator):
    """Multi-domain translator ``G(x, c) -> image``: x (N, 3, H, W) in [-1, 1], c (N, c_dim) in {0, 1}.

    H and W should be multiples of 4 (128 px for the published CelebA model).

    Args:
        conv_dim: channels after the first convolution (64 in the published model).
        c_dim: length of the target-domain vector (5 CelebA attributes in the published model).
        repeat_num: residual blocks at the bottleneck (6 in the published model).
        inference_norm: ``"instance_stats"`` (reference test()) or ``"running_stats"``; see module doc.
    """

    architecture = "stargan"
    default_task = Task.MULTIDOMAIN


    def __init__(
        self,
        conv_dim: int = 64,
        c_dim: int = 5,
        repeat_num: int = 6,
        inference_norm: str = "instance_stats",
    ) -> None:
        super().__init__()
        if inference_norm not in INFERENCE_NORMS:
            raise ValueError(f"unknown inference_norm {inference_norm!r}; choose one of: {', '.join(INFERENCE_NORMS)}")
        for name, value, low in (("conv_dim", conv_dim, 1), ("c_dim", c_dim, 1), ("repeat_num", repeat_num, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        self.conv_dim = conv_dim
        self.c_dim = c_dim
        self.repeat_num = repeat_num
        self.inference_norm = inference_norm

        layers: list[nn.Module] = [
            nn.Conv2d(3 + c_dim, conv_dim, kernel_size=7, stride=1, padding=3, bias=False),
            InstanceNorm2dWithInferenceMode(conv_dim, inference_norm),
            nn.ReLU(inplace=True),
        ]
        ch = conv_dim
        for _ in range(2):  # downsampling
            layers += [
                nn.Conv2d(ch, ch * 2, kernel_size=4, stride=2, padding=1, bias=False),
                InstanceNorm2dWithInferenceMode(ch * 2, inference_norm),
                nn.ReLU(inplace=True),
            ]
            ch *= 2
        layers += [StarGANResidualBlock(ch, inference_norm) for _ in range(repeat_num)]
        for _ in range(2):  # upsampling
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, kernel_size=4, stride=2, padding=1, bias=False),
                InstanceNorm2dWithInferenceMode(ch // 2, inference_norm),
                nn.ReLU(inplace=True),
            ]
            ch //= 2
        layers += [nn.Conv2d(ch, 3, kernel_size=7, stride=1, padding=3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    @property
    def contract(self) -> Contract:
        return Contract(task=Task.MULTIDOMAIN, in_channels=3, condition_dim=self.c_dim, size_multiple=4,
                        native_size=128)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Translate x (N, 3, H, W) towards the domain c (N, c_dim)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x must have shape (N, 3, H, W), got {tuple(x.shape)}")
        if c.dim() != 2 or c.shape != (x.shape[0], self.c_dim):
            raise ValueError(f"c must have shape (N, c_dim) = ({x.shape[0]}, {self.c_dim}), got {tuple(c.shape)}")
        tiled = c.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        out: torch.Tensor = self.main(torch.cat([x, tiled], dim=1))
        return out
