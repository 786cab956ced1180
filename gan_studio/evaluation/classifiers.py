"""The small classifiers that score the embedded generators, and where their weights live.

Three evaluators, each trained by a recipe of :mod:`gan_studio.training` (``evaluator-digits``,
``evaluator-photo-sketch``, ``evaluator-digit-attributes``) on data the generators never saw
in that role, and shipped as ``checkpoints/_evaluators/<name>/model.safetensors`` + ``config.json``
(constructor kwargs and the classifier's own held-out accuracy):

* ``digits``: :class:`DigitClassifier`, 32×32 grey digits in [-1, 1] -> 10 class logits.
* ``photo-sketch``: :class:`DomainClassifier`, RGB images in [-1, 1] (any size) -> one logit,
  > 0 meaning "pencil sketch" (domain B), < 0 "photo" (domain A).
* ``digit-attributes``: :class:`AttributeClassifier`, 32×32 RGB digits -> one logit per
  attribute of :data:`gan_studio.data.ATTRIBUTES`.

Set ``GAN_STUDIO_EVALUATORS`` to a folder to use evaluators from elsewhere.
"""

from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
EVALUATORS_DIR = REPO_ROOT / "checkpoints" / "_evaluators"


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DigitClassifier(nn.Module):
    """``f(x) -> (N, num_classes)`` logits for (N, in_channels, 32, 32) digits in [-1, 1].

    Args:
        width: channels of the first stage (doubled at the second).
        in_channels: 1 for grey digits.
        num_classes: 10 digits.
    """

    def __init__(self, width: int = 32, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *_block(in_channels, w), *_block(w, w), nn.MaxPool2d(2),
            *_block(w, 2 * w), *_block(2 * w, 2 * w), nn.MaxPool2d(2),
            *_block(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(4 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.features(x))
        return logits


class AttributeClassifier(DigitClassifier):
    """``f(x) -> (N, num_attributes)`` independent logits for (N, 3, 32, 32) digits in [-1, 1]."""

    def __init__(self, width: int = 32, in_channels: int = 3, num_attributes: int = 3) -> None:
        super().__init__(width=width, in_channels=in_channels, num_classes=num_attributes)


class DomainClassifier(nn.Module):
    """``f(x) -> (N,)`` logit, > 0 = pencil sketch, < 0 = photo; any input size (global pooling).

    Args:
        width: channels of the first convolution (doubled per stride-2 stage).
        stages: number of stride-2 stages.
    """

    def __init__(self, width: int = 16, stages: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin, c = 3, width
        for _ in range(stages):
            layers += [nn.Conv2d(cin, c, 3, stride=2, padding=1), nn.GroupNorm(min(8, c), c), nn.LeakyReLU(0.2, True),
                       nn.Conv2d(c, c, 3, padding=1), nn.GroupNorm(min(8, c), c), nn.LeakyReLU(0.2, True)]
            cin, c = c, c * 2
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.head(self.features(x))
        return logits.squeeze(1)


EVALUATORS: dict[str, type[nn.Module]] = {
    "digits": DigitClassifier,
    "photo-sketch": DomainClassifier,
    "digit-attributes": AttributeClassifier,
}


def evaluators_dir() -> Path:
    """Folder holding the evaluator weights (``GAN_STUDIO_EVALUATORS`` overrides the default)."""
    env = os.environ.get("GAN_STUDIO_EVALUATORS")
    return Path(env) if env else EVALUATORS_DIR


def save_evaluator(module: nn.Module, name: str, out_dir: str | os.PathLike[str], *, kwargs: dict[str, Any],
                   metrics: dict[str, Any], card: str | None = None) -> Path:
    """Write an evaluator's ``config.json`` (kwargs + ``_evaluator`` block) and ``model.safetensors``."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = {**kwargs, "_evaluator": {"name": name, "class": type(module).__name__, "metrics": metrics}}
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt", "evaluator": name})
    if card is not None:
        (out / "README.md").write_text(card, encoding="utf-8")
    return out


def load_evaluator(name: str, folder: str | os.PathLike[str] | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Load evaluator ``name`` (eval mode, CPU) and its recorded metrics.

    Looks in ``folder`` or ``evaluators_dir() / name``. Raises :class:`CheckpointError` if the
    weights are missing (train them with ``python -m gan_studio train evaluator-<name>``).
    """
    if name not in EVALUATORS:
        raise ValueError(f"unknown evaluator {name!r}; choose one of: {', '.join(EVALUATORS)}")
    path = Path(folder) if folder else evaluators_dir() / name
    weights = path / "model.safetensors"
    mtime = weights.stat().st_mtime_ns if weights.is_file() else 0
    return _load_cached(name, str(path), mtime)


@lru_cache(maxsize=8)
def _load_cached(name: str, folder: str, mtime: int) -> tuple[nn.Module, dict[str, Any]]:
    from ..folder import read_model_folder
    from ..weights import load_strict, load_weight_file

    path = Path(folder)
    if not (path / "model.safetensors").is_file():
        raise CheckpointError(
            f"evaluator {name!r} has no weights in {folder!r}; train it with "
            f"`python -m gan_studio train evaluator-{name} --out {folder}`"
        )
    folder_info = read_model_folder(path)
    info = folder_info.config.get("_evaluator") or {}
    module = EVALUATORS[name](**folder_info.kwargs)
    load_strict(module, load_weight_file(path / "model.safetensors"), source=f"evaluator {name!r}")
    module.eval().requires_grad_(False)
    return module, dict(info.get("metrics", {}))


@torch.no_grad()
def predict(module: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Run a classifier over ``x`` in batches on CPU; returns the concatenated logits."""
    outs = [module(x[i : i + batch_size].float().cpu()) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)
