"""Tiny seeded random-weight models of every task, written in our folder format, for fast tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY: dict[str, dict[str, Any]] = {
    "tiny-dcgan": {
        "architecture": "dcgan",
        "kwargs": {"nz": 8, "ngf": 4, "nc": 1, "image_size": 16},
        "meta": {"task": "unconditional", "image_size": 16, "channels": 1, "license": "mit",
                 "description": "tiny random DCGAN"},
    },
    "tiny-cgan": {
        "architecture": "conditional_dcgan",
        "kwargs": {"nz": 8, "ngf": 4, "nc": 1, "image_size": 16, "num_classes": 3, "embed_dim": 4},
        "meta": {"task": "conditional", "image_size": 16, "channels": 1, "labels": ["cat", "dog", "owl"],
                 "license": "mit", "description": "tiny random conditional DCGAN"},
    },
    "tiny-cyclegan": {
        "architecture": "cyclegan_resnet",
        "kwargs": {"input_nc": 3, "output_nc": 3, "ngf": 4, "n_blocks": 1},
        "meta": {"task": "translation", "image_size": 32, "channels": 3, "labels": ["photo", "sketch"],
                 "license": "mit", "description": "tiny random CycleGAN"},
        "variants": ("AtoB", "BtoA"),
    },
    "tiny-pix2pix": {
        "architecture": "pix2pix_unet",
        "kwargs": {"input_nc": 3, "output_nc": 3, "num_downs": 6, "ngf": 4},  # one dropout block
        "meta": {"task": "translation", "image_size": 64, "channels": 3, "license": "mit",
                 "description": "tiny random pix2pix U-Net (dropout kept on, seeded)"},
    },
    "tiny-stargan": {
        "architecture": "stargan",
        "kwargs": {"conv_dim": 4, "c_dim": 3, "repeat_num": 1},
        "meta": {"task": "multidomain", "image_size": 16, "channels": 3, "labels": ["red", "blue", "big"],
                 "exclusive": [["red", "blue"]], "license": "mit", "description": "tiny random StarGAN",
                 "preprocess": {"center_crop": 24, "resize": 16}},
    },
    "tiny-colorizer": {
        "architecture": "colorization_unet",
        "kwargs": {"base_channels": 4, "depth": 2},
        "meta": {"task": "colorization", "image_size": 32, "channels": 3, "license": "mit",
                 "description": "tiny random colorizer"},
    },
}


def _randomize(module: Any, seed: int) -> None:
    """Deterministic random weights, running stats included, so outputs are not trivial."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.dtype.is_floating_point:
                if name.endswith("running_var"):
                    tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
                else:
                    tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.3)


def make_model(root: Path, name: str, *, seed: int = 0) -> Path:
    """Write model ``name`` of :data:`TINY` under ``root`` and return its folder."""
    from gan_studio.architectures import build_architecture
    from gan_studio.weights import save_model_folder

    info = TINY[name]
    folder = Path(root) / name
    variants = info.get("variants")
    for i, sub in enumerate(variants or (None,)):
        module = build_architecture(info["architecture"], info["kwargs"])
        _randomize(module, seed + i)
        save_model_folder(
            module, folder / sub if sub else folder, architecture=info["architecture"], kwargs=info["kwargs"],
            meta=info["meta"], card=f"# {name}\n\n{info['meta']['description']}\n",
        )
    if variants:
        (folder / "README.md").write_text(f"# {name}\n\n{info['meta']['description']}\n", encoding="utf-8")
    return folder


def make_models_toml(root: Path, names: list[str] | None = None) -> Path:
    """Write every tiny model (or ``names``) and a models TOML listing them; return the TOML path."""
    lines = []
    for name in names or list(TINY):
        folder = make_model(root, name)
        info = TINY[name]
        lines += ["[[model]]", f'id = "{name}"', f'path = "{folder.name}"']
        for sub in info.get("variants", ()):
            lines.append(f'variants.{sub} = {{ subfolder = "{sub}", label = "{sub}" }}')
        lines.append("")
    toml = Path(root) / "models.toml"
    toml.write_text("\n".join(lines), encoding="utf-8")
    return toml
