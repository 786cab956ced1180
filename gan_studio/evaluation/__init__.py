"""Evaluation of the embedded default models: small classifiers and the metrics they feed.

>>> from gan_studio.evaluation import evaluate, format_report
>>> print(format_report(evaluate("checkpoints/digits-cgan")))   # doctest: +SKIP

:func:`evaluate` returns a flat dict of numbers (plus ``bars``: PASS/FAIL per bar of
:data:`BARS`); :func:`check_bars` compares any such dict with the bars, optionally with a margin.

The package, lowest first: :mod:`.metrics` (the maths), :mod:`.classifiers` (the shipped
evaluators), :mod:`.bars` (the thresholds), :mod:`.protocols` (how each task is sampled and
scored), :mod:`.evaluate` (a model folder -> its protocol -> metrics and bars, and the report).
"""

from __future__ import annotations

from .bars import BARS, BarResult, check_bars, meets_bars
from .evaluate import evaluate, format_report, load_folder
from .protocols import (
    COLORIZATION_HELDOUT,
    TRANSLATION_CROP,
    UPSCALE_HELDOUT,
    colorization_eval,
    digit_classifier,
    evaluate_conditional,
    evaluate_multidomain,
    evaluate_translation_pair,
    evaluate_unconditional,
    translation_eval_images,
    upscale_eval,
)

__all__ = [
    "BARS",
    "COLORIZATION_HELDOUT",
    "TRANSLATION_CROP",
    "UPSCALE_HELDOUT",
    "BarResult",
    "check_bars",
    "colorization_eval",
    "digit_classifier",
    "evaluate",
    "evaluate_conditional",
    "evaluate_multidomain",
    "evaluate_translation_pair",
    "evaluate_unconditional",
    "format_report",
    "load_folder",
    "meets_bars",
    "translation_eval_images",
    "upscale_eval",
]
