"""Foreign checkpoint layouts -> our layout: the one place for key remapping and legacy patches.

Pure functions on state dicts (no file I/O; :mod:`gan_studio.weights` reads files and loads
strictly). :func:`convert_state_dict` applies, in order:

1. **Wrapper prefixes.** ``module.`` (``nn.DataParallel`` / ``DistributedDataParallel``) and
   ``_orig_mod.`` (``torch.compile``) are stripped when *every* key carries them.
2. **HugGAN DCGAN.** For ``dcgan``, HugGAN's ``Generator`` keeps the tutorial network under
   ``model.``; when every key starts with ``model.`` it is renamed to ``main.``.
   **Lornatang StarGAN.** For ``stargan``, checkpoints of Lornatang/StarGAN-PyTorch (published
   as ``goodfellowliu/StarGAN-PyTorch``) name the same layers ``first_layer``,
   ``down_sampling``, ``trunk.N.main``, ``up_sampling``, ``last_layer``; they are renumbered
   into the reference's ``main.N`` (:func:`lornatang_stargan_to_reference`).
   The HugGAN pix2pix/CycleGAN and pytorch-pretrained-BigGAN layouts need no renaming: their
   architectures (``huggan_pix2pix_unet``, ``huggan_cyclegan_resnet``, ``biggan_deep``) use
   the published keys.
3. **Normalisation buffers** (the CycleGAN/pix2pix reference's InstanceNorm patch, generalised):
   for each InstanceNorm layer of the target model that keeps no running statistics (CycleGAN's
   ``norm="instance"``, pix2pix with ``norm="instance"``), the ``running_mean``/``running_var``/
   ``num_batches_tracked`` keys that checkpoints from PyTorch < 0.4 (or from the reference's
   2018 ``track_running_stats=True`` code) carry are dropped. For norm layers that *do* keep
   running statistics (BatchNorm, StarGAN's InstanceNorm) a missing ``num_batches_tracked``
   (checkpoints from PyTorch < 0.4.1) is added as 0, as PyTorch itself does for such files.

Nothing else is dropped, renamed or invented: anything that still does not fit is reported by
:func:`gan_studio.weights.load_strict`. :func:`detect_architecture` and :func:`guess_kwargs` give
hints for error messages and for converting files whose config is unknown.
"""

from __future__ import annotations

import json
import os
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "WRAPPER_PREFIXES",
    "convert_state_dict",
    "from_network_pickle",
    "detect_architecture",
    "guess_kwargs",
    "lornatang_stargan_to_reference",
    "patch_norm_buffers",
    "rename_prefix",
    "strip_wrapper_prefixes",
]

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
_NORM_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def strip_wrapper_prefixes(state_dict: Mapping[str, Any], *, source: str = "checkpoint") -> dict[str, Any]:
    """Remove ``module.`` / ``_orig_mod.`` (repeatedly) when every key starts with it."""
    sd = dict(state_dict)
    changed = True
    while changed and sd:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if all(k.startswith(prefix) for k in sd):
                sd = {k[len(prefix) :]: v for k, v in sd.items()}
                logger.info("%s: stripped wrapper prefix %r from %d keys", source, prefix, len(sd))
                changed = True
    return sd


def rename_prefix(state_dict: Mapping[str, Any], old: str, new: str, *, source: str = "checkpoint") -> dict[str, Any]:
    """Rename the leading ``old`` to ``new`` when every key starts with ``old``; else unchanged."""
    sd = dict(state_dict)
    if sd and all(k.startswith(old) for k in sd):
        logger.info("%s: renamed key prefix %r -> %r (%d keys)", source, old, new, len(sd))
        return {new + k[len(old) :]: v for k, v in sd.items()}
    return sd


def patch_norm_buffers(
    state_dict: Mapping[str, Any], architecture: str, kwargs: Mapping[str, Any] | None, *, source: str = "checkpoint"
) -> dict[str, Any]:
    """Reconcile norm-layer buffers with the target model (step 3 of the module docstring).

    The target model is built on the ``meta`` device (no memory, no initialisation) only to
    find its norm layers. Keys of layers the model does not have are left alone.
    """
    import torch
    from torch.nn.modules.batchnorm import _NormBase
    from torch.nn.modules.instancenorm import _InstanceNorm

    from .architectures import build_architecture

    with torch.device("meta"):
        model = build_architecture(architecture, kwargs)
    sd = dict(state_dict)
    dropped: list[str] = []
    added: list[str] = []
    for name, module in model.named_modules():
        if not isinstance(module, _NormBase):
            continue
        prefix = f"{name}." if name else ""
        if isinstance(module, _InstanceNorm) and module.running_mean is None:
            for buffer in _NORM_BUFFERS:
                if sd.pop(prefix + buffer, None) is not None:
                    dropped.append(prefix + buffer)
        elif module.track_running_stats:
            key = prefix + "num_batches_tracked"
            if key not in sd and prefix + "running_mean" in sd:
                sd[key] = torch.tensor(0, dtype=torch.long)
                added.append(key)
    if dropped:
        logger.info(
            "%s: dropped %d InstanceNorm running-statistics keys that this model does not keep "
            "(legacy checkpoint; the reference loader deletes them too), e.g. %s",
            source,
            len(dropped),
            dropped[0],
        )
    if added:
        logger.info("%s: added num_batches_tracked=0 to %d norm layers (checkpoint older than PyTorch 0.4.1)", source, len(added))
    return sd


