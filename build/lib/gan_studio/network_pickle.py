"""Reading NVIDIA network pickles (StyleGAN2-ADA / StyleGAN3 ``.pkl``) without running any code.

NVIDIA's files are plain pickles of ``{'G', 'D', 'G_ema', 'augment_pipe', 'training_set_kwargs'}``
whose networks are ``torch_utils.persistence`` objects: each is pickled as a call
``_reconstruct_persistent_obj(meta)`` with ``meta = {type, version, module_src, class_name, state}``,
and the upstream loader ``exec``s ``module_src`` (the whole ``networks_*.py``). A plain
``pickle.load`` of a file from the internet therefore runs whatever Python the file carries.

:class:`RestrictedUnpickler` resolves only an explicit allow-list of globals and never imports or
executes anything named by the file:

* ``torch_utils.persistence._reconstruct_persistent_obj`` is replaced by a stub that returns its
  ``meta`` as a :class:`PersistentObject` (data; ``module_src`` is kept as a string and never run);
* ``dnnlib.util.EasyDict`` becomes a plain ``dict``;
* tensors and storages are rebuilt by torch's own rebuild functions, a storage's bytes are read
  with ``torch.load(..., weights_only=True)``;
* ``collections.OrderedDict``, ``builtins.set``/``frozenset``, torch dtypes, and numpy's
  scalar/array rebuilders (``numpy.core.multiarray.scalar``/``_reconstruct``, ``numpy.ndarray``,
  ``numpy.dtype``) are allowed as data.

Anything else raises :class:`~gan_studio.errors.CheckpointError` naming the global it met.
:func:`read_network_pickle` then extracts one network (``G_ema`` by default): its class name, its
init arguments (z/c/w dims, resolution, mapping and synthesis kwargs) and its state dict, from
which the studio builds its own module (``gan_studio.convert.from_network_pickle``).
"""

from __future__ import annotations

import collections
import importlib
import io
import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import CheckpointError

__all__ = ["NetworkPickle", "PersistentObject", "RestrictedUnpickler", "read_network_pickle"]

MAX_PICKLE_BYTES = 2 << 30  # 2 GiB: the largest published StyleGAN pickles are ~400 MB


@dataclass
class PersistentObject:
    """What ``_reconstruct_persistent_obj(meta)`` would have rebuilt, kept as data."""

    class_name: str
    state: dict[str, Any]
    version: int | None = None
    module_src_bytes: int = 0  # how much source code the file carried (never executed)

    @property
    def init_args(self) -> tuple[Any, ...]:
        return tuple(self.state.get("_init_args", ()) or ())

    @property
    def init_kwargs(self) -> dict[str, Any]:
        return dict(self.state.get("_init_kwargs", {}) or {})


def _reconstruct_stub(meta: Any) -> PersistentObject:
    if not isinstance(meta, Mapping):
        raise CheckpointError(f"a persistent object's metadata must be a dict, got {type(meta).__name__}")
    if meta.get("type") != "class":
        raise CheckpointError(f"unsupported persistent object type {meta.get('type')!r} (only 'class')")
    state = meta.get("state")
    if not isinstance(state, Mapping):
        raise CheckpointError(f"persistent object {meta.get('class_name')!r} has no state dict")
    src = meta.get("module_src")
    return PersistentObject(class_name=str(meta.get("class_name")), state=dict(state),
                            version=meta.get("version") if isinstance(meta.get("version"), int) else None,
                            module_src_bytes=len(src) if isinstance(src, str | bytes) else 0)


class _EasyDict(dict):  # type: ignore[type-arg]
    """``dnnlib.util.EasyDict`` as plain data (attribute access is not needed)."""


