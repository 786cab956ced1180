"""The one reader of a model folder: ``config.json`` + weights + card -> architecture, kwargs, metadata.

Our folder format is huggingface_hub's ``PyTorchModelHubMixin`` layout: ``config.json`` holds the
constructor arguments plus a ``_gan_studio`` block (architecture, task, labels, image size, licence,
card metrics …), beside ``model.safetensors`` and a ``README.md`` card. A diffusers folder keeps its
own ``config.json`` (``_class_name``, the UNet's arguments) with the same ``_gan_studio`` block.

This module knows nothing about architectures: which architecture a foreign config belongs to is
asked of the architectures themselves (:func:`gan_studio.architectures.recognise_config`). The model
cache, the registry, :meth:`Generator.from_pretrained`, evaluation and the evaluators all read
folders through :func:`read_model_folder`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CheckpointError

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "DEFAULT_WEIGHT_FILES",
    "META_KEY",
    "WEIGHTS_NAME",
    "ModelFolder",
    "read_config",
    "read_model_folder",
    "split_config",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
META_KEY = "_gan_studio"
# Weight files looked for, in order, when a source does not name its files.
DEFAULT_WEIGHT_FILES: tuple[str, ...] = (
    WEIGHTS_NAME, "pytorch_model.bin", "latest_net_G.pth", "model.pth", "model.pt",
    "diffusion_pytorch_model.safetensors",  # diffusers folders
)


def read_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``config.json`` of a model folder (a JSON object), or raise :class:`CheckpointError`."""
    path = Path(folder) / CONFIG_NAME
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{str(folder)!r} has no {CONFIG_NAME}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return config


def split_config(config: Mapping[str, Any], *, where: str = "config.json") -> tuple[dict[str, Any], dict[str, Any]]:
    """``(constructor kwargs, _gan_studio meta)`` of a config: the kwargs are every key that does not
    start with ``_`` (diffusers' ``_class_name`` and ``_diffusers_version`` are not arguments)."""
    meta = config.get(META_KEY) or {}
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: '{META_KEY}' must be an object")
    kwargs = {k: v for k, v in config.items() if not k.startswith("_")}
    return kwargs, dict(meta)


@dataclass(frozen=True)
class ModelFolder:
    """What a model folder says about its model, read without building it."""

    path: Path
    config: dict[str, Any]  # config.json as written
    kwargs: dict[str, Any]  # the constructor arguments
    meta: dict[str, Any] = field(default_factory=dict)  # the _gan_studio block
    weights: Path | None = None  # the weight file a loader reads, if one is there
    card: Path | None = None  # README.md, if there

    @property
    def architecture(self) -> str | None:
        """The architecture its ``_gan_studio`` block names (None for a foreign config that does not)."""
        value = self.meta.get("architecture")
        return str(value) if value else None

    @property
    def task(self) -> str | None:
        value = self.meta.get("task")
        return str(value) if value else None


def read_model_folder(folder: str | os.PathLike[str], *, files: Sequence[str] = ()) -> ModelFolder:
    """Read ``folder``'s ``config.json``, find its weight file (the first of ``files``, else of
    :data:`DEFAULT_WEIGHT_FILES`, that exists) and its card. Nothing is loaded or built."""
    path = Path(folder)
    if not path.is_dir():
        raise CheckpointError(f"model folder {str(path)!r} does not exist")
    config = read_config(path)
    kwargs, meta = split_config(config, where=str(path / CONFIG_NAME))
    weights = next((path / n for n in (files or DEFAULT_WEIGHT_FILES) if (path / n).is_file()), None)
    card = path / CARD_NAME if (path / CARD_NAME).is_file() else None
    return ModelFolder(path, config, kwargs, meta, weights, card)
