"""The optional quality filters of a dataset run: the evaluator's confidence in the requested class,
and near-duplicates by perceptual hash (of each other and of the model's training set).

**Perceptual hash.** :func:`perceptual_hash` is the classic DCT hash (pHash): the image in grey,
resized to 32×32 (bilinear), its 2-D DCT-II, the 8×8 lowest frequencies, one bit per coefficient
above their median (the DC term left out of the median). Two images are near-duplicates when their
hashes differ in at most :data:`DEFAULT_DEDUPE_BITS` of the 64 bits. That threshold was measured on
scikit-learn's 1,797 digits (32×32): within 2 bits, 0.9 % of the real digits have another, distinct
real digit (4 bits: 6.5 %, 6 bits: 22 %), while a JPEG (quality 90) re-encoding of a digit stays within
2 bits in 99 % of cases (median 0). A pixel hash is not shift-invariant: a digit moved by one pixel
is typically 8 bits away and is not caught. Distances come in even numbers (both hashes have
32 bits set), so 2 and 3 bits are the same threshold.

Deciding is sequential (an image is compared with the ones kept before it), so it runs in the writer;
the hash itself is computed with the image, wherever that happens (locally or on a Ray worker).
Comparing against everything kept is one XOR + popcount over a uint64 array per candidate:
8 bytes per kept image, about 0.3 ms per candidate at 100,000 kept images.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UserInputError

if TYPE_CHECKING:
    from PIL import Image

    from ..registry import ModelSpec

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DEDUPE_BITS",
    "EVALUATOR_INPUT_SIZE",
    "TRAINING_SETS",
    "HashIndex",
    "confidences",
    "evaluator_for",
    "hamming",
    "perceptual_hash",
    "training_hashes",
    "training_set_of",
]

#: Hashes this close (differing bits of 64) are near-duplicates.
DEFAULT_DEDUPE_BITS = 2
#: The digits evaluator's input side.
EVALUATOR_INPUT_SIZE = 32

#: Training sets the studio can load, by the name a model card gives (front matter ``datasets:``),
#: with the evaluator that classifies images of that domain.
TRAINING_SETS: dict[str, dict[str, str]] = {
    "sklearn-digits": {"evaluator": "digits",
                       "description": "scikit-learn's load_digits (UCI optdigits test set, 1,797 digits, "
                                      "upscaled to 32×32)"},
}
#: Card names accepted for each training set.
_TRAINING_SET_ALIASES = {"sklearn-digits": "sklearn-digits", "scikit-learn/digits": "sklearn-digits",
                         "optdigits": "sklearn-digits", "uci-optdigits": "sklearn-digits"}
#: The embedded models' training recipes (config.json ``_gan_studio.recipe``) and their training set,
#: for cards that name it only in prose.
RECIPE_TRAINING_SETS = {"digits-dcgan": "sklearn-digits", "digits-cgan": "sklearn-digits",
                        "digits-diffusion": "sklearn-digits"}

_DCT_SIZE = 32
_HASH_SIDE = 8


@lru_cache(maxsize=1)
def _dct_matrix() -> np.ndarray:
    n = _DCT_SIZE
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    out: np.ndarray = m
    return out


def perceptual_hash(image: Image.Image) -> int:
    """The 64-bit DCT perceptual hash of ``image`` (see the module docstring)."""
    from PIL import Image as PILImage

    grey = image.convert("L").resize((_DCT_SIZE, _DCT_SIZE), PILImage.Resampling.BILINEAR)
    pixels = np.asarray(grey, dtype=np.float64)
    d = _dct_matrix()
    coeffs = (d @ pixels @ d.T)[:_HASH_SIDE, :_HASH_SIDE].ravel()
    median = float(np.median(coeffs[1:]))
    return int.from_bytes(np.packbits(coeffs > median).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    return int(bin(a ^ b).count("1"))


class HashIndex:
    """Perceptual hashes kept so far; :meth:`near` answers "is there one within ``bits``?"."""

    def __init__(self, hashes: Sequence[int] = ()) -> None:
        self._parts: list[np.ndarray] = []
        self._pending: list[int] = list(hashes)

    def __len__(self) -> int:
        return sum(len(p) for p in self._parts) + len(self._pending)

    def _array(self) -> list[np.ndarray]:
        if self._pending:
            self._parts.append(np.array(self._pending, dtype=np.uint64))
            self._pending = []
            if len(self._parts) > 64:  # keep the list short: one concatenated array
                self._parts = [np.concatenate(self._parts)]
        return self._parts

    def near(self, value: int, bits: int) -> bool:
        probe = np.uint64(value)
        return any(bool((np.bitwise_count(part ^ probe) <= bits).any()) for part in self._array() if len(part))

    def add(self, value: int) -> None:
        self._pending.append(value)


# ---- training sets --------------------------------------------------------------------------------
def _card_datasets(card: str | None) -> list[str]:
    """The ``datasets:`` entries of a model card's YAML front matter (inline list or ``- item`` lines)."""
    if not card or not Path(card).is_file():
        return []
    text = Path(card).read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return []
    front = text.split("---", 2)[1] if text.count("---") >= 2 else ""
    out: list[str] = []
    lines = front.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^datasets:\s*(.*)$", line)
        if not match:
            continue
        inline = match.group(1).strip()
        if inline.startswith("["):
            out += [x.strip().strip("'\"") for x in inline.strip("[]").split(",") if x.strip()]
        elif inline:
            out.append(inline.strip("'\""))
        for item in lines[i + 1:]:
            m = re.match(r"^\s*-\s*(.+)$", item)
            if not m:
                break
            out.append(m.group(1).strip().strip("'\""))
    return out


