"""The engine the CLI and the UI share: a registry, a device, and a cache of loaded models.

>>> studio = Studio(device="cpu")                                   # doctest: +SKIP
>>> [r.image for r in studio.generate("digits-cgan", seed=7, n=4, label="3")]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .models import LoadedModel, ModelCache
from .pipelines.common import ProgressFn, Result
from .registry import ModelSpec, Registry, load_registry

if TYPE_CHECKING:
    from .pipelines.projection import Projection
    from .pipelines.styles import StyleMix

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
        precision: str = "auto",
        channels_last: str = "auto",
        compile: bool = False,
        threads: int | None = None,
    ) -> None:
        """``precision`` (``auto``, ``fp32``, ``bf16``, ``fp16``), ``channels_last`` (``auto``, ``on``,
        ``off``), ``compile`` and ``threads`` make the :class:`~gan_studio.runtime.Runtime` every model
        runs with; ``half`` (older spelling) forces ``fp16`` (True) or ``fp32`` (False)."""
        from .device import select_device
        from .runtime import Runtime

        self.registry = registry if registry is not None else load_registry(models_file)
        self.device = select_device(device)
        if half is not None:
            precision = "fp16" if half else "fp32"
        self.runtime = Runtime(precision=precision, channels_last=channels_last, compile=compile, threads=threads)
        self.runtime.check(self.device)
        self.runtime.apply_threads()
        self.cache = ModelCache(cache_bytes) if cache_bytes else ModelCache()
        self.batching = batching  # concurrent generate calls for one model share forward passes
        self._lock = threading.Lock()
        self._defaults: dict[str, str | None] = {}  # job -> the model its tab starts with

    # ---- models -------------------------------------------------------------------------------
    def spec(self, model: str, *, architecture: str | None = None) -> ModelSpec:
        """Resolve an id, a local folder or a Hub repo id; resolved extras join this registry."""
        spec = self.registry.resolve(model, architecture=architecture)
        if spec.id not in self.registry:
            with self._lock:
                self.registry.add(spec)
        return spec

    def register_folder(self, folder: str | Path, model_id: str) -> ModelSpec:
        """Register the local model folder ``folder`` under ``model_id`` (a model trained in the studio:
        "Use this model"); the same path as the Models tab's "add a local folder", with a chosen id."""
        from .registry import spec_from_folder

        spec = spec_from_folder(folder, model_id=model_id)
        with self._lock:
            self.registry.add(spec)
        return spec

    def load(self, model: str, variant: str | None = None) -> LoadedModel:
        loaded = self.cache.get(self.spec(model), variant, self.device, self.runtime)
        if self.batching and loaded.batcher is None:
            from .batching import ForwardBatcher

            with self._lock:
                if loaded.batcher is None:
                    loaded.batcher = ForwardBatcher()
        return loaded

    def weight_files(self, spec: ModelSpec) -> list[Path] | None:
        """The local weight files ``spec`` loads (one per variant), without loading them; None when
        its weights are on the Hub (fetched on first use). A missing file is left out."""
        from .models import local_weight_file

        sources = list(spec.variants.values()) or [spec.source]
        if any(s.is_hub for s in sources):
            return None
        return [f for f in (local_weight_file(s) for s in sources) if f is not None]

    def has_directions(self, spec: ModelSpec) -> bool:
        """Whether semantic directions can be found for ``spec`` (a style space W, or z read by its first
        layer as in ProGAN), read from the architecture class without loading any weights."""
        from .architectures import architecture_class
        from .errors import UnknownArchitectureError

        try:
            cls = architecture_class(spec.architecture)
        except UnknownArchitectureError:
            return False
        return cls.has_w_space or cls.has_latent_directions

    # ---- tasks --------------------------------------------------------------------------------
    def generate(self, model: str, *, seed: int = 0, n: int = 1, label: int | str | None = None,
                 truncation: float | None = None, batch_size: int = 16,
                 progress: ProgressFn | None = None, steps: int | None = None,
                 noise_mode: str | None = None, truncation_cutoff: int | None = None,
                 translate: tuple[float, float] | None = None, rotate: float | None = None) -> list[Result]:
        """Images from seeds ``seed … seed + n - 1``; ``steps``: sampling steps of a diffusion model
        (default: the model's; one-pass GAN generators take none); ``noise_mode`` and
        ``truncation_cutoff``: a StyleGAN's controls; ``translate``/``rotate``: a StyleGAN3's input."""
        from .pipelines.generation import generate

        return generate(self.load(model), seed=seed, n=n, label=label, truncation=truncation,
                        batch_size=batch_size, progress=progress, steps=steps, noise_mode=noise_mode,
                        truncation_cutoff=truncation_cutoff, translate=translate, rotate=rotate)

    def style_mix(self, model: str, *, row_seeds: Sequence[int], col_seeds: Sequence[int],
                  layers: str | Sequence[int] = "coarse", **options: Any) -> StyleMix:
        """The style-mixing grid of a StyleGAN (see :func:`gan_studio.pipelines.styles.style_mix`)."""
        from .pipelines.styles import style_mix

        return style_mix(self.load(model), row_seeds=row_seeds, col_seeds=col_seeds, layers=layers, **options)

    def w_interpolate(self, model: str, *, seed_a: int, seed_b: int, frames: int = 16, **options: Any) -> list[Result]:
        """Frames along the line in W between two seeds of a StyleGAN."""
        from .pipelines.styles import w_interpolate

        return w_interpolate(self.load(model), seed_a=seed_a, seed_b=seed_b, frames=frames, **options)

    def directions(self, model: str, *, seed: int, k: int = 5, **options: Any) -> Result:
        """A preview grid of a StyleGAN's top-``k`` SeFa directions applied to ``seed``."""
        from .pipelines.styles import direction_strips

        return direction_strips(self.load(model), seed=seed, k=k, **options)

    def project(self, model: str, image: Any, **options: Any) -> Projection:
        """Project a photo into a StyleGAN's W / W+ (see :func:`gan_studio.pipelines.projection.project`)."""
        from .pipelines.projection import project

        return project(self.load(model), image, **options)

    def edit(self, model: str, *, seed: int, amounts: Sequence[float], **options: Any) -> Result:
        """``seed``'s image moved along the SeFa directions by ``amounts``."""
        from .pipelines.styles import edit

        return edit(self.load(model), seed=seed, amounts=amounts, **options)

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

    def colorize(self, model: str, image: Any, *, working_size: int | None = None, strength: float = 1.0,
                 progress: ProgressFn | None = None) -> Result:
        from .pipelines.colorization import colorize

        return colorize(self.load(model), image, working_size=working_size, strength=strength, progress=progress)

    def upscale(self, model: str, image: Any, *, scale: float | None = None, tile_size: int | None = None,
                progress: ProgressFn | None = None) -> Result:
        """Enlarge ``image`` ``scale`` times (default: the model's own factor) with the upscaler ``model``,
        in tiles of ``tile_size`` input px (see :mod:`gan_studio.pipelines.upscale`)."""
        from .pipelines.upscale import upscale

        return upscale(self.load(model), image, scale=scale, tile_size=tile_size, progress=progress)

    # ---- defaults -----------------------------------------------------------------------------
    def default_model(self, job: str, choices: Sequence[str] | None = None) -> str | None:
        """The model a tab of ``job`` starts with: a Hub model whose catalogue entry names this device
        type in ``online_default`` (DDColor-T on a CPU, DDColor-L on a GPU) when it is cached or the
        Hub answers now; else the first of ``choices`` (the job's models, embedded ones first).

        The Hub check is one short request, made once per job and Studio."""
        from .contract import JOBS
        from .hub import is_cached, is_reachable

        ids = list(choices) if choices is not None else [s.id for s in self.registry if s.task in JOBS[job]]
        if job in self._defaults:
            found = self._defaults[job]
            return found if found in ids else (ids[0] if ids else None)
        device_type = self.device.type
        chosen = ids[0] if ids else None
        for model_id in ids:
            spec = self.registry.get(model_id)
            if device_type not in spec.online_default or spec.source.repo_id is None:
                continue
            repo, revision = spec.source.repo_id, spec.source.revision
            if is_cached(repo, revision=revision) or is_reachable(repo, revision=revision):
                chosen = model_id
            break
        self._defaults[job] = chosen
        return chosen

    # ---- warm-up ------------------------------------------------------------------------------
    def default_models(self) -> list[str]:
        """The first local (embedded or folder) model of each job (generate, translate, colorize; see
        :data:`gan_studio.contract.JOBS`) and of each image task within it, in registry order; Hub
        models and architectures that declare ``warm_up = False`` (diffusion samplers) are left out."""
        from .architectures import architecture_class
        from .contract import GENERATION_TASKS, IMAGE_TASKS

        groups = [GENERATION_TASKS, *((task,) for task in IMAGE_TASKS)]
        out: list[str] = []
        for tasks in groups:
            spec = next((s for s in self.registry if s.task in tasks and not s.source.is_hub
                         and architecture_class(s.architecture).warm_up), None)
            if spec is not None:
                out.append(spec.id)
        return out

    def warm_up(self, models: Iterable[str] | None = None) -> dict[str, float | str]:
        """Load each model and run it once at its native size, so the first request finds it ready
        (and, with ``compile``, compiled). Returns seconds per model, or the error that stopped it;
        never raises (a warm-up is an optimisation)."""
        import time

        from PIL import Image

        from .contract import GENERATION_TASKS, Task
        from .pipelines.common import working_size_for

        done: dict[str, float | str] = {}
        for model in list(models) if models is not None else self.default_models():
            t0 = time.perf_counter()
            try:
                spec = self.spec(model)
                side = working_size_for(spec)
                grey = Image.new("RGB", (side, side), (128, 128, 128))
                if spec.task in GENERATION_TASKS:
                    self.generate(model, seed=0, n=1)
                elif spec.task == Task.TRANSLATION:
                    self.translate(model, grey)
                elif spec.task == Task.MULTIDOMAIN:
                    self.translate_attributes(model, grey, [])
                elif spec.task == Task.COLORIZATION:
                    self.colorize(model, grey)
                done[model] = time.perf_counter() - t0
                logger.info("warmed up %s in %.2f s", model, done[model])
            except Exception as exc:  # noqa: BLE001 - reported, never fatal
                done[model] = f"{type(exc).__name__}: {exc}"
                logger.warning("warm-up of %s failed: %s", model, done[model])
        return done
