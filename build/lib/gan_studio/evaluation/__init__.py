"""Evaluation of the embedded default models: small classifiers and the metrics they feed.

>>> from gan_studio.evaluation import evaluate, format_report
>>> print(format_report(evaluate("checkpoints/digits-cgan")))   # doctest: +SKIP

:func:`evaluate` returns a flat dict of numbers (plus ``bars``: PASS/FAIL per bar of
:data:`BARS`); :func:`check_bars` compares any such dict with the bars, optionally with a margin.
"""

from __future__ import annotations

from .evaluate import BARS, BarResult, check_bars, evaluate, format_report, load_folder, meets_bars

__all__ = ["BARS", "BarResult", "check_bars", "evaluate", "format_report", "load_folder", "meets_bars"]