def convert_state_dict(
    state_dict: Mapping[str, Any],
    architecture: str,
    kwargs: Mapping[str, Any] | None,
    *,
    source: str = "checkpoint",
) -> dict[str, Any]:
    """Bring a foreign state dict to the layout of ``build_architecture(architecture, kwargs)``.

    ``architecture`` may be a preset (``resnet_9blocks``, …). Returns a new dict; the input is
    not modified. Raises :class:`~gan_studio.errors.UnknownArchitectureError` for an unknown
    architecture or bad kwargs. Key mismatches are left for ``load_strict`` to report.
    """
    from .architectures import resolve_architecture

    arch, full_kwargs = resolve_architecture(architecture, kwargs)
    sd = strip_wrapper_prefixes(state_dict, source=source)
    if arch == "dcgan" and not any(k.startswith("main.") for k in sd):
        sd = rename_prefix(sd, "model.", "main.", source=source)  # HugGAN's DCGAN
    if arch == "stargan" and any(k.startswith(_LORNATANG_STARGAN_PARTS) for k in sd):
        sd = lornatang_stargan_to_reference(sd, int(full_kwargs.get("repeat_num", 6)), source=source)
    return patch_norm_buffers(sd, arch, full_kwargs, source=source)


_LORNATANG_STARGAN_PARTS = ("first_layer.", "down_sampling.", "trunk.", "up_sampling.", "last_layer.")


def lornatang_stargan_to_reference(
    state_dict: Mapping[str, Any], repeat_num: int, *, source: str = "checkpoint"
) -> dict[str, Any]:
    """Rename Lornatang/StarGAN-PyTorch generator keys to the StarGAN reference's ``main.N`` keys.

    Both networks are the same layer sequence (conv, norm, ReLU, two downsamplings, ``repeat_num``
    residual blocks, two upsamplings, output conv): ``first_layer.i`` -> ``main.i``,
    ``down_sampling.i`` -> ``main.(3+i)``, ``trunk.k.main.j`` -> ``main.(9+k).main.j``,
    ``up_sampling.i`` -> ``main.(9+R+i)``, ``last_layer.i`` -> ``main.(15+R+i)`` with
    ``R = repeat_num``. Keys outside those groups are kept as they are (and then reported by the
    strict load).
    """
    offsets = {"first_layer": 0, "down_sampling": 3, "up_sampling": 9 + repeat_num, "last_layer": 15 + repeat_num}
    out: dict[str, Any] = {}
    renamed = 0
    for key, value in state_dict.items():
        part, _, rest = key.partition(".")
        index, _, tail = rest.partition(".")
        if part == "trunk" and index.isdigit():
            new = f"main.{9 + int(index)}.{tail}"
        elif part in offsets and index.isdigit():
            new = f"main.{offsets[part] + int(index)}.{tail}"
        else:
            out[key] = value
            continue
        out[new] = value
        renamed += 1
    logger.info("%s: renamed %d Lornatang StarGAN keys to the reference layout (main.N)", source, renamed)
    return out


_RESNET_BLOCK = re.compile(r"^model\.(\d+)\.conv_block\.(\d+)\.")
_HUGGAN_RESNET_BLOCK = re.compile(r"^model\.(\d+)\.block\.(\d+)\.")
_STARGAN_BLOCK = re.compile(r"^main\.(\d+)\.main\.(\d+)\.")
_SEQ_INDEX = re.compile(r"^(?:main|model)\.(\d+)\.")


