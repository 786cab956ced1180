"""Score a model folder with its task's protocol, compare the numbers with the bars, and print a report."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CheckpointError, UnknownModelError
from .bars import BARS, check_bars
from .protocols import (
    colorization_eval,
    evaluate_conditional,
    evaluate_multidomain,
    evaluate_translation_pair,
    evaluate_unconditional,
)

if TYPE_CHECKING:
    from ..architectures.base import Generator

logger = logging.getLogger(__name__)

TASKS = ("unconditional", "conditional", "translation", "multidomain", "colorization")


# ---- model folders -----------------------------------------------------------------------------
# These two functions are this package's own model-folder reader; the generic reader that the
# rest of the package shares will replace them (each is self-contained, so it swaps in one place).
def _resolve_folder(model: str | os.PathLike[str]) -> Path:
    """The local folder of ``model``: a folder as given, or a registry id's local source."""
    path = Path(model)
    if path.is_dir():
        return path
    try:
        from ..registry import load_registry

        spec = load_registry().resolve(str(model))
    except Exception as exc:  # noqa: BLE001 - report as an unknown model below
        raise UnknownModelError(f"{str(model)!r} is neither a model folder nor a known model id ({exc})") from None
    if spec.source.is_hub or not spec.source.path:
        raise UnknownModelError(f"{str(model)!r} is not a local model; evaluate() needs a local model folder")
    return Path(spec.source.path)


def load_folder(folder: str | os.PathLike[str], device: str = "cpu") -> tuple[Generator, dict[str, Any], dict[str, Any]]:
    """Build the generator of a model folder with its weights loaded strictly (through the one
    folder reader and the architecture's own loader).

    Returns ``(module in eval mode, constructor kwargs, _gan_studio meta)``.
    """
    from ..architectures import load_model_folder
    from ..folder import read_model_folder

    info = read_model_folder(folder)
    if info.architecture is None:
        raise CheckpointError(f"{folder}/config.json has no _gan_studio.architecture")
    module = load_model_folder(info.path)
    module.eval().requires_grad_(False)
    return module.to(device), info.kwargs, info.meta


# ---- evaluation and report ---------------------------------------------------------------------
def evaluate(model: str | Path, *, n_samples: int = 1000, seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Compute the metrics of ``model`` (a model folder, or a registry id with a local folder).

    A folder with ``AtoB/`` and ``BtoA/`` subfolders is evaluated as a translation pair. The
    returned dict has ``task``, ``model``, ``n_samples``, ``seed``, the task's metrics, and
    ``bars``: ``{metric: "PASS"/"FAIL"}`` against :data:`BARS`.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    folder = _resolve_folder(model)
    task: str | None  # as the folder's metadata says
    if (folder / "AtoB" / "config.json").is_file() and (folder / "BtoA" / "config.json").is_file():
        G_ab, _, meta = load_folder(folder / "AtoB", device)
        G_ba, _, _ = load_folder(folder / "BtoA", device)
        task = "translation"
        result = evaluate_translation_pair(G_ab, G_ba, n_samples, seed, device)
    else:
        G, kwargs, meta = load_folder(folder, device)
        task = meta.get("task")
        if task == "translation":
            parent = folder.resolve().parent
            if not ((parent / "AtoB" / "config.json").is_file() and (parent / "BtoA" / "config.json").is_file()):
                raise CheckpointError(
                    f"{folder}: a translator is evaluated as a pair (cycle consistency); "
                    f"pass a folder holding AtoB/ and BtoA/"
                )
            return evaluate(parent, n_samples=n_samples, seed=seed, device=device)
        if task == "unconditional":
            # z is as wide as the architecture declares (``nz`` for DCGAN, ``z_space_dim`` for ProGAN, ...)
            result = evaluate_unconditional(G, {**kwargs, "nz": G.contract.latent_dim}, meta, n_samples, seed, device)
        elif task == "conditional":
            result = evaluate_conditional(G, kwargs, meta, n_samples, seed, device)
        elif task == "multidomain":
            result = evaluate_multidomain(G, kwargs, meta, n_samples, seed, device)
        elif task == "colorization":
            ws = int((meta.get("preprocess") or {}).get("working_size") or 256)
            result = colorization_eval(G, device, ws)
        else:
            raise CheckpointError(f"{folder}: unknown task {task!r}; evaluate() knows: {', '.join(TASKS)}")
    metrics: dict[str, Any] = {"task": task, "model": str(folder), "n_samples": n_samples, "seed": seed, **result}
    metrics["bars"] = {r.metric: "PASS" if r.passed else "FAIL" for r in check_bars(metrics)}
    return metrics


def format_report(metrics: Mapping[str, Any]) -> str:
    """A readable multi-line report of :func:`evaluate`'s output, bars last."""
    lines = [f"model: {metrics.get('model')}", f"task:  {metrics.get('task')}  (n_samples={metrics.get('n_samples')}, seed={metrics.get('seed')})"]
    skip = {"task", "model", "n_samples", "seed", "bars"}
    for key, value in metrics.items():
        if key in skip:
            continue
        if isinstance(value, float):
            lines.append(f"  {key:<40} {value:.4g}")
        elif isinstance(value, dict):
            lines.append(f"  {key}:")
            for k, v in value.items():
                lines.append(f"    {k:<38} {v}")
        else:
            lines.append(f"  {key:<40} {value}")
    if metrics.get("task") in BARS:
        lines.append("bars:")
        lines.extend(f"  {r}" for r in check_bars(metrics))
    return "\n".join(lines)