def training_set_of(spec: ModelSpec) -> str | None:
    """The studio-known training set of ``spec``: named in its card's front matter (``datasets:``),
    else given by the recipe recorded in its config (the embedded digits models); None if unknown."""
    for name in _card_datasets(spec.card):
        if name.lower() in _TRAINING_SET_ALIASES:
            return _TRAINING_SET_ALIASES[name.lower()]
    if spec.source.path and not spec.source.is_hub:
        try:
            from ..registry import folder_meta

            _kwargs, meta = folder_meta(Path(spec.source.path))
        except Exception:  # noqa: BLE001 - a folder without a readable config has no known training set
            return None
        recipe = meta.get("recipe")
        if isinstance(recipe, str) and recipe in RECIPE_TRAINING_SETS:
            return RECIPE_TRAINING_SETS[recipe]
    return None


def evaluator_for(spec: ModelSpec, training_set: str | None) -> str:
    """The evaluator that can judge ``spec``'s samples, or a :class:`UserInputError` saying there is none."""
    if training_set is None or training_set not in TRAINING_SETS:
        known = ", ".join(f"{name} (evaluator {v['evaluator']!r})" for name, v in TRAINING_SETS.items())
        raise UserInputError(
            f"--min-confidence needs an evaluator for model {spec.id!r}, and none is known: its card names no "
            f"training set the studio has an evaluator for (known: {known}); drop --min-confidence")
    return TRAINING_SETS[training_set]["evaluator"]


@lru_cache(maxsize=4)
def training_hashes(name: str) -> tuple[int, ...]:
    """The perceptual hashes of every image of training set ``name``."""
    if name != "sklearn-digits":
        raise UserInputError(f"unknown training set {name!r}; known: {', '.join(TRAINING_SETS)}")
    from ..data import load_digits_32
    from ..image_io import tensor_to_pil

    images, _labels = load_digits_32("all")
    return tuple(perceptual_hash(im) for im in tensor_to_pil(images))


# ---- confidence -----------------------------------------------------------------------------------
def confidences(evaluator: str, images: Sequence[Image.Image], labels: Sequence[int]) -> list[float]:
    """The evaluator's softmax probability of ``labels[i]`` for ``images[i]`` (grey, resized to its
    input size)."""
    import torch

    from ..evaluation.classifiers import load_evaluator, predict
    from ..image_io import pil_to_tensor, resize

    module, _metrics = load_evaluator(evaluator)
    side = EVALUATOR_INPUT_SIZE
    batch = [im if im.size == (side, side) else resize(im, (side, side)) for im in images]
    x = pil_to_tensor([im.convert("L") for im in batch], channels=1)
    with torch.no_grad():
        probs = predict(module, x).softmax(1)
    idx = torch.as_tensor(list(labels), dtype=torch.long)
    return [float(p) for p in probs[torch.arange(len(batch)), idx]]


def summary(dropped: dict[str, int]) -> dict[str, Any]:
    """Counts of dropped candidates by reason, for the card."""
    return dict(sorted(dropped.items()))