def detect_architecture(state_dict: Mapping[str, Any]) -> str | None:
    """Best-effort guess of the architecture name a state dict was saved from, or ``None``.

    Looks at key patterns only (after stripping wrapper prefixes); meant for hints in error
    messages, not for deciding how to load.
    """
    keys = list(strip_wrapper_prefixes(state_dict, source="detect"))
    if not keys:
        return None
    if "embed.weight" in keys and any(k.startswith("main.") for k in keys):
        return "conditional_dcgan"
    if any(k.startswith("model.model.") for k in keys):
        return "pix2pix_unet"
    if any(_RESNET_BLOCK.match(k) for k in keys):
        return "cyclegan_resnet"
    if any(_STARGAN_BLOCK.match(k) for k in keys):
        return "stargan"
    if any(k.startswith(("stem.", "down.", "up.", "head.")) for k in keys) and "head.weight" in keys:
        return "colorization_unet"
    if any(_HUGGAN_RESNET_BLOCK.match(k) for k in keys):
        return "huggan_cyclegan_resnet"  # HugGAN's GeneratorResNet (upsample + conv)
    if "down1.model.0.weight" in keys and "final.2.weight" in keys:
        return "huggan_pix2pix_unet"
    if "embeddings.weight" in keys and any(k.startswith("generator.gen_z.") for k in keys):
        return "biggan_deep"
    if any(k.startswith("first_layer.") for k in keys) and any(k.startswith("trunk.") for k in keys):
        return "stargan"  # Lornatang's names for the StarGAN generator
    if all(_SEQ_INDEX.match(k) for k in keys):
        prefixes = {k.split(".", 1)[0] for k in keys}
        if len(prefixes) == 1 and _looks_like_dcgan(state_dict, keys, prefixes.pop()):
            return "dcgan"
    return None


def _looks_like_dcgan(state_dict: Mapping[str, Any], keys: list[str], prefix: str) -> bool:
    sd = strip_wrapper_prefixes(state_dict, source="detect")
    conv_weights = [k for k in keys if k.endswith(".weight") and getattr(sd[k], "ndim", 0) == 4]
    first = f"{prefix}.0.weight"
    # The first layer is a ConvTranspose2d from the 1×1 latent to 4×4: weight (nz, C, 4, 4), no bias.
    return bool(conv_weights) and first in sd and tuple(sd[first].shape[2:]) == (4, 4) and f"{prefix}.0.bias" not in sd


def guess_kwargs(state_dict: Mapping[str, Any], architecture: str) -> dict[str, Any]:
    """Best-effort constructor kwargs read off a state dict's keys and shapes.

    Covers the published layouts (``dcgan``, ``cyclegan_resnet``, ``pix2pix_unet``, ``stargan``);
    returns ``{}`` for others. Only what the weights reveal is returned (e.g. not ``use_dropout``
    for pix2pix, which adds no keys), so callers merge it over defaults.
    """
    from .architectures import resolve_architecture

    arch, _ = resolve_architecture(architecture)
    sd = strip_wrapper_prefixes(state_dict, source="guess")
    if arch in ("dcgan", "conditional_dcgan"):
        if arch == "dcgan" and not any(k.startswith("main.") for k in sd):
            sd = rename_prefix(sd, "model.", "main.", source="guess")
        convs = sorted(
            (int(m.group(1)), v) for k, v in sd.items() if (m := re.match(r"^main\.(\d+)\.weight$", k)) and v.ndim == 4
        )
        if not convs:
            return {}
        first, last = convs[0][1], convs[-1][1]
        out: dict[str, Any] = {
            "nz": int(first.shape[0]),
            "ngf": int(last.shape[0]),
            "nc": int(last.shape[1]),
            "image_size": 2 ** (len(convs) + 1),  # one ×2 per conv after the 4×4 start
        }
        if arch == "conditional_dcgan" and "embed.weight" in sd:
            num_classes, embed_dim = (int(n) for n in sd["embed.weight"].shape)
            out.update(num_classes=num_classes, embed_dim=embed_dim, nz=out["nz"] - embed_dim)
        return out
    if arch == "cyclegan_resnet":
        blocks = {int(m.group(1)) for k in sd if (m := _RESNET_BLOCK.match(k))}
        out = {"n_blocks": len(blocks)}
        if "model.1.weight" in sd:
            out["ngf"] = int(sd["model.1.weight"].shape[0])
            out["input_nc"] = int(sd["model.1.weight"].shape[1])
        last = max((int(m.group(1)) for k in sd if (m := _SEQ_INDEX.match(k))), default=None)
        if last is not None and f"model.{last}.weight" in sd:
            out["output_nc"] = int(sd[f"model.{last}.weight"].shape[0])
        if "model.2.weight" in sd:
            out["norm"] = "batch"
        elif "model.1.bias" in sd:
            out["norm"] = "instance"
        else:
            out["norm"] = "none"
        second_convs = {int(m.group(2)) for k in sd if (m := _RESNET_BLOCK.match(k)) and k.endswith(".weight")}
        out["use_dropout"] = 6 in second_convs
        return out
    if arch == "pix2pix_unet":
        # one ``model`` attribute per U-Net level, plus the generator's own ``model``
        depth = max((k.split(".").count("model") - 1 for k in sd if k.startswith("model.model.")), default=0)
        out = {}
        if "model.model.0.weight" in sd:
            out["ngf"] = int(sd["model.model.0.weight"].shape[0])
            out["input_nc"] = int(sd["model.model.0.weight"].shape[1])
        if "model.model.3.weight" in sd:
            out["output_nc"] = int(sd["model.model.3.weight"].shape[1])
        if depth:
            out["num_downs"] = depth
        if any(k.endswith("running_mean") for k in sd) and "model.model.1.model.2.weight" in sd:
            out["norm"] = "batch"
        elif "model.model.0.bias" in sd and "model.model.1.model.1.bias" in sd:
            out["norm"] = "instance"
        return out
    if arch == "stargan":
        blocks = {int(m.group(1)) for k in sd if (m := _STARGAN_BLOCK.match(k))}
        out = {"repeat_num": len(blocks)}
        if "main.0.weight" in sd:
            out["conv_dim"] = int(sd["main.0.weight"].shape[0])
            out["c_dim"] = int(sd["main.0.weight"].shape[1]) - 3
        return out
    return {}


