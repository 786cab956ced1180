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

4. **rosinality StyleGAN2.** For ``stylegan2``, a state dict with rosinality/stylegan2-pytorch's keys
   (``style.1.weight``, ``to_rgb1.conv.weight``) is renamed into NVIDIA's layout and its config read
   off the shapes (:func:`rosinality_to_nvidia`; ``latent_avg`` next to ``g_ema`` becomes ``w_avg``).

Nothing else is dropped, renamed or invented: anything that still does not fit is reported by
:func:`gan_studio.weights.load_strict`. :func:`detect_architecture` and :func:`guess_kwargs` give
hints for error messages and for converting files whose config is unknown.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "WRAPPER_PREFIXES",
    "build_and_load",
    "convert_checkpoint",
    "convert_state_dict",
    "from_network_pickle",
    "detect_architecture",
    "guess_kwargs",
    "guess_rosinality_config",
    "is_rosinality_stylegan2",
    "load_converted",
    "lornatang_stargan_to_reference",
    "patch_norm_buffers",
    "rename_prefix",
    "rosinality_to_nvidia",
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
    extras: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Bring a foreign state dict to the layout of ``build_architecture(architecture, kwargs)``.

    ``architecture`` may be a preset (``resnet_9blocks``, …). Returns a new dict; the input is
    not modified. Raises :class:`~gan_studio.errors.UnknownArchitectureError` for an unknown
    architecture or bad kwargs. Key mismatches are left for ``load_strict`` to report, except in
    a rosinality StyleGAN2 checkpoint, whose own keys are checked (:func:`rosinality_to_nvidia`;
    its config comes from :func:`convert_checkpoint`).
    """
    return convert_checkpoint(state_dict, architecture, kwargs, source=source, extras=extras)[0]


def _merge_kwargs(derived: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(derived)
    for key, value in given.items():
        out[key] = {**out[key], **value} if isinstance(value, Mapping) and isinstance(out.get(key), Mapping) else value
    return out


def convert_checkpoint(
    state_dict: Mapping[str, Any],
    architecture: str,
    kwargs: Mapping[str, Any] | None,
    *,
    source: str = "checkpoint",
    extras: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`convert_state_dict` plus the constructor kwargs the converted weights need.

    ``extras`` are the tensors a checkpoint keeps next to the state dict (rosinality's
    ``latent_avg``). For ``stylegan2`` with rosinality/stylegan2-pytorch keys
    (:func:`is_rosinality_stylegan2`) the weights go through :func:`rosinality_to_nvidia`, whose
    derived config is the base that the given ``kwargs`` override; otherwise ``kwargs`` come back
    as given.
    """
    from .architectures import resolve_architecture

    arch, full_kwargs = resolve_architecture(architecture, kwargs)
    sd = strip_wrapper_prefixes(state_dict, source=source)
    if arch == "stylegan2" and is_rosinality_stylegan2(sd):
        latent_avg = (extras or {}).get("latent_avg")
        sd, derived = rosinality_to_nvidia(sd, latent_avg, source=source)
        return sd, _merge_kwargs(derived, full_kwargs)
    if arch == "dcgan" and not any(k.startswith("main.") for k in sd):
        sd = rename_prefix(sd, "model.", "main.", source=source)  # HugGAN's DCGAN
    if arch == "stargan" and any(k.startswith(_LORNATANG_STARGAN_PARTS) for k in sd):
        sd = lornatang_stargan_to_reference(sd, int(full_kwargs.get("repeat_num", 6)), source=source)
    return patch_norm_buffers(sd, arch, full_kwargs, source=source), full_kwargs


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
    if all(m in keys for m in _ROSINALITY_MARKERS):
        return "stylegan2"  # rosinality/stylegan2-pytorch (converted by rosinality_to_nvidia)
    if "synthesis.b4.const" in keys and "mapping.fc0.weight" in keys:
        return "stylegan2"  # NVIDIA's layout
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
    if "truncation.w_avg" in keys and "synthesis.lod" in keys:
        return "stylegan1"  # genforce's StyleGAN
    if "lod" in keys and "layer0.weight" in keys and "output0.weight" in keys:
        return "pggan"  # genforce's ProGAN
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

    Covers the published layouts (``dcgan``, ``cyclegan_resnet``, ``pix2pix_unet``, ``stargan``, genforce's
    ``pggan`` and ``stylegan1``); returns ``{}`` for others. Only what the weights reveal is returned (e.g. not ``use_dropout``
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
    if arch == "stylegan2" and is_rosinality_stylegan2(sd):
        guess = guess_rosinality_config(sd)
        channel_config = _nvidia_channel_config(guess["channels"], guess["channel_multiplier"])
        out = {"z_dim": guess["style_dim"], "w_dim": guess["style_dim"], "img_resolution": guess["size"],
               "mapping_kwargs": {"num_layers": guess["n_mlp"]}}
        if channel_config is not None:
            out["synthesis_kwargs"] = {"channel_base": channel_config[0], "channel_max": channel_config[1],
                                       "conv_clamp": None, "architecture": "skip"}
        return out
    if arch in ("pggan", "stylegan1"):
        return _guess_genforce_kwargs(sd, arch)
    if arch == "stargan":
        blocks = {int(m.group(1)) for k in sd if (m := _STARGAN_BLOCK.match(k))}
        out = {"repeat_num": len(blocks)}
        if "main.0.weight" in sd:
            out["conv_dim"] = int(sd["main.0.weight"].shape[0])
            out["c_dim"] = int(sd["main.0.weight"].shape[1]) - 3
        return out
    return {}


def _guess_genforce_kwargs(sd: Mapping[str, Any], arch: str) -> dict[str, Any]:
    """genforce ProGAN / StyleGAN v1 kwargs from the shapes: resolution (one ToRGB per block), channels
    (``fmaps_base`` = the last block's channels × resolution, ``fmaps_max`` = the first block's), and the
    mapping network. PGGAN's ``label_size`` is not separable from ``z_space_dim`` (0 is assumed);
    StyleGAN's ``fused_scale`` leaves no trace in the weights."""
    prefix = "synthesis." if arch == "stylegan1" else ""
    outputs = sum(1 for k in sd if re.fullmatch(rf"{re.escape(prefix)}output\d+\.weight", k))
    if outputs == 0 or f"{prefix}output0.weight" not in sd:
        return {}
    resolution = 4 * 2 ** (outputs - 1)
    channels = [int(sd[f"{prefix}output{i}.weight"].shape[1]) for i in range(outputs)]
    out: dict[str, Any] = {"resolution": resolution, "image_channels": int(sd[f"{prefix}output0.weight"].shape[0]),
                           "fmaps_base": channels[-1] * resolution, "fmaps_max": channels[0]}
    if arch == "pggan":
        if "layer0.weight" in sd:
            out["z_space_dim"] = int(sd["layer0.weight"].shape[1])
        first = [tuple(sd[f"layer{2 * i}.weight"].shape[:2]) for i in range(1, outputs) if f"layer{2 * i}.weight" in sd]
        swapped = [(channels[i], channels[i + 1]) for i in range(outputs - 1) if channels[i] != channels[i + 1]]
        if swapped and first:  # a transposed convolution stores [in, out], a convolution [out, in]
            out["fused_scale"] = all(pair in first for pair in swapped)
        return out
    dense = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"mapping\.dense(\d+)\.weight", k)))
    if not dense or "synthesis.layer0.style.weight" not in sd:
        return out
    label = sd.get("mapping.label_weight")
    w_dim = int(sd["synthesis.layer0.style.weight"].shape[1])
    out.update(label_size=int(label.shape[0]) if label is not None else 0, w_space_dim=w_dim,
               z_space_dim=int(sd["mapping.dense0.weight"].shape[1]) // (2 if label is not None else 1),
               mapping_layers=len(dense), const_input="synthesis.layer0.const" in sd)
    if len(dense) > 1:
        out["mapping_fmaps"] = int(sd["mapping.dense0.weight"].shape[0])
    if "truncation.w_avg" in sd:
        out["repeat_w"] = int(sd["truncation.w_avg"].numel()) == w_dim
    noise = sd.get("synthesis.layer0.apply_noise.noise")
    if noise is not None and channels[0] > 1:
        out["noise_type"] = "spatial" if int(noise.shape[1]) == 1 else "channel"
    return out


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
                   source: str = "checkpoint", extras: Mapping[str, Any] | None = None) -> Any:
    """Convert ``state_dict`` to ``architecture``'s layout, build the module and load it strictly.

    A mismatch raises :class:`~gan_studio.errors.CheckpointError` with the missing, unexpected and
    mis-shaped keys, plus a hint at the architecture/config the checkpoint looks like. The module's
    ``config`` is what it was built with (for a rosinality StyleGAN2, read off the weights).
    """
    return load_converted(state_dict, architecture, kwargs, source=source, extras=extras)[0]


