"""Generator architectures: an explicit name -> class table, presets, and a checked builder.

Constructor keyword arguments are the config (``config.json``); every class loads its published
layout with ``load_state_dict(strict=True)`` and declares its :class:`~gan_studio.contract.Contract`.
Adding an architecture = its own file + one line in :data:`ARCHITECTURES` (+ catalogue entries);
see "Adding an architecture" in docs/architecture.md.

This package imports torch; ``gan_studio/__init__.py`` must not import it eagerly.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

from ..contract import Task
from ..errors import UnknownArchitectureError
from .animegan import AnimeGANv2Generator
from .base import Generator
from .biggan import BigGANDeepGenerator
from .colorization import ColorizationUNet
from .conditional import ConditionalDCGANGenerator
from .dcgan import DCGANGenerator
from .ddcolor import DDColorGenerator
from .deoldify import DeOldifyUnet
from .diffusion import DiffusionGenerator
from .fastgan import FastGANGenerator
from .huggan import HugGANResnetGenerator, HugGANUNetGenerator
from .pggan import PGGANGenerator
from .resnet import ResnetGenerator
from .rrdbnet import RRDBNet
from .srvgg import SRVGGNetCompact
from .stargan import StarGANGenerator
from .stylegan1 import StyleGANv1Generator
from .stylegan2 import StyleGAN2Generator
from .stylegan3 import StyleGAN3Generator
from .unet import UnetGenerator

__all__ = [
    "ARCHITECTURES",
    "ARCHITECTURE_PRESETS",
    "AnimeGANv2Generator",
    "BigGANDeepGenerator",
    "ColorizationUNet",
    "ConditionalDCGANGenerator",
    "DCGANGenerator",
    "DDColorGenerator",
    "DeOldifyUnet",
    "DiffusionGenerator",
    "FastGANGenerator",
    "Generator",
    "HugGANResnetGenerator",
    "HugGANUNetGenerator",
    "PGGANGenerator",
    "RRDBNet",
    "ResnetGenerator",
    "SRVGGNetCompact",
    "StarGANGenerator",
    "StyleGAN2Generator",
    "StyleGANv1Generator",
    "StyleGAN3Generator",
    "UnetGenerator",
    "accepted_kwargs",
    "architecture_class",
    "architecture_names",
    "load_model_folder",
    "build_architecture",
    "recognise_config",
    "resolve_architecture",
    "task_of_architecture",
]

ARCHITECTURES: dict[str, type[Generator]] = {
    cls.architecture: cls
    for cls in (
        DCGANGenerator,
        ConditionalDCGANGenerator,
        ResnetGenerator,
        UnetGenerator,
        StarGANGenerator,
        ColorizationUNet,
        AnimeGANv2Generator,  # AnimeGANv2 PyTorch port (bryandlee/animegan2-pytorch)
        HugGANUNetGenerator,  # HugGAN sprint GeneratorUNet (huggan/pix2pix-*)
        HugGANResnetGenerator,  # HugGAN sprint GeneratorResNet
        BigGANDeepGenerator,  # pytorch-pretrained-BigGAN layout
        DiffusionGenerator,  # a diffusers UNet2DModel folder + its noise schedule
        StyleGAN2Generator,  # NVIDIA stylegan2-ada-pytorch / stylegan3 networks_stylegan2 layout
        FastGANGenerator,  # HugGAN few-shot FastGAN (huggan/fastgan-few-shot-*)
        PGGANGenerator,  # genforce models/pggan_generator.py (huggan/pggan-celebahq-1024)
        StyleGANv1Generator,  # genforce models/stylegan_generator.py (huggan/stylegan_animeface512)
        StyleGAN3Generator,  # NVIDIA stylegan3 networks_stylegan3 layout (-T, -R)
        DDColorGenerator,  # piddnad/DDColor (ConvNeXt + pixel decoder + colour-query decoder), its own Hub folders
        DeOldifyUnet,  # DeOldify's fastai DynamicUnetDeep / DynamicUnetWide (jantic/DeOldify)
        RRDBNet,  # BasicSR rrdbnet_arch (Real-ESRGAN x4plus, x2plus, x4plus_anime_6B)
        SRVGGNetCompact,  # Real-ESRGAN srvgg_arch (realesr-general-x4v3, realesr-animevideov3)
    )
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


def architecture_class(name: str) -> type[Generator]:
    """The class of architecture (or preset) ``name``; :class:`UnknownArchitectureError` listing the valid names."""
    return ARCHITECTURES[resolve_architecture(name)[0]]


def task_of_architecture(name: str) -> Task:
    """The task architecture (or preset) ``name`` usually does (a model folder may say otherwise)."""
    return architecture_class(name).default_task


def recognise_config(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(architecture, completed meta)`` for a foreign ``config.json`` (no ``_gan_studio`` architecture)
    that one of the architectures recognises as its own (e.g. a diffusers ``UNet2DModel`` config); None
    when none does."""
    meta = config.get("_gan_studio")
    for name, cls in ARCHITECTURES.items():
        if cls.recognises_config(config):
            return name, cls.complete_meta(config, meta if isinstance(meta, dict) else {})
    return None


def load_model_folder(path: str | os.PathLike[str]) -> Generator:
    """The generator saved in the local folder ``path`` (our format, or a foreign format an architecture
    recognises), built by its architecture and loaded strictly."""
    from ..errors import CheckpointError
    from ..folder import read_model_folder

    folder = read_model_folder(path)
    name = folder.architecture
    if name is None:
        recognised = recognise_config(folder.config)
        if recognised is None:
            raise CheckpointError(f"{str(path)!r}: its config.json names no gan_studio architecture; choose one of: "
                                  f"{', '.join(architecture_names())}")
        name = recognised[0]
    return architecture_class(name).load_folder(folder.path)


def accepted_kwargs(name: str) -> dict[str, Any]:
    """The constructor keyword arguments of architecture (or preset) ``name`` with their defaults."""
    arch, preset_kwargs = resolve_architecture(name)
    params = inspect.signature(ARCHITECTURES[arch].__init__).parameters
    defaults = {p.name: p.default for p in params.values() if p.name != "self"}
    return {**defaults, **preset_kwargs}


def build_architecture(name: str, kwargs: Mapping[str, Any] | None = None) -> Generator:
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
