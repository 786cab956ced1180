"""Safe weight-file loading and our own checkpoint folder format.

Rules (see docs/security.md):

* ``.safetensors`` first. Pickle-based files (``.bin``, ``.pth``, ``.pt``, ``.ckpt``) only through
  ``torch.load(..., weights_only=True)`` passed explicitly; there is no fallback to full unpickling,
  so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot turn it on. The one class added to torch's allow-list,
  for that call only, is ``argparse.Namespace`` (training scripts save their ``args`` beside the weights).
* A pickled whole module (or any object that is not tensors in dicts) is refused with a message
  that names the file.
* Our folder format is huggingface_hub's ``PyTorchModelHubMixin`` layout: ``config.json`` (the
  constructor kwargs, plus a ``_gan_studio`` block), ``model.safetensors`` and a ``README.md`` card.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import CheckpointError
from .folder import CARD_NAME, CONFIG_NAME, META_KEY, WEIGHTS_NAME

logger = logging.getLogger(__name__)

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".ckpt", ".tar")  # .tar: torch.save files named .pth.tar
WEIGHT_SUFFIXES = SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES
# Keys under which training scripts commonly nest a generator's state dict. The moving-average
# generator comes before the raw one: rosinality's g_ema (next to g), genforce's generator_smooth
# (next to generator).
NESTING_KEYS = ("state_dict", "model_state_dict", "netG_state_dict", "g_ema", "generator_smooth", "generator", "G",
                "netG", "model", "params_ema")


def load_weight_file(path: str | os.PathLike[str]) -> Any:
    """Load a weight file without running code from it.

    Returns what the file holds: a flat ``dict[str, Tensor]`` for safetensors, and for pickle-based
    files whatever ``torch.load(weights_only=True)`` accepts (tensors nested in dicts/lists).
    Raises :class:`CheckpointError` naming the file on anything corrupt, unsafe or unknown.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weight file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{path.name}: not a valid safetensors file ({exc})") from None
    if suffix in PICKLE_SUFFIXES:
        import argparse
        import pickle

        try:
            # argparse.Namespace: training scripts (rosinality's train.py) save their ``args`` next to the
            # weights; allowed for this call only, it is rebuilt as a plain attribute bag (no code runs)
            with torch.serialization.safe_globals([argparse.Namespace]):
                obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"{path.name}: refused: it holds pickled Python objects, not just weights "
                f"(a pickled module or custom class), and gan_studio only loads weights "
                f"(torch.load weights_only=True). Re-save it as a state_dict. [{first}]"
            ) from None
        except (RuntimeError, EOFError, OSError, ValueError, AttributeError, KeyError, IndexError) as exc:
            raise CheckpointError(f"{path.name}: corrupt or truncated checkpoint ({type(exc).__name__}: {exc})") from None
        return obj
    raise CheckpointError(
        f"{path.name}: unsupported weight file type {suffix!r}; use one of {', '.join(WEIGHT_SUFFIXES)}"
    )


def extract_state_dict(obj: Any, key: str | None = None, *, source: str = "checkpoint") -> dict[str, Any]:
    """Find the generator's flat ``name -> Tensor`` mapping inside a loaded checkpoint.

    With ``key`` the state dict must sit under that key (dotted paths like ``"models.G"`` work).
    Without it, a flat mapping of tensors is taken as is, otherwise the first of
    :data:`NESTING_KEYS` that holds one.
    """
    import torch

    def is_state_dict(value: Any) -> bool:
        return isinstance(value, Mapping) and bool(value) and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
        )

    if key is not None:
        node = obj
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                choices = ", ".join(repr(k) for k in node) if isinstance(node, Mapping) else "none"
                raise CheckpointError(f"{source}: no key {part!r} (of {key!r}); top-level keys are: {choices}")
            node = node[part]
        if not is_state_dict(node):
            raise CheckpointError(f"{source}: the value under {key!r} is not a state dict of tensors")
        return dict(node)
    if is_state_dict(obj):
        return dict(obj)
    if isinstance(obj, Mapping):
        for candidate in NESTING_KEYS:
            if candidate in obj and is_state_dict(obj[candidate]):
                logger.info("%s: using the state dict nested under %r", source, candidate)
                return dict(obj[candidate])
        raise CheckpointError(
            f"{source}: no state dict found; top-level keys are {sorted(map(str, obj))}; "
            f"pass the key that holds the generator's weights (--key)"
        )
    raise CheckpointError(f"{source}: holds a {type(obj).__name__}, not a state dict")


def checkpoint_extras(obj: Any, state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """The tensors a checkpoint keeps at its top level next to the state dict it holds (rosinality's
    ``latent_avg`` beside ``g_ema``); empty for a bare state dict."""
    import torch

    if not isinstance(obj, Mapping) or obj is state_dict or set(obj) == set(state_dict):
        return {}
    return {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def load_strict(module: Any, state_dict: Mapping[str, Any], *, source: str) -> None:
    """``module.load_state_dict(state_dict, strict=True)`` with a readable report of mismatches."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    wrong_shape = sorted(
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(state_dict)
        if tuple(own[k].shape) != tuple(state_dict[k].shape)
    )
    if missing or unexpected or wrong_shape:
        parts = [f"{source} does not match {type(module).__name__}:"]
        if missing:
            parts.append(f"missing keys ({len(missing)}): {', '.join(missing[:20])}{' …' if len(missing) > 20 else ''}")
        if unexpected:
            parts.append(
                f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:20])}{' …' if len(unexpected) > 20 else ''}"
            )
        if wrong_shape:
            parts.append(f"shape mismatches ({len(wrong_shape)}): {'; '.join(wrong_shape[:10])}")
        raise CheckpointError("\n  ".join(parts))
    module.load_state_dict(state_dict, strict=True)


def save_model_folder(
    module: Any,
    out_dir: str | os.PathLike[str],
    *,
    architecture: str,
    kwargs: Mapping[str, Any],
    meta: Mapping[str, Any] | None = None,
    card: str | None = None,
) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (+ ``README.md``) for ``module``.

    ``kwargs`` are the constructor arguments and must be JSON-able; ``meta`` goes into the
    ``_gan_studio`` block (task, labels, image size, licence, …).
    """
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = dict(kwargs)
    try:
        json.dumps(config)
    except TypeError as exc:
        raise CheckpointError(f"constructor kwargs must be JSON-able: {exc}") from None
    config[META_KEY] = {"architecture": architecture, **(dict(meta) if meta else {})}
    (out / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(tensors, str(out / WEIGHTS_NAME), metadata={"format": "pt", "architecture": architecture})
    if card is not None:
        (out / CARD_NAME).write_text(card, encoding="utf-8")
    return out
