"""DeOldify's colorizers (Jason Antic, MIT; "NoGAN" training) in the layout of their published
``_gen.pth`` files: fastai v1's ``DynamicUnetDeep`` (Artistic: ResNet-34 encoder, ``nf_factor`` 1.5)
and ``DynamicUnetWide`` (Stable: ResNet-101 encoder, ``nf_factor`` 2), both with self-attention,
spectral norm and ``y_range=(-3, 3)``, as ``deoldify/unet.py`` builds them over fastai's layers.

The module is one ``layers`` list, indexed as fastai's ``SequentialEx`` lays it out for a ResNet
encoder (keys and shapes match the files key for key; ``load_state_dict(strict=True)``):

* ``layers.0``: the torchvision ResNet without its pooling head (``conv1, bn1, relu, maxpool,
  layer1 … layer4`` as ``0 … 7``; built here in torchvision's layout); ``layers.1`` batch norm, ``layers.2`` ReLU;
* ``layers.3``: the middle, two 3×3 convolutions (encoder channels → ×2 → back), each
  ``[spectral conv, ReLU, batch norm]``;
* ``layers.4 … 7``: one U-Net block per skip (the outputs of ``layer3``, ``layer2``, ``layer1`` and
  the stem's ReLU, deepest first): ``shuf`` (a 1×1 spectral conv + batch norm, ReLU, pixel shuffle ×2,
  blur), ``bn`` on the skip, then ``conv1``/``conv2`` (deep) or ``conv`` (wide); the second block's
  last convolution ends in a self-attention layer (``query``/``key``/``value`` spectral 1×1 conv1d,
  ``gamma``). An upsampled map one pixel larger than its skip is resized to it (nearest), as upstream;
* ``layers.8``: pixel shuffle ×2 back to the input size, its 1×1 convolution weight-normed
  (old-style ``weight_g``/``weight_v``), with ReLU and blur;
* ``layers.9``: the input image concatenated (3 more channels); ``layers.10``: a residual block of
  two 3×3 spectral convolutions with bias and ReLU (``layers.10.layers.{0,1}``);
* ``layers.11``: the 1×1 spectral output convolution; ``layers.12``: ``sigmoid(x)·(hi − lo) + lo``.

Every upsampler blurs (a replication pad and a 2×2 average): upstream's ``blur`` flag is shadowed by
the blur module stored under the same attribute, so the ``if self.blur`` test is always true.
Spectral norm is ``torch.nn.utils.spectral_norm`` (the stored ``weight_u``/``weight_v`` are used as
in eval mode upstream: σ = uᵀ W v, no power iteration).

What the model reads and returns (declared in its contract, converted by the colorization pipeline):
a grey image as RGB, ImageNet-normalised, stretched to a square of ``render_factor × 16`` pixels
(default 35 → 560); out comes an ImageNet-normalised RGB image whose chroma is kept and joined with
the original's full-resolution luminance. Two differences from DeOldify's own filter, by design of
the studio: the grey input is the Lab L* of the image drawn as grey (DeOldify uses PIL's
``convert('LA')``, ITU-R 601 luma), and the chroma is joined in Lab (DeOldify joins the U, V of the
output with the original's Y in YUV).

The published files are fastai pickles (``{'model': state_dict, 'opt': …}``, referencing
``builtins.slice``); :meth:`DeOldifyUnet.read_weight_file` reads them through
:mod:`gan_studio.fastai_pickle`'s allow-list.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..contract import Contract, Task
from .base import Generator

__all__ = ["DECODERS", "ENCODERS", "DeOldifyUnet"]

ENCODERS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
DECODERS = ("deep", "wide")  # DynamicUnetDeep (Artistic), DynamicUnetWide (Stable)
SKIP_INDICES = (6, 5, 4, 2)  # encoder children whose outputs feed the U-Net blocks, deepest first
RENDER_BASE = 16  # DeOldify's working size is render_factor × 16
DEFAULT_RENDER_FACTOR = 35


def _spectral(conv: nn.Module) -> nn.Module:
    module: nn.Module = nn.utils.spectral_norm(conv)
    return module


class WeightNormConv2d(nn.Module):
    """A 1×1-or-larger convolution under old-style weight norm: ``weight = g · v / ‖v‖`` (norm over
    all but the output dimension), parameters ``weight_g``, ``weight_v``, ``bias``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0) -> None:
        super().__init__()
        self.padding = padding
        self.weight_v = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        nn.init.kaiming_normal_(self.weight_v)
        self.weight_g = nn.Parameter(self.weight_v.detach().flatten(1).norm(dim=1).view(-1, 1, 1, 1).clone())
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self.weight_v
        weight = v * (self.weight_g / v.flatten(1).norm(dim=1).view(-1, 1, 1, 1))
        return F.conv2d(x, weight, self.bias, padding=self.padding)


