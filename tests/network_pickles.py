"""Writing files in the structure of NVIDIA's network pickles, for tests (no NVIDIA code involved).

A network pickle is a plain pickle of ``{'G', 'D', 'G_ema', 'augment_pipe', 'training_set_kwargs'}``
whose networks are ``torch_utils.persistence`` objects, each pickled as the call
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with
``meta = {type: 'class', version: 6, module_src, class_name, state}`` and ``state`` the module's
``__dict__`` (``_parameters``, ``_buffers``, ``_modules``, ``_init_args``, ``_init_kwargs``, …).
:func:`write_network_pickle` writes that structure from any ``nn.Module`` tree, with a
``module_src`` of the caller's choosing (the hostile tests put code that would write a canary file).
The pickler resolves globals by module name, so a stand-in ``torch_utils.persistence`` module is
put into ``sys.modules`` while writing and removed afterwards.
"""

from __future__ import annotations

import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

from torch import nn

# The class name NVIDIA's code gives each of our StyleGAN2/StyleGAN3 submodules (state-dict layout is the
# same); the others (MappingNetwork, SynthesisInput, SynthesisLayer, …) carry NVIDIA's names already.
NVIDIA_CLASS_NAMES = {"StyleGAN2Generator": "Generator", "SkipConv": "Conv2dLayer", "StyleGAN3Generator": "Generator"}


class _Persistent:
    """Pickles as ``_reconstruct_persistent_obj(meta)``, as NVIDIA's persistent classes do."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return sys.modules["torch_utils.persistence"]._reconstruct_persistent_obj, (self.meta,)


def _reconstruct_persistent_obj(meta: dict[str, Any]) -> Any:  # pragma: no cover - never called by the studio
    raise AssertionError("the studio must never call the persistence reconstructor")


def persistent(module: nn.Module, *, module_src: str, init_kwargs: dict[str, Any] | None = None,
               extra_state: dict[str, Any] | None = None) -> _Persistent:
    """``module`` (and its submodules) as persistent objects in NVIDIA's pickle structure."""
    state: dict[str, Any] = {
        "training": False,
        "_parameters": OrderedDict((k, v) for k, v in module._parameters.items()),
        "_buffers": OrderedDict((k, v) for k, v in module._buffers.items()),
        "_non_persistent_buffers_set": set(module._non_persistent_buffers_set),
        "_modules": OrderedDict((k, persistent(v, module_src=module_src) if v is not None else None)
                                for k, v in module._modules.items()),
        "_init_args": (),
        "_init_kwargs": dict(init_kwargs or {}),
    }
    state.update(extra_state or {})
    name = type(module).__name__
    return _Persistent({"type": "class", "version": 6, "module_src": module_src,
                        "class_name": NVIDIA_CLASS_NAMES.get(name, name), "state": state})


def write_network_pickle(path: Path, networks: dict[str, Any], *, protocol: int = 4) -> Path:
    """Pickle ``networks`` (e.g. ``{"G_ema": persistent(G, …), "training_set_kwargs": {…}}``) to ``path``."""
    stand_in = types.ModuleType("torch_utils.persistence")
    stand_in._reconstruct_persistent_obj = _reconstruct_persistent_obj  # type: ignore[attr-defined]
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    package = types.ModuleType("torch_utils")
    saved = {name: sys.modules.get(name) for name in ("torch_utils", "torch_utils.persistence")}
    sys.modules["torch_utils"], sys.modules["torch_utils.persistence"] = package, stand_in
    try:
        with open(path, "wb") as f:
            pickle.dump({"G": None, "D": None, "augment_pipe": None, **networks}, f, protocol=protocol)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    return path

