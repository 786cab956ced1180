"""The engine the CLI and the UI share: a registry, a device, and a cache of loaded models.

>>> studio = Studio(device="cpu")                                   # doctest: +SKIP
>>> [r.image for r in studio.generate("digits-cgan", seed=7, n=4, label="3")]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .models import ModelCache, LoadedModel
from .pipelines.common import ProgressFn, Result
from .registry import ModelSpec, Registry, load_registry

logger = logging.getLogger(__name__)


class Studio:
    """Runs models from a :class:`~gan_studio.registry.Registry` on one device."""

    def __init__(
        self,
        *,
        models_file: str | None = None,
        device: str = "auto",
        half: bool | None = None,
        cache_bytes: int | None = None,
        registry: Registry | None = None,
        batching: bool = True,
    ) -> None:
        from .device import default_dtype, select_device

        self.registry = registry if registry is not None else load_registry(models_file)
        self.device = select_device(device)
        import torch

        if half is None:
            self.dtype = default_dtype(self.device)
        else:
            self.dtype = torch.float16 if half else torch.float32
        self.cache = ModelCache(cache_bytes) if cache_bytes else ModelCache()
        self.batching = batching  # concurrent generate calls for one model share forward passes
        self._lock = threading.Lock()

    # ---- models -------------------------------------------------------------------------------
    def spec(self, model: str, *, architecture: str | None = None) -> ModelSpec:
        """Resolve an id, a local folder or a Hub repo id; resolved extras join this registry."""
        spec = self.registry.resolve(model, architecture=architecture)
        if spec.id not in self.registry:
            with self._lock:
                self.registry.add(spec)
        return spec

    def load(self, model: str, variant: str | None = None) -> LoadedModel:
        loaded = self.cache.get(self.spec(model), variant, self.device, self.dtype)
        if self.batching and loaded.batcher is None:
            from .batching import ForwardBatcher

            with self._lock:
                if loaded.batcher is None:
                    loaded.batcher = ForwardBatcher()
        return loaded

    # ---- tasks --------------------------------------------------------------------------------
    def generate(self, model: str, *, seed: int = 0, n: int = 1, label: int | str | None = None,
                 truncation: float | None = None, batch_size: int = 16,
                 progress: ProgressFn | None = None, steps: int | None = None) -> list[Result]:
        """Images from seeds ``seed … seed + n - 1``; ``steps``: sampling steps of a diffusion model
        (default: the model's; one-pass GAN generators take none)."""
        from .pipelines.generation import generate

        return generate(self.load(model), seed=seed, n=n, label=label, truncation=truncation,
                        batch_size=batch_size, progress=progress, steps=steps)

    def interpolate(self, model: str, *, seed_a: int, seed_b: int, frames: int = 16,
                    label: int | str | None = None, truncation: float | None = None,
                    progress: ProgressFn | None = None) -> list[Result]:
        from .pipelines.generation import interpolate

        return interpolate(self.load(model), seed_a=seed_a, seed_b=seed_b, frames=frames, label=label,
                           truncation=truncation, progress=progress)

    def translate(self, model: str, image: Any, *, direction: str | None = None, working_size: int | None = None,
                  seed: int = 0, progress: ProgressFn | None = None, full_resolution: bool = False,
                  tile_size: int | None = None, overlap: int | None = None, center_crop: bool | None = None,
                  batch_size: int = 1, norm_stats: str = "thumbnail") -> Result:
        """Translate a PIL image. ``full_resolution=True`` keeps its pixel size, translating in
        ``tile_size`` px tiles (default 512) overlapping by ``overlap`` px (default 64) with per-tile
        progress (``norm_stats``: ``"thumbnail"`` or ``"tile"``, see pipelines/tiling.py);
        ``center_crop`` (default: the model's) crops the centred square first."""
        from .pipelines.translation import translate

        return translate(self.load(model, direction), image, working_size=working_size, seed=seed, progress=progress,
                         full_resolution=full_resolution, tile_size=tile_size, overlap=overlap,
                         center_crop=center_crop, batch_size=batch_size, norm_stats=norm_stats)

    def translate_attributes(self, model: str, image: Any, attributes: Iterable[str] | Mapping[str, bool], *,
                             seed: int = 0, progress: ProgressFn | None = None) -> Result:
        from .pipelines.multidomain import translate_attributes

        return translate_attributes(self.load(model), image, attributes, seed=seed, progress=progress)

    def colorize(self, model: str, image: Any, *, working_size: int | None = None,
                 progress: ProgressFn | None = None) -> Result:
        from .pipelines.colorization import colorize

        return colorize(self.load(model), image, working_size=working_size, progress=progress)