class SelfAttention(nn.Module):
    """fastai's self-attention (SAGAN notation): spectral 1×1 conv1d query/key (C/8) and value (C),
    ``gamma · value · softmax(queryᵀ key) + x``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.query = _spectral(nn.Conv1d(channels, channels // 8, 1, bias=False))
        self.key = _spectral(nn.Conv1d(channels, channels // 8, 1, bias=False))
        self.value = _spectral(nn.Conv1d(channels, channels, 1, bias=False))
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape
        flat = x.view(size[0], size[1], -1)
        f, g, h = self.query(flat), self.key(flat), self.value(flat)
        beta = F.softmax(torch.bmm(f.permute(0, 2, 1).contiguous(), g), dim=1)
        out = self.gamma * torch.bmm(h, beta) + flat
        return out.view(size).contiguous()


def conv_layer(ni: int, nf: int, ks: int = 3, *, activ: bool = True, bn: bool = True,
               self_attention: bool = False) -> nn.Sequential:
    """fastai's ``custom_conv_layer`` with spectral norm: ``[conv, ReLU?, BatchNorm?, SelfAttention?]``
    (the convolution has a bias only without batch norm)."""
    layers: list[nn.Module] = [_spectral(nn.Conv2d(ni, nf, ks, padding=(ks - 1) // 2, bias=not bn))]
    if activ:
        layers.append(nn.ReLU(inplace=True))
    if bn:
        layers.append(nn.BatchNorm2d(nf))
    if self_attention:
        layers.append(SelfAttention(nf))
    return nn.Sequential(*layers)


class BlurShuffle(nn.Module):
    """Upsampling ×2: ``conv`` (a 1×1 convolution to 4× the channels), ReLU, pixel shuffle, then a
    one-pixel replication pad (top, left) and a 2×2 average: the blur every DeOldify upsampler applies."""

    def __init__(self, conv: nn.Sequential) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_shuffle(F.relu(self.conv(x)), 2)
        return F.avg_pool2d(F.pad(x, (1, 0, 1, 0), mode="replicate"), 2, stride=1)


class UnetBlock(nn.Module):
    """One decoder step: upsample ``shuf``, batch-norm the skip ``bn``, ReLU of both concatenated, then
    ``conv1``, ``conv2`` (deep) or ``conv`` (wide)."""

    def __init__(self, up_in: int, skip_in: int, up_out: int, convs: dict[str, nn.Sequential]) -> None:
        super().__init__()
        self.shuf = BlurShuffle(conv_layer(up_in, up_out * 4, 1, activ=False))
        self.bn = nn.BatchNorm2d(skip_in)
        self.convs = list(convs)
        for name, module in convs.items():
            self.add_module(name, module)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.shuf(x)
        if up.shape[-2:] != skip.shape[-2:]:
            up = F.interpolate(up, skip.shape[-2:], mode="nearest")
        x = F.relu(torch.cat([up, self.bn(skip)], dim=1))
        for name in self.convs:
            x = getattr(self, name)(x)
        return x


class ResBlock(nn.Module):
    """``x + conv(conv(x))`` with two 3×3 spectral convolutions (bias, ReLU, no batch norm), kept
    under ``layers.{0,1}`` as fastai's ``res_block``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([conv_layer(channels, channels, bn=False) for _ in range(2)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = x + self.layers[1](self.layers[0](x))
        return y


class Concat(nn.Module):
    """Placeholder of fastai's ``MergeLayer(dense=True)`` (no parameters; the concatenation with the
    input image happens in :meth:`DeOldifyUnet.forward`)."""


class SigmoidRange(nn.Module):
    """``sigmoid(x) · (high − low) + low``."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * (self.high - self.low) + self.low


class BasicBlock(nn.Module):
    """A ResNet-18/34 block in torchvision's layout (``conv1``, ``bn1``, ``conv2``, ``bn2``, ``downsample``)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        y: torch.Tensor = self.relu(out + identity)
        return y


