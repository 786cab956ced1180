"""Metric functions (pure tensor/array maths, no models)."""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "class_histogram",
    "entropy_nats",
    "nearest_neighbour_check",
    "psnr",
    "colourfulness",
]


def class_histogram(predictions: torch.Tensor, num_classes: int) -> list[int]:
    """Counts of each predicted class (``predictions`` int (N,))."""
    return torch.bincount(predictions.long().flatten(), minlength=num_classes).tolist()


def entropy_nats(counts: list[int] | np.ndarray) -> float:
    """Shannon entropy (natural log) of a histogram; ``log(K)`` for K equally used bins."""
    p = np.asarray(counts, dtype=np.float64)
    total = p.sum()
    if total <= 0:
        return 0.0
    p = p[p > 0] / total
    return float(-(p * np.log(p)).sum())


def _nn_distances(a: torch.Tensor, b: torch.Tensor, exclude_self: bool = False, chunk: int = 512) -> torch.Tensor:
    a2 = a.flatten(1).double()
    b2 = b.flatten(1).double()
    out = []
    for i in range(0, a2.shape[0], chunk):
        d = torch.cdist(a2[i : i + chunk], b2)
        if exclude_self:
            idx = torch.arange(i, min(i + chunk, a2.shape[0]))
            d[torch.arange(len(idx)), idx] = float("inf")
        out.append(d.min(dim=1).values)
    return torch.cat(out)


def nearest_neighbour_check(samples: torch.Tensor, train: torch.Tensor, near_copy_factor: float = 0.5) -> dict[str, float]:
    """Memorisation check in pixel space (Euclidean distance of images in [-1, 1]).

    Returns the median distance of each sample to its nearest training image, the median
    distance of each training image to its nearest *other* training image, their ratio (≈ 1 or
    more: samples are as novel as the training images are from one another; ≪ 1: copies), and
    the share of samples closer to a training image than ``near_copy_factor`` × the train↔train
    median ("near copies").
    """
    d_sample = _nn_distances(samples, train)
    d_train = _nn_distances(train, train, exclude_self=True)
    med_sample = float(d_sample.median())
    med_train = float(d_train.median())
    return {
        "nn_median_sample_to_train": round(med_sample, 4),
        "nn_median_train_to_train": round(med_train, 4),
        "nn_ratio": round(med_sample / med_train, 4) if med_train > 0 else math.inf,
        "near_copy_share": round(float((d_sample < near_copy_factor * med_train).double().mean()), 4),
    }


def psnr(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range² / MSE)``."""
    mse = float(((pred.double() - target.double()) ** 2).mean())
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness M of an RGB image (H, W, 3) in [0, 1] (0–255 scale).

    ``rg = R - G``, ``yb = (R + G)/2 - B``, ``M = sqrt(σ_rg² + σ_yb²) + 0.3 sqrt(μ_rg² + μ_yb²)``;
    0 for a grey image, ~33 "moderately", ~59 "quite", > 82 "highly" colourful.
    """
    x = np.asarray(rgb, dtype=np.float64) * 255.0
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    return float(math.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
