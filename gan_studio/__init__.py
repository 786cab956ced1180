"""GAN Studio: a registry of GAN generators, the pipelines that run them, and a Gradio studio.

Importing this package is cheap (no torch): the heavy modules load on first use.

>>> import gan_studio
>>> [m.id for m in gan_studio.list_models()]          # doctest: +SKIP
>>> G = gan_studio.load_generator("digits-dcgan")      # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

__all__ = ["__version__", "get_spec", "list_models", "load_generator"]

if TYPE_CHECKING:  # pragma: no cover
    from .registry import ModelSpec


def list_models(task: str | None = None, *, models_file: str | None = None) -> list[ModelSpec]:
    """All registered models (the built-in catalogue plus ``models_file``), optionally of one task."""
    from .registry import load_registry

    return load_registry(models_file).list(task)


def get_spec(model: str, *, models_file: str | None = None) -> ModelSpec:
    """The :class:`~gan_studio.registry.ModelSpec` for a registry id, Hub repo id or local folder."""
    from .registry import load_registry

    return load_registry(models_file).resolve(model)


def load_generator(model: str, *, variant: str | None = None, models_file: str | None = None, device: Any = "cpu") -> Any:
    """Load a generator as an ``nn.Module`` in eval mode, following its task's call contract.

    ``model`` is a registry id, a Hub repo id or a local folder with ``config.json`` +
    ``model.safetensors``; ``variant`` picks a direction/style of a model that has several.
    """
    from .models import load_generator as _load

    return _load(model, variant=variant, models_file=models_file, device=device)
