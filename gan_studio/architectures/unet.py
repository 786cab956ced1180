"""The pix2pix reference ``UnetGenerator`` (junyanz/pytorch-CycleGAN-and-pix2pix), key for key.

The U-Net is built recursively from skip-connection blocks, so keys nest: ``model.model.0`` is
the outermost down-convolution, ``model.model.1.model.…`` the next level, and so on; the innermost
level has no down-normalisation, middle levels carry ``Dropout(0.5)`` at their end when
``use_dropout`` (which adds no keys). ``num_downs=8`` is ``unet_256`` (256 px reaches 1×1 at the
bottleneck), ``num_downs=7`` is ``unet_128``.

Inference behaviour is explicit (the reference's ``test.py`` never calls ``eval()`` unless asked,
so published pix2pix results are made with batch statistics and active dropout, as the pix2pix
paper prescribes):

* ``inference_norm="batch_stats"``: in ``eval()`` BatchNorm normalises with the current batch's
  statistics and never touches the stored running statistics. ``"running_stats"``: plain eval
  BatchNorm with the stored statistics.
* ``inference_dropout=True``: Dropout(p=0.5) stays active in ``eval()``. It draws from torch's
  global RNG, so a caller makes it reproducible with ``torch.manual_seed`` (inside
  ``torch.random.fork_rng`` to leave the global state alone).

In ``train()`` mode both layers behave like their plain PyTorch counterparts (training updates
the running statistics). The state dict keys are those of the reference in every setting.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = [
    "INFERENCE_NORMS",
    "NORMS",
    "BatchNorm2dWithInferenceMode",
    "InferenceDropout",
    "UnetGenerator",
    "UnetSkipBlock",
]

NORMS = ("batch", "instance", "none")
INFERENCE_NORMS = ("batch_stats", "running_stats")


class BatchNorm2dWithInferenceMode(nn.BatchNorm2d):
    """BatchNorm2d whose eval() behaviour is chosen: the batch's statistics or the stored ones.

    Same parameters and buffers (``weight``, ``bias``, ``running_mean``, ``running_var``,
    ``num_batches_tracked``) as ``nn.BatchNorm2d``, so it loads the same state dicts.
    """

    def __init__(self, num_features: int, inference_norm: str = "batch_stats") -> None:
        super().__init__(num_features, affine=True)
        if inference_norm not in INFERENCE_NORMS:
            raise ValueError(f"unknown inference_norm {inference_norm!r}; choose one of: {', '.join(INFERENCE_NORMS)}")
        self.inference_norm = inference_norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or self.inference_norm == "running_stats":
            return super().forward(x)
        # Normalise with this batch's statistics; running_mean/var=None means nothing is updated.
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)

    def extra_repr(self) -> str:
        base = super().extra_repr()  # type: ignore[no-untyped-call]  # unannotated in torch's _NormBase
        return f"{base}, inference_norm={self.inference_norm!r}"


class InferenceDropout(nn.Module):
    """Dropout that can stay active in eval(); no parameters or buffers (no state dict keys)."""

    def __init__(self, p: float = 0.5, active_in_eval: bool = True) -> None:
        super().__init__()
        self.p = p
        self.active_in_eval = active_in_eval

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, self.training or self.active_in_eval)

    def extra_repr(self) -> str:
        return f"p={self.p}, active_in_eval={self.active_in_eval}"


def _norm(norm: str, channels: int, inference_norm: str) -> nn.Module:
    if norm == "batch":
        return BatchNorm2dWithInferenceMode(channels, inference_norm)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    return nn.Identity()


class UnetSkipBlock(nn.Module):
    """One U-Net level: ``cat([x, up(sub(down(x)))])``, or just the path for the outermost level.

    Mirrors the reference ``UnetSkipConnectionBlock`` (attribute ``model``, same layer order).
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        *,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        use_dropout: bool = False,
        inference_norm: str = "batch_stats",
        inference_dropout: bool = True,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        use_bias = norm == "instance"
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        if outermost:
            assert submodule is not None  # internal wiring, not user input
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers: list[nn.Module] = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, _norm(norm, outer_nc, inference_norm)]
        else:
            assert submodule is not None
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            layers = [
                nn.LeakyReLU(0.2, True),
                downconv,
                _norm(norm, inner_nc, inference_norm),
                submodule,
                nn.ReLU(True),
                upconv,
                _norm(norm, outer_nc, inference_norm),
            ]
            if use_dropout:
                layers.append(InferenceDropout(0.5, active_in_eval=inference_dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            out: torch.Tensor = self.model(x)
            return out
        # As in the reference, the in-place LeakyReLU at the start of self.model rewrites x
        # before the cat; the parent's ReLU that follows makes that equal to relu(x) anyway.
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(Generator):
    """pix2pix translator ``G(x) -> image``, both (N, C, H, W) in [-1, 1].

    H and W must be multiples of ``2 ** num_downs`` (256 for ``unet_256``, 128 for ``unet_128``).

    Args:
        input_nc: channels of the input image.
        output_nc: channels of the output image.
        num_downs: number of downsamplings (>= 5); 8 = ``unet_256``, 7 = ``unet_128``.
        ngf: channels after the first convolution (64 in the published models).
        norm: ``"batch"`` (published pix2pix), ``"instance"`` or ``"none"``.
        use_dropout: Dropout(0.5) in the ``num_downs - 5`` innermost middle levels (published: on).
        inference_norm: ``"batch_stats"`` (reference test.py) or ``"running_stats"``; see module doc.
        inference_dropout: keep dropout active in eval() (reference test.py); see module doc.
    """

    architecture = "pix2pix_unet"
    default_task = Task.TRANSLATION


    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        use_dropout: bool = True,
        inference_norm: str = "batch_stats",
        inference_dropout: bool = True,
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of: {', '.join(NORMS)}")
        if inference_norm not in INFERENCE_NORMS:
            raise ValueError(f"unknown inference_norm {inference_norm!r}; choose one of: {', '.join(INFERENCE_NORMS)}")
        if not isinstance(num_downs, int) or isinstance(num_downs, bool) or num_downs < 5:
            raise ValueError(f"num_downs must be an int >= 5 (7 = unet_128, 8 = unet_256), got {num_downs!r}")
        for name, value in (("input_nc", input_nc), ("output_nc", output_nc), ("ngf", ngf)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.input_nc = input_nc
        self.output_nc = output_nc
        self.num_downs = num_downs
        self.ngf = ngf
        self.norm = norm
        self.use_dropout = bool(use_dropout)
        self.inference_norm = inference_norm
        self.inference_dropout = bool(inference_dropout)
        skip_block = functools.partial(UnetSkipBlock, norm=norm, inference_norm=inference_norm,
                                       inference_dropout=self.inference_dropout)

        block = skip_block(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = skip_block(ngf * 8, ngf * 8, submodule=block, use_dropout=self.use_dropout)
        block = skip_block(ngf * 4, ngf * 8, submodule=block)
        block = skip_block(ngf * 2, ngf * 4, submodule=block)
        block = skip_block(ngf, ngf * 2, submodule=block)
        self.model = skip_block(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True)

    @property
    def contract(self) -> Contract:
        stochastic = self.use_dropout and self.inference_dropout
        # Dropout kept on at inference draws its masks in memory order and from torch's global RNG:
        # channels-last or compiled code would change the images, so such a model runs as it is.
        return Contract(task=Task.TRANSLATION, in_channels=self.input_nc, out_channels=self.output_nc,
                        size_multiple=2**self.num_downs, stochastic=stochastic, compile=not stochastic)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate x (N, input_nc, H, W) in [-1, 1]; H, W multiples of 2**num_downs."""
        if x.dim() != 4 or x.shape[1] != self.input_nc:
            raise ValueError(f"x must have shape (N, {self.input_nc}, H, W), got {tuple(x.shape)}")
        step = 2**self.num_downs
        if x.shape[2] % step or x.shape[3] % step:
            raise ValueError(
                f"image size {x.shape[3]}×{x.shape[2]} is not a multiple of {step} "
                f"(2**num_downs with num_downs={self.num_downs}); resize or pad the input"
            )
        out: torch.Tensor = self.model(x)
        return out