def _load_storage_from_bytes(data: bytes) -> Any:
    """A storage pickled by ``torch.storage._load_from_bytes``: its bytes are a ``torch.save`` file,
    read here with the weights-only unpickler."""
    import torch

    if not isinstance(data, bytes | bytearray):
        raise CheckpointError(f"a storage must be bytes, got {type(data).__name__}")
    try:
        return torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any failure of the nested file is a bad checkpoint
        raise CheckpointError(f"a tensor storage in the pickle cannot be read weights-only: {exc}") from None


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import numpy as np
    import torch
    import torch._utils

    allowed: dict[tuple[str, str], Any] = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_stub,
        ("dnnlib.util", "EasyDict"): _EasyDict,
        ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    multiarray = importlib.import_module("numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray")
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1 and 2 spell it differently
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    for name in ("float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"):
        allowed[("torch", name)] = getattr(torch, name)
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :func:`_allowed_globals` and refuses persistent ids."""

    def __init__(self, file: IO[bytes], *, source: str = "pickle") -> None:
        super().__init__(file)
        self.source = source
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Callable[..., Any]:
        try:
            return self._allowed[(module, name)]  # type: ignore[no-any-return]
        except KeyError:
            raise CheckpointError(
                f"{self.source}: refused global {module}.{name}; a network pickle may only reference "
                f"tensors, storages, containers, numpy scalars and NVIDIA's persistence stub (nothing is "
                f"imported or run from the file)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError(f"{self.source}: persistent ids ({str(pid)[:40]!r}) are not part of a network pickle; "
                              f"a torch.save file is loaded with the weights-only loader instead")


@dataclass
class NetworkPickle:
    """One network of a network pickle, as data."""

    class_name: str
    init_args: tuple[Any, ...]
    init_kwargs: dict[str, Any]
    state_dict: dict[str, Any]
    submodule_classes: set[str] = field(default_factory=set)  # class names found below it
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. training_set_kwargs of the file


def _state_dict(obj: PersistentObject, prefix: str = "", classes: set[str] | None = None) -> dict[str, Any]:
    """The ``state_dict()`` the network would have had: parameters and persistent buffers, recursively."""
    import torch

    out: dict[str, Any] = {}
    state = obj.state
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for kind in ("_parameters", "_buffers"):
        tensors = state.get(kind) or {}
        if not isinstance(tensors, Mapping):
            raise CheckpointError(f"{obj.class_name}.{kind} is not a dict")
        for name, value in tensors.items():
            if value is None or (kind == "_buffers" and name in skip):
                continue
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
            out[prefix + name] = value.detach()
    for name, child in (state.get("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, PersistentObject):
            raise CheckpointError(f"{prefix}{name} is a {type(child).__name__}; only persistent networks are read")
        if classes is not None:
            classes.add(child.class_name)
        out.update(_state_dict(child, f"{prefix}{name}.", classes))
    return out


def read_network_pickle(path: str | os.PathLike[str], *, network: str = "G_ema") -> NetworkPickle:
    """Read ``network`` (``G_ema``, ``G`` or ``D``) of an NVIDIA network pickle without running code."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_PICKLE_BYTES:
        raise CheckpointError(f"{path.name}: {size / 2**30:.1f} GiB is larger than any network pickle")
    try:
        with path.open("rb") as f:
            data = RestrictedUnpickler(f, source=path.name).load()
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            RecursionError, MemoryError, RuntimeError) as exc:
        raise CheckpointError(f"{path.name} is not a readable network pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{path.name}: a network pickle holds a dict of networks, not a {type(data).__name__}")
    obj = data.get(network)
    if not isinstance(obj, PersistentObject):
        found = sorted(k for k, v in data.items() if isinstance(v, PersistentObject))
        raise CheckpointError(f"{path.name} has no network {network!r}; it has: {', '.join(found) or 'none'}")
    classes: set[str] = set()
    state_dict = _state_dict(obj, classes=classes)
    extra = {k: v for k, v in data.items() if k == "training_set_kwargs" and isinstance(v, Mapping)}
    return NetworkPickle(obj.class_name, obj.init_args, obj.init_kwargs, state_dict, classes, extra)
