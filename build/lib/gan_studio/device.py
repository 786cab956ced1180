"""Device choice: CUDA, then MPS, then CPU (precision and the rest: :mod:`gan_studio.runtime`)."""

from __future__ import annotations

import logging
from typing import Any

from .errors import UserInputError

logger = logging.getLogger(__name__)

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def select_device(preference: str | None = "auto") -> Any:
    """The ``torch.device`` to run on. ``auto`` picks CUDA, then MPS, then CPU."""
    import torch

    pref = (preference or "auto").lower()
    base = pref.split(":")[0]
    if base not in DEVICE_CHOICES:
        raise UserInputError(f"unknown device {preference!r}; choose one of: {', '.join(DEVICE_CHOICES)}")
    if base == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise UserInputError(f"device {preference!r} asked for, but CUDA is not available here; use 'cpu' or 'auto'")
    if base == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserInputError(f"device {preference!r} asked for, but MPS is not available here; use 'cpu' or 'auto'")
    return torch.device(pref)

