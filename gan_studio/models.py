"""From a model id to a ready ``nn.Module``: weights, conversion, strict loading, and the model cache."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .contract import Contract, Task
from .errors import CheckpointError, HubEntryNotFoundError, WrongTaskError
from .folder import CONFIG_NAME, DEFAULT_WEIGHT_FILES
from .memory import release_memory
from .registry import ModelSpec, Source, load_registry
from .runtime import Runtime

if TYPE_CHECKING:
    import torch

    from .architectures import Generator
    from .batching import ForwardBatcher

logger = logging.getLogger(__name__)

NETWORK_PICKLE_SUFFIX = ".pkl"  # NVIDIA StyleGAN network pickles (gan_studio.network_pickle)
DEFAULT_CACHE_BYTES = int(os.environ.get("GAN_STUDIO_CACHE_MB", "2048")) * 1024 * 1024


@dataclass
class LoadedModel:
    """A generator ready to run, with what provenance needs to know about it."""

    spec: ModelSpec
    variant: str | None
    module: Generator  # in eval mode, on `device` with `dtype`
    architecture: str
    kwargs: dict[str, Any]
    revision: str  # Hub commit sha, or "local-<sha256 prefix>" of the weight file
    device: torch.device | str
    dtype: torch.dtype  # of the weights and the inputs (float32 under bf16 autocast)
    nbytes: int
    batcher: ForwardBatcher | None = None  # set when concurrent calls may share forward passes
    precision: str = "fp32"  # fp32, bf16 (autocast) or fp16 (see gan_studio.runtime)
    channels_last: bool = False
    compiled: Any = None  # the module's torch.compile wrapper, when the runtime asks for one

    @property
    def contract(self) -> Contract:
        """What the architecture declares: how it is called and what it tolerates."""
        return self.module.contract

    @property
    def task(self) -> Task:
        """The task the studio uses this model for (the registry's, which a folder may set)."""
        return self.spec.task

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """Inference mode, plus bf16 autocast when this model runs in ``bf16``."""
        import torch

        from .runtime import autocast_for

        with torch.inference_mode(), autocast_for(self.device, self.precision):
            yield

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """One forward pass (inside :meth:`inference`), compiled when the runtime asked for it.

        If the compiled model fails (no C++ compiler, an unsupported operation) where the eager
        module succeeds, it is dropped with a warning and later calls run eagerly; an input the
        eager module refuses too raises that error and keeps the compiled model.
        """
        compiled = self.compiled
        if compiled is None:
            return self.module(*args, **kwargs)
        try:
            return compiled(*args, **kwargs)
        except Exception as exc:  # compiling is an optimisation; the eager module still works
            from .memory import is_out_of_memory

            if is_out_of_memory(exc):
                raise
            out = self.module(*args, **kwargs)  # raises if the input itself is wrong
            logger.warning("compiled %s failed (%s: %s); running it eagerly from now on",
                           self.spec.id, type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            self.compiled = None
            return out


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def local_weight_file(source: Source) -> Path | None:
    """The weight file a local source loads (the first of its ``files``, else of
    :data:`DEFAULT_WEIGHT_FILES`, that exists), or None when there is none or the source is on the Hub."""
    if source.is_hub:
        return None
    folder = Path(source.path or ".") / (source.subfolder or "")
    return next((folder / n for n in (source.files or DEFAULT_WEIGHT_FILES) if (folder / n).is_file()), None)


def _local_weights(source: Source) -> tuple[Path, Path]:
    """(weight file, folder) of a local source."""
    folder = Path(source.path or ".") / (source.subfolder or "")
    if not folder.is_dir():
        raise CheckpointError(f"model folder {str(folder)!r} does not exist")
    found = local_weight_file(source)
    if found is not None:
        return found, folder
    raise CheckpointError(
        f"model folder {str(folder)!r} has none of the weight files {list(source.files or DEFAULT_WEIGHT_FILES)}"
    )


def _hub_weights(source: Source) -> tuple[Path, Path | None, str]:
    """(weight file, the local folder holding its config.json or None, commit) of a Hub source."""
    from . import hub

    def remote(name: str) -> str:
        return f"{source.subfolder}/{name}" if source.subfolder else name

    assert source.repo_id is not None
    for name in source.files or DEFAULT_WEIGHT_FILES:
        try:
            path = hub.download_file(source.repo_id, remote(name), revision=source.revision)
        except HubEntryNotFoundError:
            continue
        break
    else:
        raise CheckpointError(
            f"Hub repo {source.repo_id!r} has none of the weight files {list(source.files or DEFAULT_WEIGHT_FILES)}"
        )
    config = None
    if not source.files:  # our own format: config.json beside the weights
        try:
            config = hub.download_file(source.repo_id, remote(CONFIG_NAME), revision=source.revision)
        except HubEntryNotFoundError:
            config = None
    commit = hub.resolved_revision(path) or (source.revision or "main")
    return Path(path), (Path(config).parent if config else None), commit


def build_generator(spec: ModelSpec, variant: str | None = None) -> tuple[Generator, str, dict[str, Any], str]:
    """Build ``spec``'s generator on CPU with its weights loaded strictly, in eval mode.

    Returns ``(module, architecture, kwargs, revision)``. A model folder's ``config.json`` (read by
    :func:`gan_studio.folder.read_model_folder`) overrides the spec's architecture and kwargs.
    """
    from .architectures import architecture_class, resolve_architecture
    from .convert import from_network_pickle, load_converted
    from .folder import read_model_folder
    from .weights import checkpoint_extras, extract_state_dict

    source = spec.source_for(variant)
    if architecture_class(spec.architecture).own_folder_format:
        module, architecture, kwargs, revision = _build_own_format(spec, source)
    else:
        kwargs = dict(spec.kwargs)
        architecture = spec.architecture
        if source.is_hub:
            weights, config_folder, revision = _hub_weights(source)
        else:
            weights, config_folder = _local_weights(source)
            revision = f"local-{_file_digest(weights)}"
        if config_folder is not None and (config_folder / CONFIG_NAME).is_file():
            folder = read_model_folder(config_folder)
            architecture = folder.architecture or architecture
            kwargs = folder.kwargs
        if weights.suffix == NETWORK_PICKLE_SUFFIX:  # NVIDIA network pickle: read without running its code
            module, architecture, kwargs = from_network_pickle(weights, network=source.key or "G_ema")
        else:
            architecture, kwargs = resolve_architecture(architecture, kwargs)
            checkpoint = architecture_class(architecture).read_weight_file(weights)
            state = extract_state_dict(checkpoint, source.key, source=weights.name)
            module, kwargs = load_converted(state, architecture, kwargs, source=f"{spec.id} ({weights.name})",
                                            extras=checkpoint_extras(checkpoint, state))
    module.eval()
    module.requires_grad_(False)
    return module, architecture, kwargs, revision


def _build_own_format(spec: ModelSpec, source: Source) -> tuple[Generator, str, dict[str, Any], str]:
    """A model whose architecture keeps its own folder format (a diffusers UNet + schedule): the local
    folder, or a Hub snapshot of the files the architecture names, loaded whole."""
    from .architectures import architecture_class

    cls = architecture_class(spec.architecture)
    if source.is_hub:
        from . import hub

        assert source.repo_id is not None
        snapshot = hub.download_snapshot(source.repo_id, revision=source.revision,
                                         allow_patterns=list(cls.hub_files(source.subfolder)))
        folder = snapshot / (source.subfolder or "")
        revision = hub.resolved_revision(snapshot) or (source.revision or "main")
    else:
        folder = Path(source.path or ".") / (source.subfolder or "")
        if not folder.is_dir():
            raise CheckpointError(f"model folder {str(folder)!r} does not exist")
        weights = cls.local_weights(folder)
        revision = f"local-{_file_digest(weights)}" if weights is not None else "local"
    module = cls.load_folder(folder)
    return module, cls.architecture, module.config, revision


class ModelCache:
    """Loaded generators, least-recently-used first out once ``max_bytes`` of weights is exceeded.

    Thread-safe: concurrent requests for the same model load it once.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, str | None, str, str], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str | None, str, str], threading.Lock] = {}

    @property
    def nbytes(self) -> int:
        return sum(item.nbytes for item in self._items.values())

    def keys(self) -> list[tuple[str, str | None, str, str]]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
        release_memory()

    def get(self, spec: ModelSpec, variant: str | None, device: Any, runtime: Runtime | None = None) -> LoadedModel:
        """``spec``'s generator (``variant``) on ``device``, run the way ``runtime`` says (default: fp32,
        eager, contiguous), loading it on first use."""
        runtime = runtime or Runtime(precision="fp32", channels_last="off")
        if spec.variants and not variant:
            variant = spec.default_variant
        key = (spec.id, variant, str(device), repr(runtime))
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key]
            loaded = _load(spec, variant, device, runtime)
            with self._lock:
                self._items[key] = loaded
                self._evict()
                self._loading.pop(key, None)
            logger.info("loaded %s%s (%s, %.1f MB) on %s, %s%s%s", spec.id, f"[{variant}]" if variant else "",
                        loaded.architecture, loaded.nbytes / 2**20, device, loaded.precision,
                        ", channels-last" if loaded.channels_last else "",
                        ", compiled" if loaded.compiled is not None else "")
            return loaded

    def _evict(self) -> None:
        evicted = False
        while len(self._items) > 1 and self.nbytes > self.max_bytes:
            key, item = self._items.popitem(last=False)
            logger.info("evicting %s from the model cache (%.1f MB)", key[0], item.nbytes / 2**20)
            evicted = True
        if evicted:
            release_memory()


def _load(spec: ModelSpec, variant: str | None, device: Any, runtime: Runtime) -> LoadedModel:
    """Build ``spec``'s generator and put it on ``device`` in ``runtime``'s precision and format."""
    from .runtime import prepare_module, weight_dtype

    module, architecture, kwargs, revision = build_generator(spec, variant)
    contract = module.contract
    precision = runtime.precision_for(device, contract)
    dtype = weight_dtype(precision)
    module = module.to(device=device, dtype=dtype)
    channels_last = runtime.channels_last_for(device, contract, precision)
    module, compiled = prepare_module(module, contract, channels_last=channels_last, compile=runtime.compile,
                                      name=spec.id)
    nbytes = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    return LoadedModel(spec, variant, module, architecture, kwargs, revision, device, dtype, nbytes,
                       precision=precision, channels_last=channels_last, compiled=compiled)


def load_generator(
    model: str,
    *,
    variant: str | None = None,
    models_file: str | None = None,
    device: Any = "cpu",
    architecture: str | None = None,
) -> Any:
    """Load a generator (``nn.Module``, eval mode) by registry id, local folder or Hub repo id."""
    import torch

    spec = load_registry(models_file).resolve(model, architecture=architecture)
    module, *_ = build_generator(spec, variant)
    return module.to(torch.device(device))


def require_task(spec: ModelSpec, *tasks: Task) -> None:
    """Raise :class:`WrongTaskError` unless ``spec`` does one of ``tasks``."""
    if spec.task not in tasks:
        raise WrongTaskError(
            f"model {spec.id!r} is a {spec.task.value} model; this needs a "
            f"{' or '.join(t.value for t in tasks)} model"
        )
