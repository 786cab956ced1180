"""The bars: the pass/fail threshold of each metric, per task, and the checks against them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Bars per task: metric -> (comparison, threshold). Taken from the project's issue 3, plus the
# memorisation check (at most 10 % of samples may be near copies of a training image) and the
# digit classifier's own held-out accuracy (>= 95 %) for the two digits generators.
BARS: dict[str, dict[str, tuple[str, float]]] = {
    "unconditional": {
        "classes_present": (">=", 10),
        "class_entropy_nats": (">=", 2.1),
        "near_copy_share": ("<=", 0.10),
        "classifier_heldout_accuracy": (">=", 0.95),
    },
    "conditional": {
        "class_accuracy": (">=", 0.90),
        "classifier_heldout_accuracy": (">=", 0.95),
    },
    "translation": {
        "AtoB_target_accuracy": (">=", 0.80),
        "BtoA_target_accuracy": (">=", 0.80),
    },
    "multidomain": {
        "attribute_accuracy_min": (">=", 0.80),
    },
    # Colorization (issue 15, "do no harm"): on the held-out photos and their crops the model must beat
    # the greyscale baseline (ab = 0) on average in both PSNR and CIEDE2000, be no worse than it on at
    # least 80 % of the images, and add no systematic cast. The cast bars are relative to the baseline,
    # whose own mean a*b* offset is minus the set's mean colour (11 a*b* units on the current set, so
    # an absolute bound of a few units would fail greyscale itself): the mean offset may be no longer
    # than the baseline's, and on no single image more than 5 a*b* units longer (about two just-
    # noticeable differences, ΔE ≈ 2.3 each; a blue sky turned orange exceeds it many times over).
    "colorization": {
        "psnr_ab_gain_db": (">", 0.0),
        "ciede2000_gain": (">", 0.0),
        "share_not_worse_than_greyscale": (">=", 0.8),
        "cast_norm_excess": ("<=", 0.0),
        "cast_excess_max": ("<=", 5.0),
    },
    # issue 18: the embedded upscaler must beat bicubic interpolation on held-out photos
    "upscale": {
        "clean_psnr_gain_db": (">", 0.0),
        "degraded_psnr_gain_db": (">", 0.0),
    },
}


@dataclass(frozen=True)
class BarResult:
    """One metric compared with its bar."""

    metric: str
    value: float | None
    op: str
    threshold: float
    passed: bool

    def __str__(self) -> str:
        val = "missing" if self.value is None else f"{self.value:.4g}"
        return f"{'PASS' if self.passed else 'FAIL'}  {self.metric} = {val} (bar {self.op} {self.threshold:g})"


def check_bars(metrics: Mapping[str, Any], *, margin: float = 0.0) -> list[BarResult]:
    """Compare ``metrics`` with the bars of its task.

    ``margin`` loosens every bar by that amount (for small-sample checks): ``>=``/``>`` bars
    become ``threshold - margin`` and ``<=`` bars ``threshold + margin`` (integer counts such as
    ``classes_present`` are never loosened).
    """
    task = metrics.get("task")
    if task not in BARS:
        raise ValueError(f"metrics have task {task!r}; expected one of: {', '.join(BARS)}")
    results = []
    for name, (op, threshold) in BARS[task].items():
        value = metrics.get(name)
        slack = 0.0 if isinstance(threshold, int) and name == "classes_present" else margin
        if value is None:
            results.append(BarResult(name, None, op, threshold, False))
            continue
        v = float(value)
        if op == ">=":
            ok = v >= threshold - slack
        elif op == ">":
            ok = v > threshold - slack
        elif op == "<=":
            ok = v <= threshold + slack
        else:  # pragma: no cover - table above is fixed
            raise ValueError(f"unknown comparison {op!r}")
        results.append(BarResult(name, v, op, threshold, ok))
    return results


def meets_bars(metrics: Mapping[str, Any], *, margin: float = 0.0) -> bool:
    """True if every bar of the task passes (see :func:`check_bars`)."""
    return all(r.passed for r in check_bars(metrics, margin=margin))
