"""Generator architectures: an explicit name -> class table, presets, and a checked builder.

Constructor keyword arguments are the config (``config.json``); every class loads its published
layout with ``load_state_dict(strict=True)``. See docs/architecture.md for the call contracts.

This package imports torch; ``gan_studio/__init__.py`` must not import it eagerly.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import nn

from ..errors import UnknownArchitectureError
from .animegan import AnimeGANv2Generator
from .biggan import BigGANDeepGenerator
from .colorization import ColorizationUNet
from .conditional import ConditionalDCGANGenerator
from .dcgan import DCGANGenerator
from .huggan import HugGANResnetGenerator, HugGANUNetGenerator
from .resnet import ResnetGenerator
from .stargan import StarGANGenerator
from .unet import UnetGenerator

__all__ = [
    "ARCHITECTURES",
    "ARCHITECTURE_PRESETS",
    "AnimeGANv2Generator",
    "BigGANDeepGenerator",
    "ColorizationUNet",
    "ConditionalDCGANGenerator",
    "DCGANGenerator",
    "HugGANResnetGenerator",
    "HugGANUNetGenerator",
    "ResnetGenerator",
    "StarGANGenerator",
    "UnetGenerator",
    "accepted_kwargs",
    "architecture_names",
    "build_architecture",
    "resolve_architecture",
]

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "dcgan": DCGANGenerator,
    "conditional_dcgan": ConditionalDCGANGenerator,
    "cyclegan_resnet": ResnetGenerator,
    "pix2pix_unet": UnetGenerator,
    "stargan": StarGANGenerator,
    "colorization_unet": ColorizationUNet,
    "animegan2": AnimeGANv2Generator,  # AnimeGANv2 PyTorch port (bryandlee/animegan2-pytorch)
    "huggan_pix2pix_unet": HugGANUNetGenerator,  # HugGAN sprint GeneratorUNet (huggan/pix2pix-*)
    "huggan_cyclegan_resnet": HugGANResnetGenerator,  # HugGAN sprint GeneratorResNet
    "biggan_deep": BigGANDeepGenerator,  # pytorch-pretrained-BigGAN layout
}

# Named variants of the reference code (its --netG choices): preset -> (architecture, kwargs).
ARCHITECTURE_PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "resnet_6blocks": ("cyclegan_resnet", {"n_blocks": 6}),
    "resnet_9blocks": ("cyclegan_resnet", {"n_blocks": 9}),
    "unet_128": ("pix2pix_unet", {"num_downs": 7}),
    "unet_256": ("pix2pix_unet", {"num_downs": 8}),
}


def architecture_names() -> list[str]:
    """Every name :func:`build_architecture` accepts: architectures, then presets."""
    return sorted(ARCHITECTURES) + sorted(ARCHITECTURE_PRESETS)


def resolve_architecture(name: str, kwargs: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """Expand a preset into ``(architecture, kwargs)``; the given kwargs override the preset's.

    Raises :class:`UnknownArchitectureError` listing the valid names for an unknown ``name``.
    """
    given = dict(kwargs or {})
    if name in ARCHITECTURES:
        return name, given
    if name in ARCHITECTURE_PRESETS:
        base, preset_kwargs = ARCHITECTURE_PRESETS[name]
        return base, {**preset_kwargs, **given}
    raise UnknownArchitectureError(f"unknown architecture {name!r}; choose one of: {', '.join(architecture_names())}")


def accepted_kwargs(name: str) -> dict[str, Any]:
    """The constructor keyword arguments of architecture (or preset) ``name`` with their defaults."""
    arch, preset_kwargs = resolve_architecture(name)
    params = inspect.signature(ARCHITECTURES[arch].__init__).parameters
    defaults = {p.name: p.default for p in params.values() if p.name != "self"}
    return {**defaults, **preset_kwargs}


def build_architecture(name: str, kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """Instantiate architecture (or preset) ``name`` with constructor ``kwargs``.

    Raises :class:`UnknownArchitectureError` for an unknown name (listing the valid ones), for
    keyword arguments the constructor does not take (listing the accepted ones), and for values
    it rejects (naming the value).
    """
    arch, full_kwargs = resolve_architecture(name, kwargs)
    accepted = accepted_kwargs(arch)
    unknown = sorted(set(full_kwargs) - set(accepted))
    if unknown:
        raise UnknownArchitectureError(
            f"architecture {arch!r} does not take {', '.join(map(repr, unknown))}; "
            f"it accepts: {', '.join(accepted)}"
        )
    try:
        return ARCHITECTURES[arch](**full_kwargs)
    except (TypeError, ValueError) as exc:
        raise UnknownArchitectureError(f"cannot build {arch!r} with {full_kwargs}: {exc}") from exc