def mismatch_hint(state_dict: Mapping[str, Any], architecture: str, kwargs: Mapping[str, Any]) -> str | None:
    """A one-line suggestion for a checkpoint that did not load into ``architecture(**kwargs)``:
    the architecture its keys look like and the config its shapes reveal, where that differs."""
    try:
        guessed = detect_architecture(state_dict)
        if guessed is None:
            return None
        config = guess_kwargs(state_dict, guessed)
    except Exception:  # noqa: BLE001 - a hint must never hide the real error
        return None
    if guessed == architecture and all(kwargs.get(k) == v for k, v in config.items()):
        return None
    return f"the checkpoint looks like architecture {guessed!r} with {json.dumps(config, sort_keys=True)}"


def build_and_load(state_dict: Mapping[str, Any], architecture: str, kwargs: Mapping[str, Any], *,
                   source: str = "checkpoint") -> Any:
    """Convert ``state_dict`` to ``architecture``'s layout, build the module and load it strictly.

    A mismatch raises :class:`~gan_studio.errors.CheckpointError` with the missing, unexpected and
    mis-shaped keys, plus a hint at the architecture/config the checkpoint looks like.
    """
    from .architectures import build_architecture
    from .errors import CheckpointError
    from .weights import load_strict

    state = convert_state_dict(dict(state_dict), architecture, dict(kwargs), source=source)
    module = build_architecture(architecture, kwargs)
    try:
        load_strict(module, state, source=source)
    except CheckpointError as exc:
        hint = mismatch_hint(state, architecture, kwargs)
        raise CheckpointError(f"{exc}\n  hint: {hint}" if hint else str(exc)) from None
    return module


def from_network_pickle(path: str | os.PathLike[str], *, network: str = "G_ema") -> tuple[Any, str, dict[str, Any]]:
    """An NVIDIA network pickle (``.pkl``) as the studio's own module, without running its code.

    The pickle is read by :func:`gan_studio.network_pickle.read_network_pickle` (an allow-listed
    unpickler); the architecture that recognises the network builds itself from the recorded init
    arguments and loads the extracted state dict strictly. Returns ``(module, architecture, kwargs)``.
    """
    from .architectures import ARCHITECTURES
    from .errors import CheckpointError
    from .network_pickle import read_network_pickle
    from .weights import load_strict

    pkl = read_network_pickle(path, network=network)
    name = next((n for n, cls in ARCHITECTURES.items()
                 if cls.recognises_network_pickle(pkl.class_name, pkl.submodule_classes)), None)
    if name is None:
        raise CheckpointError(
            f"{Path(path).name}: network {network!r} ({pkl.class_name} built from "
            f"{', '.join(sorted(pkl.submodule_classes)) or 'no submodules'}) is not a network pickle layout the "
            f"studio knows (StyleGAN2/StyleGAN2-ADA, StyleGAN3)"
        )
    if pkl.init_args:
        raise CheckpointError(f"{Path(path).name}: positional init arguments {pkl.init_args!r} are not supported")
    kwargs = json.loads(json.dumps(pkl.init_kwargs))  # JSON-able config (tuples become lists)
    try:
        module = ARCHITECTURES[name](**kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{Path(path).name}: cannot build {name!r} from its init arguments ({exc})") from None
    load_strict(module, pkl.state_dict, source=Path(path).name)
    return module.eval(), name, kwargs
