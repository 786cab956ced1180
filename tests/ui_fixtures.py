"""Tiny random-weight models of every task and a models TOML naming them, for the UI tests.

The models are real architectures in our folder format (``config.json`` + ``model.safetensors`` +
``README.md``), seeded so every run writes the same weights, and small (4 channels, 16–32 px) so a
forward pass takes milliseconds on a CPU.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

#: id -> (architecture, constructor kwargs, _gan_studio meta, variant subfolders)
UI_MODELS: dict[str, tuple[str, dict[str, Any], dict[str, Any], tuple[str, ...]]] = {
    "ui-dcgan": (
        "dcgan", {"nz": 8, "ngf": 4, "nc": 3, "image_size": 16},
        {"task": "unconditional", "image_size": 16, "channels": 3, "license": "mit",
         "description": "tiny random DCGAN for the UI tests"},
        (),
    ),
    "ui-cgan": (
        "conditional_dcgan", {"nz": 8, "ngf": 4, "nc": 1, "image_size": 16, "num_classes": 3, "embed_dim": 4},
        {"task": "conditional", "image_size": 16, "channels": 1, "labels": ["circle", "square", "star"],
         "license": "mit", "description": "tiny random conditional DCGAN for the UI tests"},
        (),
    ),
    "ui-cyclegan": (
        "cyclegan_resnet", {"input_nc": 3, "output_nc": 3, "ngf": 4, "n_blocks": 1},
        {"task": "translation", "image_size": 32, "channels": 3, "license": "mit",
         "description": "tiny random two-way CycleGAN for the UI tests"},
        ("AtoB", "BtoA"),
    ),
    "ui-stargan": (
        "stargan", {"conv_dim": 4, "c_dim": 3, "repeat_num": 1},
        {"task": "multidomain", "image_size": 16, "channels": 3, "labels": ["red", "blue", "big"],
         "exclusive": [["red", "blue"]], "preprocess": {"resize": 16}, "license": "mit",
         "description": "tiny random StarGAN for the UI tests"},
        (),
    ),
    "ui-stylegan2": (
        "stylegan2", {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 16, "img_channels": 3,
                      "mapping_kwargs": {"num_layers": 2},
                      "synthesis_kwargs": {"channel_base": 64, "channel_max": 8, "conv_clamp": 256}},
        {"task": "unconditional", "image_size": 16, "channels": 3, "license": "mit",
         "description": "tiny random StyleGAN2 for the UI tests"},
        (),
    ),
    "ui-colorizer": (
        "colorization_unet", {"base_channels": 4, "depth": 2},
        {"task": "colorization", "image_size": 32, "channels": 3, "preprocess": {"working_size": 32},
         "license": "mit", "description": "tiny random colorizer for the UI tests"},
        (),
    ),
    "ui-upscaler": (
        "srvgg_compact", {"num_feat": 4, "num_conv": 1, "upscale": 4, "act_type": "prelu"},
        {"task": "upscale", "channels": 3, "license": "mit", "description": "tiny random ×4 upscaler for the UI tests"},
        (),
    ),
}

VARIANT_LABELS = {"AtoB": "photo → sketch", "BtoA": "sketch → photo"}


def _fill(module: Any, seed: int) -> None:
    """Overwrite every floating-point tensor (running statistics included) with seeded values, so
    the weight files are the same on every run and the outputs are not flat grey."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.dtype.is_floating_point:
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean"):
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.1)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.3)


def make_ui_models(root: str | Path, *, seed: int = 0) -> Path:
    """Write every model of :data:`UI_MODELS` under ``root`` and a ``models.toml`` naming them;
    return the TOML's path."""
    from gan_studio.architectures import build_architecture
    from gan_studio.weights import save_model_folder

    root = Path(root)
    entries: list[str] = []
    for i, (model_id, (architecture, kwargs, meta, variants)) in enumerate(UI_MODELS.items()):
        folder = root / model_id
        card = f"# {model_id}\n\n{meta['description']}.\n\nRandom weights: its images are noise.\n"
        for j, sub in enumerate(variants or ("",)):
            module = build_architecture(architecture, kwargs)
            _fill(module, seed * 1000 + i * 10 + j)
            save_model_folder(module, folder / sub if sub else folder, architecture=architecture, kwargs=kwargs,
                              meta=meta, card=card)
        if variants:
            (folder / "README.md").write_text(card, encoding="utf-8")
        lines = ["[[model]]", f'id = "{model_id}"', f'task = "{meta["task"]}"', f'architecture = "{architecture}"',
                 f'path = "{folder.as_posix()}"']
        for sub in variants:
            lines.append(f'variants.{sub} = {{ subfolder = "{sub}", label = "{VARIANT_LABELS[sub]}" }}')
        entries.append("\n".join(lines))
    toml = root / "models.toml"
    toml.write_text("\n\n".join(entries) + "\n", encoding="utf-8")
    return toml


def ui_registry(models_toml: str | Path) -> Any:
    """A :class:`~gan_studio.registry.Registry` with only the models of ``models_toml`` (no built-ins)."""
    from gan_studio.registry import Registry, read_catalogue

    return Registry(read_catalogue(models_toml))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