class Bottleneck(nn.Module):
    """A ResNet-50/101/152 block in torchvision's layout (stride on the 3×3 ``conv2``)."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        y: torch.Tensor = self.relu(out + identity)
        return y


# encoder name -> (block, blocks per stage): torchvision's ResNets
RESNETS: dict[str, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)), "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)), "resnet101": (Bottleneck, (3, 4, 23, 3)),
    "resnet152": (Bottleneck, (3, 8, 36, 3)),
}


def resnet_body(name: str) -> nn.Sequential:
    """torchvision's ResNet ``name`` without its pooling head, as fastai's ``create_body`` cuts it:
    ``conv1, bn1, relu, maxpool, layer1 … layer4`` as children ``0 … 7`` (built here, no download)."""
    block, counts = RESNETS[name]
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                               nn.MaxPool2d(3, 2, 1)]
    inplanes = 64
    for stage, count in enumerate(counts):
        planes, stride = 64 * 2**stage, 1 if stage == 0 else 2
        blocks: list[nn.Module] = []
        for i in range(count):
            downsample = None
            if i == 0 and (stride != 1 or inplanes != planes * block.expansion):
                downsample = nn.Sequential(nn.Conv2d(inplanes, planes * block.expansion, 1, stride, bias=False),
                                           nn.BatchNorm2d(planes * block.expansion))
            blocks.append(block(inplanes, planes, stride if i == 0 else 1, downsample))
            inplanes = planes * block.expansion
        layers.append(nn.Sequential(*blocks))
    return nn.Sequential(*layers)


class DeOldifyUnet(Generator):
    """DeOldify's generator: fastai's dynamic U-Net over a ResNet encoder.

    Args:
        encoder: the torchvision ResNet: ``resnet34`` (Artistic), ``resnet101`` (Stable), or
            ``resnet18``/``resnet50``/``resnet152``.
        decoder: ``deep`` (``DynamicUnetDeep``: two convolutions per block, widths from the encoder ×
            ``nf_factor``) or ``wide`` (``DynamicUnetWide``: one convolution per block, 512 ×
            ``nf_factor`` channels).
        nf_factor: the decoder's width factor (1.5 Artistic, 2 Stable; ``wide`` needs a whole number).
        self_attention: a self-attention layer ending the second U-Net block (as published).
        y_min, y_max: the output range of the final scaled sigmoid, fastai's ``y_range`` (``(-3, 3)``).
    """

    architecture = "deoldify"
    default_task = Task.COLORIZATION

    def __init__(self, encoder: str = "resnet34", decoder: str = "deep", nf_factor: float = 1.5,
                 self_attention: bool = True, y_min: float = -3.0, y_max: float = 3.0) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
        if nf_factor <= 0 or (decoder == "wide" and float(nf_factor) != int(nf_factor)):
            raise ValueError(f"nf_factor must be positive (a whole number for the wide decoder), got {nf_factor!r}")
        if not y_min < y_max:
            raise ValueError(f"y_min must be below y_max, got {y_min!r} and {y_max!r}")
        self.encoder_name, self.decoder, self.nf_factor = encoder, decoder, nf_factor

        e = RESNETS[encoder][0].expansion
        skip_channels = {2: 64, 4: 64 * e, 5: 128 * e, 6: 256 * e}
        ni = 512 * e
        layers: list[nn.Module] = [resnet_body(encoder), nn.BatchNorm2d(ni), nn.ReLU(),
                                   nn.Sequential(conv_layer(ni, ni * 2), conv_layer(ni * 2, ni))]
        x = ni
        for i, idx in enumerate(SKIP_INDICES):
            final = i == len(SKIP_INDICES) - 1
            sa = self_attention and i == len(SKIP_INDICES) - 3
            skip = skip_channels[idx]
            if decoder == "deep":
                up_out = x // 2
                cat = up_out + skip
                nf = int((cat // 2 if final else cat) * nf_factor)
                convs = {"conv1": conv_layer(cat, nf), "conv2": conv_layer(nf, nf, self_attention=sa)}
            else:
                n_out = int(512 * nf_factor) // (2 if final else 1)
                up_out = nf = n_out // 2
                convs = {"conv": conv_layer(up_out + skip, nf, self_attention=sa)}
            layers.append(UnetBlock(x, skip, up_out, convs))
            x = nf
        layers.append(BlurShuffle(nn.Sequential(WeightNormConv2d(x, x * 4, 1))))
        layers.append(Concat())
        x += 3
        layers += [ResBlock(x), conv_layer(x, 3, 1, activ=False, bn=False)]
        layers.append(SigmoidRange(float(y_min), float(y_max)))
        self.layers = nn.ModuleList(layers)

    @property
    def contract(self) -> Contract:
        # Runtime tolerances not measured in bench/: fp32 and eager unless asked.
        return Contract(task=Task.COLORIZATION, in_channels=3, out_channels=3,
                        colour_input="grey_rgb_imagenet", colour_output="rgb_imagenet", square_input=True,
                        size_multiple=RENDER_BASE, native_size=DEFAULT_RENDER_FACTOR * RENDER_BASE,
                        compile=False, auto_bf16=False)

    @classmethod
    def read_weight_file(cls, path: str | os.PathLike[str]) -> Any:
        """A published ``_gen.pth`` (a fastai pickle) through :mod:`gan_studio.fastai_pickle`'s
        allow-list; safetensors as usual."""
        from ..fastai_pickle import load_fastai_checkpoint
        from ..weights import SAFETENSORS_SUFFIXES, load_weight_file

        if Path(path).suffix.lower() in SAFETENSORS_SUFFIXES:
            return load_weight_file(path)
        return load_fastai_checkpoint(path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: a grey image as RGB, ImageNet-normalised ``(N, 3, H, W)`` with even sides (the
        pipeline uses multiples of 16); returns an ImageNet-normalised RGB ``(N, 3, H, W)``."""
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            raise ValueError(f"DeOldify needs even image sides, got {tuple(x.shape[-2:])}")
        layers = self.layers
        skips: dict[int, torch.Tensor] = {}
        h = x
        for i, module in enumerate(cast(nn.Sequential, layers[0])):
            h = module(h)
            if i in SKIP_INDICES:
                skips[i] = h
        h = layers[3](layers[2](layers[1](h)))
        for block, idx in zip(layers[4:8], SKIP_INDICES, strict=True):
            h = block(h, skips[idx])
        h = torch.cat([layers[8](h), x], dim=1)
        out: torch.Tensor = layers[12](layers[11](layers[10](h)))
        return out
