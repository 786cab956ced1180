"""The bundled example images (``examples/`` at the repository root; sources and licences in
``examples/LICENSES.md``) and which model each tab pairs them with.

``python -m gan_studio.ui.examples`` (re)writes the studio PNGs the Inspect tab offers, from the
embedded default models (run it after retraining them).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..contract import Task
from ..registry import REPO_ROOT

logger = logging.getLogger(__name__)

EXAMPLES_DIR = REPO_ROOT / "examples"

#: Colour photos for the translators (photo → sketch) and large multi-domain models.
PHOTOS = ("chelsea.jpg", "coffee.jpg", "astronaut.jpg")
#: Digits for small (≤ 64 px) multi-domain models such as digits-stargan.
DIGITS = ("digit-3.png", "digit-7.png")
#: Black-and-white photos for the colorizers.
GRAYSCALE = ("camera.jpg", "chelsea-bw.jpg")
#: Studio PNGs (with provenance) for the Inspect tab: (file, model, generate kwargs).
STUDIO_PNGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("studio-digits-cgan-seed7.png", "digits-cgan", {"seed": 7, "n": 1, "label": "3"}),
    ("studio-digits-dcgan-seed42.png", "digits-dcgan", {"seed": 42, "n": 1}),
)


def _existing(names: tuple[str, ...]) -> list[str]:
    return [str(EXAMPLES_DIR / n) for n in names if (EXAMPLES_DIR / n).is_file()]


def translate_examples(registry: Any, ids: list[str]) -> list[tuple[str, str]]:
    """(image, model) pairs for the Translate tab: photos with the first translator, digits or a
    portrait with the first multi-domain model."""
    pairs: list[tuple[str, str]] = []
    translator = next((i for i in ids if registry.get(i).task == Task.TRANSLATION), None)
    multidomain = [i for i in ids if registry.get(i).task == Task.MULTIDOMAIN]
    small = next((i for i in multidomain if 0 < registry.get(i).image_size <= 64), None)
    large = next((i for i in multidomain if i != small), None)
    if translator:
        pairs += [(p, translator) for p in _existing(PHOTOS[:2])]
    if small:
        pairs += [(p, small) for p in _existing(DIGITS)]
    if large:  # a portrait for face-attribute models such as StarGAN on CelebA
        pairs += [(p, large) for p in _existing(PHOTOS[2:])]
    return pairs


def colorize_examples(ids: list[str]) -> list[tuple[str, str]]:
    """(image, model) pairs for the Colorize tab."""
    return [(p, ids[0]) for p in _existing(GRAYSCALE)] if ids else []


def inspect_examples(registry: Any) -> list[str]:
    """Studio PNGs whose model is registered (so "reproduce" can work)."""
    return [str(EXAMPLES_DIR / name) for name, model, _ in STUDIO_PNGS
            if (EXAMPLES_DIR / name).is_file() and model in registry]


def write_studio_pngs(studio: Any | None = None) -> list[Path]:
    """Generate :data:`STUDIO_PNGS` with the embedded default models (skips missing models)."""
    from ..metadata import save_png

    if studio is None:
        from ..studio import Studio

        studio = Studio(device="cpu")
    written = []
    for name, model, kwargs in STUDIO_PNGS:
        try:
            result = studio.generate(model, **kwargs)[0]
        except Exception as exc:  # noqa: BLE001 - a default not trained yet
            logger.warning("skipping %s: %s", name, exc)
            continue
        image = result.image
        written.append(save_png(image, EXAMPLES_DIR / name, result.params, overwrite=True))
    return written


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    for path in write_studio_pngs():
        print(path)
