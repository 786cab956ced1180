"""A perceptual distance for projecting photos: VGG16 features, loaded as safely as the generators.

The features are torchvision's VGG16 (ImageNet-1k) as published on the Hub by timm
(``timm/vgg16.tv_in1k``, BSD-3-Clause, ``model.safetensors``, pinned). Only the convolutional
``features.*`` tensors are read from the safetensors file (never the classifier, never a pickle) and
loaded strictly. The distance follows LPIPS without its learned per-channel weights: activations after
relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3, each normalised to unit length over channels, their
squared differences averaged over pixels and summed over layers.

The file is about 530 MB. :func:`load_vgg16` with ``download=False`` only takes it from the Hub
cache (a projection with ``loss="auto"`` never starts a large download by itself); with
``download=True`` it fetches it through :mod:`gan_studio.hub`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .errors import CheckpointError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["VGG_FILE", "VGG_REPO", "VGG_REVISION", "load_vgg16", "perceptual_distance"]

VGG_REPO = "timm/vgg16.tv_in1k"
VGG_REVISION = "3394518cba29aee1ea82a49d971be90d2dd1dab7"  # "Add model": model.safetensors, torchvision weights
VGG_FILE = "model.safetensors"
TAPS = (3, 8, 15, 22, 29)  # indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in vgg16.features
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_cache: dict[str, nn.Sequential] = {}
_lock = threading.Lock()


def _features() -> nn.Sequential:
    """VGG16's ``features`` up to relu5_3, with torchvision's (and timm's) module indices."""
    from torch import nn

    layers: list[nn.Module] = []
    channels = 3
    for block, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        if block:
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        for _ in range(convs):
            layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = width
    return nn.Sequential(*layers)


def load_vgg16(*, download: bool) -> nn.Sequential:
    """VGG16's features (eval, no gradients), from the Hub cache or (``download=True``) the Hub.

    Raises :class:`~gan_studio.errors.HubError` when the file is not cached (or cannot be fetched)
    and :class:`~gan_studio.errors.CheckpointError` when it does not hold VGG16's features.
    """
    from safetensors import safe_open

    from . import hub

    with _lock:
        if "vgg16" in _cache:
            return _cache["vgg16"]
        path = hub.download_file(VGG_REPO, VGG_FILE, revision=VGG_REVISION, offline=None if download else True)
        features = _features()
        with safe_open(str(path), framework="pt") as f:
            state = {k[len("features."):]: f.get_tensor(k) for k in f.keys()
                     if k.startswith("features.") and int(k.split(".")[1]) < len(features)}
        missing, unexpected = features.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(f"{VGG_REPO}/{VGG_FILE} does not hold VGG16's features: missing {missing}, "
                                  f"unexpected {unexpected}")
        features.eval().requires_grad_(False)
        _cache["vgg16"] = features
        return features


def perceptual_distance(vgg: nn.Sequential, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The distance between images ``x`` and ``y`` ([N, 3, H, W] in [-1, 1]; one channel is repeated)."""
    import torch

    def taps(image: torch.Tensor) -> list[torch.Tensor]:
        if image.shape[1] == 1:
            image = image.repeat(1, 3, 1, 1)
        mean = torch.tensor(IMAGENET_MEAN, device=image.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=image.device).view(1, 3, 1, 1)
        h = ((image + 1) / 2 - mean) / std
        out = []
        for i, layer in enumerate(vgg):
            h = layer(h)
            if i in TAPS:
                out.append(h / (h.square().sum(dim=1, keepdim=True).sqrt() + 1e-10))
        return out

    return sum(((a - b).square().sum(dim=1).mean() for a, b in zip(taps(x), taps(y), strict=True)),
               torch.zeros((), device=x.device))
