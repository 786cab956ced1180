"""Baselines for the unconditional digits generators: does a model beat doing nothing?

:func:`digits_baselines` scores, with exactly the protocol the model is scored with
(:func:`gan_studio.evaluation.evaluate_unconditional`: the digit classifier's class histogram,
entropy and ``confident_share``, and the pixel-space memorisation check), four reference
"generators":

* ``untrained_generator``: the model's own architecture and config at its seeded initialisation
  (what training adds);
* ``pixel_gaussian``: independent per-pixel Gaussians with the training digits' mean and standard
  deviation (a model with no structure at all);
* ``train_copies``: training digits returned verbatim (a pure memoriser; the ``near_copy_share``
  bar must fail it);
* ``heldout_real``: the 360 held-out real digits (the ceiling a generator is compared with).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["BASELINE_KEYS", "baselines_table", "digits_baselines", "unconditional_evaluation_text"]

BASELINE_KEYS = ("classes_present", "class_entropy_nats", "confident_share", "nn_ratio", "near_copy_share")


def _score(fn: Any, width: int, n: int, seed: int) -> dict[str, Any]:
    from ..evaluation import check_bars, evaluate_unconditional

    metrics = evaluate_unconditional(fn, {"nz": width}, {}, n, seed, "cpu")
    summary: dict[str, Any] = {k: metrics[k] for k in BASELINE_KEYS}
    summary["n_samples"] = n
    summary["bars_passed"] = all(r.passed for r in check_bars({"task": "unconditional", **metrics}))
    return summary


@torch.no_grad()
def digits_baselines(architecture: str, kwargs: Mapping[str, Any], *, n: int, seed: int) -> dict[str, dict[str, Any]]:
    """Score the four baselines (see the module docstring) on ``n`` samples (held-out: all 360)."""
    from ..architectures import build_architecture
    from ..data import load_digits_32

    train, _ = load_digits_32("train")
    heldout, _ = load_digits_32("test")
    torch.manual_seed(seed)
    untrained = build_architecture(architecture, dict(kwargs)).eval()
    latent = untrained.contract.latent_dim
    mean, std = train.mean(0, keepdim=True), train.std(0, keepdim=True)

    def gaussian(z: torch.Tensor) -> torch.Tensor:
        return mean + std * z.view(-1, *train.shape[1:])

    picks = torch.randperm(train.shape[0], generator=torch.Generator().manual_seed(seed))
    copies = train[picks.repeat(n // train.shape[0] + 1)[:n]]
    served = {"train_copies": 0, "heldout_real": 0}

    def serve(name: str, images: torch.Tensor) -> Any:
        def fn(z: torch.Tensor) -> torch.Tensor:
            start = served[name]
            served[name] = start + z.shape[0]
            return images[start:start + z.shape[0]]
        return fn

    return {
        "untrained_generator": _score(untrained, latent, n, seed),
        "pixel_gaussian": _score(gaussian, int(train[0].numel()), n, seed),
        "train_copies": _score(serve("train_copies", copies), 1, n, seed),
        "heldout_real": _score(serve("heldout_real", heldout), 1, heldout.shape[0], seed),
    }


def baselines_table(metrics: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]]) -> str:
    """A Markdown table: the model's numbers next to each baseline's."""
    head = "| | " + " | ".join(BASELINE_KEYS) + " | meets every bar |"
    rows = [head, "|---" * (len(BASELINE_KEYS) + 2) + "|"]

    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    model_pass = all(v == "PASS" for v in (metrics.get("bars") or {}).values())
    rows.append("| **this model** | " + " | ".join(fmt(metrics.get(k)) for k in BASELINE_KEYS)
                + f" | {'yes' if model_pass else 'no'} |")
    for name, b in baselines.items():
        rows.append(f"| {name} (n={b['n_samples']}) | " + " | ".join(fmt(b[k]) for k in BASELINE_KEYS)
                    + f" | {'yes' if b['bars_passed'] else 'no'} |")
    return "\n".join(rows)


def unconditional_evaluation_text(metrics: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]]) -> str:
    """The Evaluation section's prose for an unconditional digits card, with the baselines table."""
    return (
        "A small CNN digit classifier (`checkpoints/_evaluators/digits`, trained on the same 1,437 training digits "
        "with augmentation; its accuracy on the 360 held-out digits is in the table; `confident_share` is the share "
        "of samples it classifies with probability >= 0.9) classifies 1,000 samples; the class histogram, its "
        "entropy (max ln 10 = 2.303 nats) and the number of classes present measure mode coverage. Memorisation: "
        "pixel-space nearest-neighbour distance of each sample to the training set vs. each training image's "
        "distance to its nearest other training image (`nn_ratio` ≈ 1 means samples are as novel as the training "
        "digits are from one another); `near_copy_share` counts samples closer than half the train↔train median.\n\n"
        "### Does it beat doing nothing?\n\n"
        "The same protocol on reference generators (`gan_studio.training.digits_eval`): the untrained network "
        "(same architecture and config, seeded initialisation), independent per-pixel Gaussians fitted to the "
        "training digits, training digits copied verbatim (the memorisation bar must fail it), and the held-out "
        "real digits (the ceiling). Stored under `baselines` in `metrics.json`.\n\n"
        + baselines_table(metrics, baselines) + "\n"
    )