def load_converted(state_dict: Mapping[str, Any], architecture: str, kwargs: Mapping[str, Any], *,
                   source: str = "checkpoint", extras: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """:func:`build_and_load` returning ``(module, kwargs it was built with)``."""
    from .architectures import build_architecture
    from .errors import CheckpointError
    from .weights import load_strict

    state, kwargs = convert_checkpoint(dict(state_dict), architecture, dict(kwargs), source=source, extras=extras)
    module = build_architecture(architecture, kwargs)
    try:
        load_strict(module, state, source=source)
    except CheckpointError as exc:
        hint = mismatch_hint(state, architecture, kwargs)
        raise CheckpointError(f"{exc}\n  hint: {hint}" if hint else str(exc)) from None
    return module, kwargs


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
    kwargs = json.loads(json.dumps(ARCHITECTURES[name].kwargs_from_network_pickle(pkl.init_kwargs)))  # JSON-able
    try:
        module = ARCHITECTURES[name](**kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{Path(path).name}: cannot build {name!r} from its init arguments ({exc})") from None
    load_strict(module, pkl.state_dict, source=Path(path).name)
    return module.eval(), name, kwargs


# --------------------------------------------------------------------------- rosinality StyleGAN2
_ROSINALITY_MARKERS = ("style.1.weight", "to_rgb1.conv.weight")
_ROSI_INDEXED = re.compile(r"^(convs|to_rgbs)\.(\d+)\.|^noises\.noise_(\d+)$|^style\.(\d+)\.")
_DEFAULT_TAPS = (1.0, 3.0, 3.0, 1.0)


def is_rosinality_stylegan2(state_dict: Mapping[str, Any]) -> bool:
    """Whether the keys are rosinality/stylegan2-pytorch's ``Generator`` (``style.1.weight``, ``to_rgb1.conv.weight``)."""
    keys = strip_wrapper_prefixes(state_dict, source="detect")
    return all(m in keys for m in _ROSINALITY_MARKERS)


def _rosinality_channels(sd: Mapping[str, Any], size: int) -> dict[int, int]:
    """Channel width per resolution, read from whichever of that resolution's tensors are present."""
    channels: dict[int, int] = {}
    for res in (2 ** i for i in range(2, int(math.log2(size)) + 1)):
        if res == 4:
            sources = (("input.input", 1), ("conv1.activate.bias", 0), ("conv1.conv.weight", 1), ("to_rgb1.conv.weight", 2))
        else:
            i = int(math.log2(res)) - 3
            sources = ((f"convs.{2 * i}.conv.weight", 1), (f"convs.{2 * i}.activate.bias", 0),
                       (f"convs.{2 * i + 1}.activate.bias", 0), (f"to_rgbs.{i}.conv.weight", 2))
        for key, dim in sources:
            if key in sd and getattr(sd[key], "ndim", 0) > dim:
                channels[res] = int(sd[key].shape[dim])
                break
    return channels


def guess_rosinality_config(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """rosinality's ``Generator(size, style_dim, n_mlp, channel_multiplier)`` read off the keys and shapes.

    Also returns ``channels`` (width per resolution as stored). ``channel_multiplier`` is ``None``
    when the widths do not reveal it (sizes below 64 are 512 wide whatever it is) or are not
    rosinality's table ({4…32: 512, 64: 256·cm, 128: 128·cm, …}).
    """
    sd = strip_wrapper_prefixes(state_dict, source="guess")
    log_size, n_mlp = 2, 0
    for key in sd:
        m = _ROSI_INDEXED.match(key)
        if not m:
            continue
        if m.group(1) == "convs":
            log_size = max(log_size, int(m.group(2)) // 2 + 3)
        elif m.group(1) == "to_rgbs":
            log_size = max(log_size, int(m.group(2)) + 3)
        elif m.group(3) is not None:
            log_size = max(log_size, (int(m.group(3)) + 5) // 2)
        else:
            n_mlp = max(n_mlp, int(m.group(4)))
    size = 2 ** log_size
    style_dim = next((int(sd[k].shape[-1]) for k in ("style.1.weight", "conv1.conv.modulation.weight",
                                                      "to_rgb1.conv.modulation.weight") if k in sd), 512)
    channels = _rosinality_channels(sd, size)
    cm: int | None = None
    if size >= 64 and all(channels.get(r) == 512 for r in (4, 8, 16, 32)) and channels.get(64, 0) % 256 == 0:
        cm = channels[64] // 256
        table = {64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
        if cm < 1 or any(channels.get(r) != c * cm for r, c in table.items() if r <= size):
            cm = None
    return {"size": size, "style_dim": style_dim, "n_mlp": n_mlp, "channel_multiplier": cm, "channels": channels}


def _nvidia_channel_config(channels: Mapping[int, int], channel_multiplier: int | None) -> tuple[int, int] | None:
    """``(channel_base, channel_max)`` with ``min(channel_base // res, channel_max) == channels[res]`` for
    every resolution, or ``None`` when NVIDIA's formula cannot give these widths."""
    if not channels:
        return None
    channel_max = max(channels.values())
    candidates = [16384 * channel_multiplier] if channel_multiplier else []
    candidates += [32768, 16384] + [c * r for r, c in sorted(channels.items()) if c < channel_max][:1]
    candidates.append(channel_max * max(channels))
    for base in candidates:
        if all(min(base // r, channel_max) == c for r, c in channels.items()):
            return base, channel_max
    return None


def _expected_rosinality_shapes(size: int, style_dim: int, n_mlp: int, channels: Mapping[int, int],
                                kernel: int) -> dict[str, tuple[int, ...]]:
    """Every key of rosinality's ``Generator`` state dict with its shape."""
    s = style_dim
    out: dict[str, tuple[int, ...]] = {}
    for i in range(1, n_mlp + 1):
        out[f"style.{i}.weight"], out[f"style.{i}.bias"] = (s, s), (s,)

    def styled(prefix: str, cin: int, cout: int, up: bool) -> None:
        out[f"{prefix}.conv.weight"] = (1, cout, cin, 3, 3)
        if up:
            out[f"{prefix}.conv.blur.kernel"] = (kernel, kernel)
        out[f"{prefix}.conv.modulation.weight"], out[f"{prefix}.conv.modulation.bias"] = (cin, s), (cin,)
        out[f"{prefix}.noise.weight"], out[f"{prefix}.activate.bias"] = (1,), (cout,)

    def to_rgb(prefix: str, cin: int, up: bool) -> None:
        if up:
            out[f"{prefix}.upsample.kernel"] = (kernel, kernel)
        out[f"{prefix}.conv.weight"] = (1, 3, cin, 1, 1)
        out[f"{prefix}.conv.modulation.weight"], out[f"{prefix}.conv.modulation.bias"] = (cin, s), (cin,)
        out[f"{prefix}.bias"] = (1, 3, 1, 1)

    c4 = channels.get(4, 512)
    out["input.input"] = (1, c4, 4, 4)
    styled("conv1", c4, c4, False)
    to_rgb("to_rgb1", c4, False)
    prev = c4
    for i, res in enumerate(2 ** k for k in range(3, int(math.log2(size)) + 1)):
        c = channels.get(res, prev)
        styled(f"convs.{2 * i}", prev, c, True)
        styled(f"convs.{2 * i + 1}", c, c, False)
        to_rgb(f"to_rgbs.{i}", c, True)
        prev = c
    for k in range((int(math.log2(size)) - 2) * 2 + 1):
        r = 2 ** ((k + 5) // 2)
        out[f"noises.noise_{k}"] = (1, 1, r, r)
    return out


def rosinality_to_nvidia(
    state_dict: Mapping[str, Any], latent_avg: Any = None, *, source: str = "checkpoint", lr_mlp: float = 0.01
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A rosinality/stylegan2-pytorch ``Generator`` state dict (``g_ema``) in NVIDIA's layout.

    Returns ``(state_dict, init_kwargs)`` for :class:`~gan_studio.architectures.stylegan2.StyleGAN2Generator`.
    The arithmetic is the same on both sides (PixelNorm = normalize_2nd_moment; EqualLinear and
    FullyConnectedLayer both store weight / lr_mul and use it × lr_mul / √in, bias × lr_mul; the
    modulated conv's 1/√fan_in weight scale cancels under demodulation, and ToRGB's equals NVIDIA's
    style gain 1/√in; noise is added before the fused bias + leaky ReLU × √2 on both sides; the same
    upsampling paddings; both store the upsampling conv's kernel for ``conv_transpose2d`` as is, since
    rosinality's TF converter and NVIDIA's ``legacy.py`` both flip TF's ``Conv0_up``), so tensors are
    copied, reshaped where rosinality keeps extra unit dims. ``latent_avg`` (the checkpoint entry next to ``g_ema``)
    becomes ``mapping.w_avg``; without one, ``w_avg`` is the mean of 4096 mapped z drawn with seed 0
    (what rosinality's ``generate.py`` computes for truncation). ``lr_mlp`` is rosinality's mapping
    learning-rate multiplier (0.01 in its ``train.py``; the weights do not reveal it).

    Raises :class:`~gan_studio.errors.CheckpointError` listing the missing, unexpected and mis-shaped
    rosinality keys, or when the channel widths have no NVIDIA ``channel_base``/``channel_max``.
    """
    import torch

    from .architectures.stylegan2 import MappingNetwork, setup_filter
    from .errors import CheckpointError

    sd = strip_wrapper_prefixes(state_dict, source=source)
    guess = guess_rosinality_config(sd)
    size, style_dim, n_mlp, channels = guess["size"], guess["style_dim"], guess["n_mlp"], guess["channels"]
    kernels = sorted(k for k in sd if k.endswith((".conv.blur.kernel", ".upsample.kernel")))
    kernel = int(sd[kernels[0]].shape[0]) if kernels else 4
    expected = _expected_rosinality_shapes(size, style_dim, n_mlp, channels, kernel)
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = sorted(f"{k}: checkpoint {tuple(sd[k].shape)} vs expected {expected[k]}"
                   for k in set(expected) & set(sd) if tuple(sd[k].shape) != expected[k])
    what = (f"{source}: rosinality StyleGAN2 layout (size={size}, style_dim={style_dim}, n_mlp={n_mlp}, "
            f"channels={dict(sorted(channels.items()))})")
    if missing or unexpected or wrong:
        parts = [f"{what} does not match rosinality's Generator:"]
        if missing:
            parts.append(f"missing keys ({len(missing)}): {', '.join(missing[:20])}{' …' if len(missing) > 20 else ''}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:20])}"
                         f"{' …' if len(unexpected) > 20 else ''}")
        if wrong:
            parts.append(f"shape mismatches ({len(wrong)}): {'; '.join(wrong[:10])}")
        raise CheckpointError("\n  ".join(parts))
    channel_config = _nvidia_channel_config(channels, guess["channel_multiplier"])
    if channel_config is None:
        raise CheckpointError(
            f"{what}: these widths have no NVIDIA equivalent (min(channel_base // res, channel_max) per "
            f"resolution; rosinality's channel_multiplier > 2 at size >= 64 is one such case)")
    # the FIR filter: every rosinality kernel is outer(taps)/sum² × 4; the taps are a row sum of kernel / 4
    taps: tuple[float, ...] = _DEFAULT_TAPS
    if kernels:
        first = sd[kernels[0]].float() / 4
        for k in kernels[1:]:
            if not torch.allclose(sd[k].float() / 4, first, atol=1e-6):
                raise CheckpointError(f"{what}: blur kernels differ ({kernels[0]} vs {k}); NVIDIA's layout has one filter")
        found = first.sum(dim=1)
        if not torch.allclose(torch.outer(found, found), first, atol=1e-6):
            raise CheckpointError(f"{what}: blur kernel {kernels[0]} is not separable (outer(taps, taps))")
        if not torch.allclose(found, setup_filter(_DEFAULT_TAPS).sum(dim=1), atol=1e-6):
            taps = tuple(float(t) for t in found)
    resample = setup_filter(taps)

    out: dict[str, Any] = {}
    for i in range(n_mlp):
        out[f"mapping.fc{i}.weight"] = sd[f"style.{i + 1}.weight"]
        out[f"mapping.fc{i}.bias"] = sd[f"style.{i + 1}.bias"]

    def layer(src: str, dst: str, noise: int) -> None:
        out[f"{dst}.weight"] = sd[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]
        out[f"{dst}.noise_strength"] = sd[f"{src}.noise.weight"].reshape([])
        out[f"{dst}.noise_const"] = sd[f"noises.noise_{noise}"][0, 0]
        out[f"{dst}.bias"] = sd[f"{src}.activate.bias"]
        out[f"{dst}.resample_filter"] = resample.clone()

    def torgb(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = sd[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(-1)

    out["synthesis.b4.const"] = sd["input.input"][0]
    out["synthesis.b4.resample_filter"] = resample.clone()
    layer("conv1", "synthesis.b4.conv1", 0)
    torgb("to_rgb1", "synthesis.b4.torgb")
    for i, res in enumerate(2 ** k for k in range(3, int(math.log2(size)) + 1)):
        out[f"synthesis.b{res}.resample_filter"] = resample.clone()
        layer(f"convs.{2 * i}", f"synthesis.b{res}.conv0", 2 * i + 1)
        layer(f"convs.{2 * i + 1}", f"synthesis.b{res}.conv1", 2 * i + 2)
        torgb(f"to_rgbs.{i}", f"synthesis.b{res}.torgb")

    mapping_kwargs: dict[str, Any] = {"num_layers": n_mlp}
    if lr_mlp != 0.01:
        mapping_kwargs["lr_multiplier"] = lr_mlp
    synthesis_kwargs: dict[str, Any] = {"channel_base": channel_config[0], "channel_max": channel_config[1],
                                        "conv_clamp": None, "architecture": "skip"}
    if taps != _DEFAULT_TAPS:
        synthesis_kwargs["resample_filter"] = list(taps)
    kwargs = {"z_dim": style_dim, "c_dim": 0, "w_dim": style_dim, "img_resolution": size, "img_channels": 3,
              "mapping_kwargs": mapping_kwargs, "synthesis_kwargs": synthesis_kwargs}

    if latent_avg is not None:
        if not isinstance(latent_avg, torch.Tensor) or latent_avg.numel() != style_dim:
            raise CheckpointError(f"{source}: latent_avg must be a tensor of {style_dim} values, got "
                                  f"{tuple(getattr(latent_avg, 'shape', ())) or type(latent_avg).__name__}")
        out["mapping.w_avg"] = latent_avg.detach().reshape(style_dim).to(torch.float32)
    else:
        mapping = MappingNetwork(style_dim, 0, style_dim, 1, num_layers=n_mlp, lr_multiplier=lr_mlp)
        mapping.load_state_dict({"w_avg": torch.zeros(style_dim),
                                 **{k[len("mapping."):]: v for k, v in out.items() if k.startswith("mapping.")}})
        with torch.no_grad():
            z = torch.randn(4096, style_dim, generator=torch.Generator().manual_seed(0))
            out["mapping.w_avg"] = mapping(z, None)[:, 0].mean(0).float()
        logger.warning("%s: no latent_avg next to the state dict; w_avg (the truncation centre) is the mean of "
                       "4096 mapped z drawn with seed 0, as rosinality's generate.py computes it", source)
    logger.info("%s: converted the rosinality StyleGAN2 layout (%d keys) to NVIDIA's (%d keys), %s",
                source, len(sd), len(out), json.dumps(kwargs, sort_keys=True))
    return out, kwargs
