"""Distribution metrics between a real and a generated image set: FID, KID, precision/recall and
density/coverage, on the features of a named network (:mod:`.features`).

FID and KID come from torchmetrics (``FrechetInceptionDistance``, ``KernelInceptionDistance``), fed
features computed once here: torchmetrics takes any feature module, so it gets a pass-through over
the precomputed features and the three metrics share one forward pass per image. Precision and
recall (Kynkäänniemi et al. 2019, k-NN manifolds, k = 3) and density and coverage (Naeem et al.
2020, k = 5) are not in torchmetrics or clean-fid; they are a few lines of ``torch.cdist`` here.

>>> from gan_studio.evaluation.distribution import compare_folders
>>> compare_folders("real/", "fake/", features="digits")              # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserInputError
from .features import FeatureNetwork, feature_network

__all__ = [
    "IMAGE_SUFFIXES",
    "compare_folders",
    "distribution_metrics",
    "extract_features",
    "folder_images",
    "precision_recall",
]

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
FEATURE_SIZE = 299  # images are brought to one size for batching (the Inception's own input size)
MIN_IMAGES = 10


class _PassThrough(nn.Module):
    """Hands precomputed features to torchmetrics as if it had computed them."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def folder_images(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files under ``folder`` (recursive, sorted); a clear error if there are none."""
    root = Path(folder)
    if not root.is_dir():
        raise UserInputError(f"{str(root)!r} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) < MIN_IMAGES:
        raise UserInputError(f"{str(root)!r} holds {len(files)} images; distribution metrics need at least "
                             f"{MIN_IMAGES} (and hundreds for stable numbers)")
    return files


def _batches(images: Iterable[Any], batch_size: int) -> Iterator[torch.Tensor]:
    """PIL images -> batches ``(n, 3, FEATURE_SIZE, FEATURE_SIZE)`` in [0, 1] (bilinear, as pytorch-fid)."""
    import numpy as np

    batch: list[torch.Tensor] = []
    for image in images:
        t = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
        batch.append(F.interpolate(t, size=(FEATURE_SIZE, FEATURE_SIZE), mode="bilinear", align_corners=False))
        if len(batch) == batch_size:
            yield torch.cat(batch)
            batch = []
    if batch:
        yield torch.cat(batch)


def _readable_images(files: list[Path], skipped: list[str]) -> Iterator[Any]:
    """The decoded images of ``files`` (the studio's hardened reader); unreadable ones are noted in
    ``skipped`` and left out."""
    from ..errors import ImageInputError
    from ..image_io import load_image

    for path in files:
        try:
            image, _notes = load_image(path)
        except ImageInputError as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        yield image


def _batches_from_files(files: list[Path], batch_size: int, skipped: list[str]) -> Iterator[torch.Tensor]:
    return _batches(_readable_images(files, skipped), batch_size)


def extract_features(batches: Iterable[torch.Tensor], network: FeatureNetwork) -> torch.Tensor:
    """Features ``(N, d)`` (float64) of image batches ``(n, 3, H, W)`` in [0, 1]."""
    out = []
    with torch.no_grad():
        for batch in batches:
            out.append(network.module(batch).double())
    if not out:
        raise UserInputError("no images to compute features of")
    return torch.cat(out)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, *, k_pr: int = 3, k_dc: int = 5) -> dict[str, float]:
    """Precision/recall (share of fakes inside the real k-NN manifold, and of reals inside the fake one)
    and density/coverage (Naeem et al.) of two feature sets."""

    def radii(x: torch.Tensor, k: int) -> torch.Tensor:
        d = torch.cdist(x, x)
        return d.kthvalue(k + 1, dim=1).values  # the k-th neighbour, not counting the point itself

    r_real3, r_fake3 = radii(real, k_pr), radii(fake, k_pr)
    d_fr = torch.cdist(fake, real)  # (n_fake, n_real)
    precision = (d_fr <= r_real3[None, :]).any(1).double().mean()
    recall = (d_fr.T <= r_fake3[None, :]).any(1).double().mean()
    r_real5 = radii(real, k_dc)
    inside = d_fr <= r_real5[None, :]
    density = inside.double().sum(1).mean() / k_dc
    coverage = (d_fr.min(0).values <= r_real5).double().mean()
    return {"precision": round(float(precision), 4), "recall": round(float(recall), 4),
            "density": round(float(density), 4), "coverage": round(float(coverage), 4)}


def distribution_metrics(real: torch.Tensor, fake: torch.Tensor, *, kid_subset_size: int = 1000,
                         kid_subsets: int = 100, seed: int = 0) -> dict[str, Any]:
    """FID, KID (mean ± std over subsets) and precision/recall/density/coverage of feature sets."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    n = min(len(real), len(fake))
    if n < 2:
        raise UserInputError("distribution metrics need at least two real and two generated images")
    dim = int(real.shape[1])
    fid = FrechetInceptionDistance(feature=_PassThrough(dim), normalize=True)
    fid.update(real, real=True)
    fid.update(fake, real=False)
    subset = min(kid_subset_size, n)
    kid = KernelInceptionDistance(feature=_PassThrough(dim), subsets=kid_subsets, subset_size=subset, normalize=True)
    kid.update(real, real=True)
    kid.update(fake, real=False)
    with torch.random.fork_rng():  # torchmetrics draws KID's subsets from torch's global RNG
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    out: dict[str, Any] = {
        "fid": round(float(fid.compute()), 4),
        "kid": round(float(kid_mean), 6),
        "kid_std": round(float(kid_std), 6),
        "kid_subset_size": subset,
        "n_real": int(len(real)),
        "n_fake": int(len(fake)),
    }
    out.update(precision_recall(real, fake))
    return out


def compare_folders(real_dir: str | os.PathLike[str], fake_dir: str | os.PathLike[str], *,
                    features: str = "inception", batch_size: int = 32, kid_subset_size: int = 1000,
                    seed: int = 0, download: bool = True) -> dict[str, Any]:
    """Distribution metrics between the images of two folders, on the feature network ``features``.

    Unreadable files are skipped and counted (``skipped_real``/``skipped_fake``), never fatal.
    """
    network = feature_network(features, download=download)
    skipped_real: list[str] = []
    skipped_fake: list[str] = []
    real = extract_features(_batches_from_files(folder_images(real_dir), batch_size, skipped_real), network)
    fake = extract_features(_batches_from_files(folder_images(fake_dir), batch_size, skipped_fake), network)
    return {"features": network.label, "comparable_with_published": network.comparable,
            **distribution_metrics(real, fake, kid_subset_size=kid_subset_size, seed=seed),
            "skipped_real": len(skipped_real), "skipped_fake": len(skipped_fake)}


def compare_model(results_images: Iterable[Any], real_dir: str | os.PathLike[str], *, features: str = "inception",
                  batch_size: int = 32, kid_subset_size: int = 1000, seed: int = 0,
                  download: bool = True) -> dict[str, Any]:
    """Distribution metrics between generated PIL images and the images of ``real_dir``."""
    network = feature_network(features, download=download)
    skipped: list[str] = []
    real = extract_features(_batches_from_files(folder_images(real_dir), batch_size, skipped), network)

    fake = extract_features(_batches(results_images, batch_size), network)
    return {"features": network.label, "comparable_with_published": network.comparable,
            **distribution_metrics(real, fake, kid_subset_size=kid_subset_size, seed=seed),
            "skipped_real": len(skipped)}
