"""The evaluation protocol of each task: how a generator is sampled and scored.

Each protocol takes the generator (called through its task's contract), draws its inputs from
``seed`` and returns a flat dict of metrics; :func:`gan_studio.evaluation.evaluate` picks the
protocol from the model folder's task and adds the bars.

* unconditional: :func:`evaluate_unconditional`; conditional: :func:`evaluate_conditional`
  (both scored by the digit classifier, :func:`digit_classifier`);
* translation: :func:`evaluate_translation_pair` (both directions of a photo <-> sketch pair);
* multidomain: :func:`evaluate_multidomain` (digit attributes);
* colorization: :func:`colorization_eval` (held-out photos);
* upscale: :func:`upscale_eval` (held-out photos made smaller, enlarged back, vs bicubic).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data import COLORIZATION_HELDOUT_PHOTOS
from ..errors import CheckpointError
from . import metrics as M
from .classifiers import load_evaluator, predict

# Translation: crops for the domain classifier (pixels) and the working short side.
TRANSLATION_CROP = 64
# Colorization: held-out photos (never used in training; the split is in gan_studio.data).
COLORIZATION_HELDOUT = COLORIZATION_HELDOUT_PHOTOS
#: the crops of each held-out photo the colorization protocol scores besides the whole photo: its four
#: quadrants (top-left, top-right, bottom-left, bottom-right), a fixed rule that does not look at colour
COLORIZATION_CROPS = ("top-left", "top-right", "bottom-left", "bottom-right")
# Upscaling: held-out photos (an animal's fur, an interior, a portrait, a dusk sky with structures;
# none is trained on), the border shaved before scoring.
UPSCALE_HELDOUT = ("chelsea", "coffee", "astronaut", "rocket")
UPSCALE_SHAVE = 4


def _batched(fn: Callable[..., torch.Tensor], *tensors: torch.Tensor, batch_size: int = 200) -> torch.Tensor:
    n = tensors[0].shape[0]
    with torch.no_grad():
        return torch.cat([fn(*(t[i : i + batch_size] for t in tensors)).float().cpu() for i in range(0, n, batch_size)])


# ---- per task ----------------------------------------------------------------------------------
def digit_classifier() -> tuple[torch.nn.Module, float]:
    """The shipped digit classifier (eval mode, CPU) and its own held-out accuracy (NaN if unrecorded)."""
    clf, info = load_evaluator("digits")
    return clf, float(info.get("heldout_accuracy", float("nan")))


def evaluate_unconditional(G: Callable[..., torch.Tensor], kwargs: Mapping[str, Any], meta: Mapping[str, Any],
                           n: int, seed: int, device: str) -> dict[str, Any]:
    """Score an unconditional digits generator ``G(z)`` on ``n`` samples.

    ``z`` is drawn on a CPU generator seeded with ``seed`` (``kwargs["nz"]`` wide) and moved to
    ``device``; ``meta`` is unused (the protocols share one signature). The digit classifier gives the
    class histogram, ``classes_present``, ``class_entropy_nats`` and ``confident_share``
    (p >= 0.9); the nearest-neighbour check against the training digits gives the memorisation
    numbers (``near_copy_share``, ...).
    """
    from ..data import load_digits_32

    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, int(kwargs["nz"]), generator=gen)
    samples = _batched(lambda zz: G(zz.to(device)), z).clamp(-1, 1)
    clf, clf_acc = digit_classifier()
    logits = predict(clf, samples)
    pred = logits.argmax(1)
    hist = M.class_histogram(pred, 10)
    train, _ = load_digits_32("train")
    out: dict[str, Any] = {
        "class_histogram": hist,
        "classes_present": int(sum(1 for c in hist if c > 0)),
        "class_entropy_nats": round(M.entropy_nats(hist), 4),
        "class_entropy_max_nats": round(float(torch.log(torch.tensor(10.0))), 4),
        "confident_share": round(float((logits.softmax(1).max(1).values >= 0.9).float().mean()), 4),
        "classifier_heldout_accuracy": clf_acc,
    }
    out.update(M.nearest_neighbour_check(samples, train))
    return out


def evaluate_conditional(G: Callable[..., torch.Tensor], kwargs: Mapping[str, Any], meta: Mapping[str, Any],
                         n: int, seed: int, device: str) -> dict[str, Any]:
    """Score a class-conditional digits generator ``G(z, labels)`` on ``n`` samples.

    ``z`` is drawn on a CPU generator seeded with ``seed`` (``kwargs["nz"]`` wide), the requested
    classes are ``i % kwargs["num_classes"]``; ``meta`` is unused. The digit classifier gives
    ``class_accuracy`` (requested class recognised), ``per_class_accuracy``,
    ``class_entropy_nats`` and ``confident_share``.
    """
    num_classes = int(kwargs["num_classes"])
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, int(kwargs["nz"]), generator=gen)
    labels = torch.arange(n) % num_classes
    samples = _batched(lambda zz, yy: G(zz.to(device), yy.to(device)), z, labels).clamp(-1, 1)
    clf, clf_acc = digit_classifier()
    logits = predict(clf, samples)
    pred = logits.argmax(1)
    correct = pred == labels
    per_class = [round(float(correct[labels == c].float().mean()), 4) for c in range(num_classes)]
    return {
        "class_accuracy": round(float(correct.float().mean()), 4),
        "per_class_accuracy": per_class,
        "class_entropy_nats": round(M.entropy_nats(M.class_histogram(pred, 10)), 4),
        "confident_share": round(float((logits.softmax(1).max(1).values >= 0.9).float().mean()), 4),
        "classifier_heldout_accuracy": clf_acc,
    }


def _pad_to(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Crop (H, W) down to multiples of ``multiple`` (top-left aligned)."""
    h, w = x.shape[-2:]
    return x[..., : h - h % multiple, : w - w % multiple]


def translation_eval_images() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Held-out evaluation images: (photos, pencil sketches), the ``eval`` strips of every photo.

    The sketch of a strip is the strip of the full image's sketch (so the blur sees the same
    context as in training). Tensors (3, H, W) in [-1, 1], sides multiples of 4.
    """
    from ..data import PHOTOS, STRIPS, load_photo, sketch_rgb, to_tensor

    photos, sketches = [], []
    lo, hi = STRIPS["eval"]
    for name in PHOTOS:
        img = load_photo(name)
        w = img.shape[1]
        cols = slice(int(round(lo * w)), int(round(hi * w)))
        photos.append(_pad_to(to_tensor(img[:, cols]), 4))
        sketches.append(_pad_to(to_tensor(sketch_rgb(img)[:, cols]), 4))
    return photos, sketches


def _translate_crops(G: Callable[..., torch.Tensor], images: list[torch.Tensor], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate each whole image, then cut both input and output into aligned crops."""
    from ..data import grid_crops

    ins, outs = [], []
    with torch.no_grad():
        for img in images:
            y = G(img[None].to(device)).float().cpu()[0].clamp(-1, 1)
            ins.append(grid_crops(img, TRANSLATION_CROP, TRANSLATION_CROP // 2))
            outs.append(grid_crops(y, TRANSLATION_CROP, TRANSLATION_CROP // 2))
    return torch.cat(ins), torch.cat(outs)


def evaluate_translation_pair(G_ab: Callable[..., torch.Tensor], G_ba: Callable[..., torch.Tensor], n: int, seed: int,
                              device: str) -> dict[str, Any]:
    """Domain-classifier accuracy of both directions and cycle-consistency L1 on held-out strips."""
    clf, info = load_evaluator("photo-sketch")
    photos, sketches = translation_eval_images()
    out: dict[str, Any] = {"domain_classifier_heldout_accuracy": float(info.get("heldout_accuracy", float("nan")))}
    gen = torch.Generator().manual_seed(seed)
    for name, G, F_, images, target in (("AtoB", G_ab, G_ba, photos, 1), ("BtoA", G_ba, G_ab, sketches, 0)):
        x, y = _translate_crops(G, images, device)
        if x.shape[0] > n:
            keep = torch.randperm(x.shape[0], generator=gen)[:n]
            x, y = x[keep], y[keep]
        pred = (predict(clf, y) > 0).long()
        out[f"{name}_target_accuracy"] = round(float((pred == target).float().mean()), 4)
        out[f"{name}_source_accuracy_on_inputs"] = round(float(((predict(clf, x) > 0).long() == 1 - target).float().mean()), 4)
        rec = _batched(lambda t: F_(G(t.to(device))), x, batch_size=32)  # noqa: B023 - _batched calls it at once
        out[f"{name}_cycle_l1"] = round(float((rec - x).abs().mean()), 4)
        out[f"{name}_n_crops"] = int(x.shape[0])
    out["cycle_l1"] = round((out["AtoB_cycle_l1"] + out["BtoA_cycle_l1"]) / 2, 4)
    return out


def evaluate_multidomain(G: Callable[..., torch.Tensor], kwargs: Mapping[str, Any], meta: Mapping[str, Any],
                         n: int, seed: int, device: str) -> dict[str, Any]:
    """Score a digit-attribute StarGAN ``G(x, c_target)`` on ``n`` held-out digits.

    Random source and target attribute vectors (seeded by ``seed``) over ``meta["labels"]``, which
    must be :data:`gan_studio.data.ATTRIBUTES`; ``kwargs`` is unused. The attribute classifier gives
    the per-attribute accuracy of the translated digits (``attribute_accuracy_min`` is the bar), the
    digit classifier whether the digit survives (``digit_preserved_share``), and translating back
    gives ``reconstruction_l1``.
    """
    from ..data import ATTRIBUTES, apply_attributes, load_digits_32, to_rgb

    labels = list(meta.get("labels") or ATTRIBUTES)
    if labels != list(ATTRIBUTES):
        raise CheckpointError(f"the attribute classifier knows {list(ATTRIBUTES)}, the model has {labels}")
    gen = torch.Generator().manual_seed(seed)
    test, _ = load_digits_32("test")
    idx = torch.randint(0, test.shape[0], (n,), generator=gen)
    src = torch.randint(0, 2, (n, len(labels)), generator=gen).float()
    trg = torch.randint(0, 2, (n, len(labels)), generator=gen).float()
    x = to_rgb(apply_attributes(test[idx], src))
    y = _batched(lambda xx, cc: G(xx.to(device), cc.to(device)), x, trg).clamp(-1, 1)
    rec = _batched(lambda yy, cc: G(yy.to(device), cc.to(device)), y, src).clamp(-1, 1)
    clf, info = load_evaluator("digit-attributes")
    pred = (predict(clf, y) > 0).float()
    acc = (pred == trg).float().mean(0)
    out: dict[str, Any] = {f"attribute_accuracy_{a}": round(float(v), 4) for a, v in zip(labels, acc)}
    out["attribute_accuracy_min"] = round(float(acc.min()), 4)
    out["attribute_accuracy_all_correct"] = round(float((pred == trg).all(1).float().mean()), 4)
    changed = (src != trg).any(1)
    out["attribute_accuracy_changed_only_min"] = round(float((pred[changed] == trg[changed]).float().mean(0).min()), 4)
    out["reconstruction_l1"] = round(float((rec - x).abs().mean()), 4)
    out["attribute_classifier_heldout_accuracy"] = float(info.get("heldout_accuracy", float("nan")))
    digit_clf, _ = digit_classifier()
    # identity preservation: classify the digit of translated images with inversion undone
    plain = torch.where(trg[:, 2:3, None, None] > 0, -y, y).mean(1, keepdim=True)
    digits_pred = predict(digit_clf, plain).argmax(1)
    _, test_labels = load_digits_32("test")
    out["digit_preserved_share"] = round(float((digits_pred == test_labels[idx]).float().mean()), 4)
    # the same check on the real transforms of the input digits (the ceiling: shear and dilation
    # alone already confuse the plain-digit classifier sometimes)
    real = apply_attributes(test[idx], trg)
    real_plain = torch.where(trg[:, 2:3, None, None] > 0, -real, real)
    real_pred = predict(digit_clf, real_plain).argmax(1)
    out["digit_preserved_share_real_transform"] = round(float((real_pred == test_labels[idx]).float().mean()), 4)
    return out


def colorization_heldout_images(names: tuple[str, ...] = COLORIZATION_HELDOUT) -> list[tuple[str, np.ndarray]]:
    """The colorization protocol's images: each held-out photo whole, then its :data:`COLORIZATION_CROPS`.

    Returns ``(name, RGB float32 (H, W, 3) in [0, 1])`` pairs; crops are named ``photo/quadrant``.
    """
    from ..data import load_photo

    images: list[tuple[str, np.ndarray]] = []
    for name in names:
        rgb = load_photo(name)
        h, w = rgb.shape[:2]
        images.append((name, rgb))
        for crop in COLORIZATION_CROPS:
            top = 0 if crop.startswith("top") else h - h // 2
            left = 0 if crop.endswith("left") else w - w // 2
            images.append((f"{name}/{crop}", rgb[top : top + h // 2, left : left + w // 2]))
    return images


def colorize_like_the_studio(G: Callable[..., torch.Tensor], rgb: torch.Tensor, working_size: int,
                             device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Colorize RGB (1, 3, H, W) in [0, 1] as the studio does: ab predicted from the L of a copy
    resized to ``working_size`` short side (a multiple of the model's ``size_multiple``), upsampled
    bilinearly to full resolution and joined with the full-resolution L.

    Returns ``(Lab true (1, 3, H, W), Lab colorized (1, 3, H, W))`` in L*a*b* units.
    """
    from ..image_io import rgb_to_lab

    lab = rgb_to_lab(rgb)
    h, w = lab.shape[-2:]
    m = getattr(G, "size_multiple", 16)
    scale = working_size / min(h, w)
    sh, sw = max(m, round(h * scale / m) * m), max(m, round(w * scale / m) * m)
    small = F.interpolate(rgb, size=(sh, sw), mode="bilinear", align_corners=False, antialias=True)
    L_small = rgb_to_lab(small.clamp(0, 1))[:, :1] / 50.0 - 1.0
    with torch.no_grad():
        ab_small = G(L_small.to(device)).float().cpu()
    ab = F.interpolate(ab_small, size=(h, w), mode="bilinear", align_corners=False)
    return lab, torch.cat([lab[:, :1], ab * 110.0], 1)


def ciede2000(lab_a: torch.Tensor, lab_b: torch.Tensor) -> float:
    """Mean CIEDE2000 colour difference of two Lab images (1, 3, H, W) (``skimage.color.deltaE_ciede2000``)."""
    try:
        from skimage.color import deltaE_ciede2000
    except ImportError:  # scikit-image is a test/tools dependency, not a runtime one
        raise CheckpointError(
            "evaluating a colorizer needs scikit-image for CIEDE2000 (pip install 'scikit-image>=0.24', "
            "or pip install -r requirements-test.txt)"
        ) from None
    a = lab_a[0].permute(1, 2, 0).double().numpy()
    b = lab_b[0].permute(1, 2, 0).double().numpy()
    return float(np.mean(deltaE_ciede2000(a, b)))  # type: ignore[no-untyped-call]  # skimage is untyped


def colorization_scores(lab_true: torch.Tensor, lab_pred: torch.Tensor) -> dict[str, float]:
    """Scores of one colorized image (Lab, (1, 3, H, W), the same L) against its true colours and
    against the greyscale baseline (ab = 0, the input as it was):

    ``psnr_ab_db`` (PSNR of ab, data range 220 a*b* units, i.e. 2 in the contract's ab/110 units),
    ``ciede2000`` (mean CIEDE2000 per pixel), each with ``_baseline``; ``chroma``/``chroma_true`` (mean
    chroma C*ab of the colorized and the true image; the baseline's is 0); and ``cast_a``/``cast_b`` (the
    mean a*/b* offset, colorized minus true, in a*b* units) with the baseline's (= minus the mean colour).
    """
    grey = torch.cat([lab_true[:, :1], torch.zeros_like(lab_true[:, 1:])], 1)
    ab_true = lab_true[:, 1:] / 110.0
    offset = (lab_pred[:, 1:] - lab_true[:, 1:]).mean(dim=(0, 2, 3))
    return {
        "psnr_ab_db": M.psnr(lab_pred[:, 1:] / 110.0, ab_true, data_range=2.0),
        "psnr_ab_baseline_db": M.psnr(grey[:, 1:] / 110.0, ab_true, data_range=2.0),
        "ciede2000": ciede2000(lab_true, lab_pred),
        "ciede2000_baseline": ciede2000(lab_true, grey),
        "chroma": float(lab_pred[:, 1:].norm(dim=1).mean()),
        "chroma_true": float(lab_true[:, 1:].norm(dim=1).mean()),
        "cast_a": float(offset[0]),
        "cast_b": float(offset[1]),
        "cast_a_baseline": -float(lab_true[:, 1].mean()),
        "cast_b_baseline": -float(lab_true[:, 2].mean()),
    }


def colorization_eval(G: Callable[..., torch.Tensor], device: str, working_size: int,
                      names: tuple[str, ...] = COLORIZATION_HELDOUT) -> dict[str, Any]:
    """Score a colorizer on :func:`colorization_heldout_images` against the greyscale baseline.

    Each image is colorized as the studio does it (:func:`colorize_like_the_studio`) and scored by
    :func:`colorization_scores`. An image is *worse than greyscale* when its ab PSNR is lower or its
    CIEDE2000 higher than the baseline's. Overall numbers are means over the images (each image
    counts once, whatever its size); ``cast_norm`` is the length of the mean (a*, b*) offset,
    ``cast_norm_excess`` how much longer it is than the greyscale baseline's (the baseline's offset is
    minus the set's mean colour), and ``cast_excess_max`` the same difference for the worst single image.
    """
    per: dict[str, Any] = {}
    rows: list[dict[str, float]] = []
    for name, img in colorization_heldout_images(names):
        rgb = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
        lab_true, lab_pred = colorize_like_the_studio(G, rgb, working_size, device)
        s = colorization_scores(lab_true, lab_pred)
        worse = s["psnr_ab_db"] < s["psnr_ab_baseline_db"] or s["ciede2000"] > s["ciede2000_baseline"]
        s["cast_norm"] = math.hypot(s["cast_a"], s["cast_b"])
        s["cast_norm_baseline"] = math.hypot(s["cast_a_baseline"], s["cast_b_baseline"])
        rows.append({**s, "worse": float(worse)})
        per[name] = {**{k: round(v, 3) for k, v in s.items()}, "worse_than_greyscale": worse}

    def mean(key: str) -> float:
        return sum(r[key] for r in rows) / len(rows)

    worse_count = int(sum(r["worse"] for r in rows))
    cast_a, cast_b = mean("cast_a"), mean("cast_b")
    base_a, base_b = mean("cast_a_baseline"), mean("cast_b_baseline")
    return {
        "psnr_ab_db": round(mean("psnr_ab_db"), 3),
        "psnr_ab_baseline_db": round(mean("psnr_ab_baseline_db"), 3),
        "psnr_ab_gain_db": round(mean("psnr_ab_db") - mean("psnr_ab_baseline_db"), 3),
        "ciede2000": round(mean("ciede2000"), 3),
        "ciede2000_baseline": round(mean("ciede2000_baseline"), 3),
        "ciede2000_gain": round(mean("ciede2000_baseline") - mean("ciede2000"), 3),
        "chroma": round(mean("chroma"), 3),
        "chroma_true": round(mean("chroma_true"), 3),
        "images": len(rows),
        "images_worse_than_greyscale": worse_count,
        "share_not_worse_than_greyscale": round(1.0 - worse_count / len(rows), 4),
        "cast_a": round(cast_a, 3),
        "cast_b": round(cast_b, 3),
        "cast_norm": round(math.hypot(cast_a, cast_b), 3),
        "cast_a_baseline": round(base_a, 3),
        "cast_b_baseline": round(base_b, 3),
        "cast_norm_baseline": round(math.hypot(base_a, base_b), 3),
        "cast_norm_excess": round(math.hypot(cast_a, cast_b) - math.hypot(base_a, base_b), 3),
        "cast_excess_max": round(max(r["cast_norm"] - r["cast_norm_baseline"] for r in rows), 3),
        "heldout_photos": list(names),
        "working_size": working_size,
        "per_image": per,
    }


def upscale_eval(G: Callable[..., torch.Tensor], device: str, scale: int, seed: int = 0,
                 names: tuple[str, ...] = UPSCALE_HELDOUT) -> dict[str, Any]:
    """PSNR and SSIM of an upscaler ``G(x)`` (x in [0, 1], ``scale``× larger output) against bicubic
    interpolation on held-out photos, for two kinds of small input: ``clean`` (a plain antialiased
    bicubic downscale, 8-bit) and ``degraded`` (the Real-ESRGAN-style degradation model of
    :mod:`.degradation`, drawn from ``seed``). Scored on RGB in [0, 1] with a
    :data:`UPSCALE_SHAVE` px border shaved; ``*_gain_db`` is the model's PSNR minus bicubic's.
    The photos are run whole (one pass, as the studio runs an image this small)."""
    from skimage.metrics import structural_similarity

    from ..data import load_photo
    from .degradation import bicubic_down, degrade

    def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(structural_similarity(  # type: ignore[no-untyped-call]  # scikit-image is unannotated
            a[0].permute(1, 2, 0).double().numpy(), b[0].permute(1, 2, 0).double().numpy(), channel_axis=2,
            data_range=1.0))

    per: dict[str, Any] = {}
    sums: dict[str, list[float]] = {}
    gen = torch.Generator().manual_seed(seed)
    s = UPSCALE_SHAVE
    for name in names:
        hr = torch.from_numpy(load_photo(name)).permute(2, 0, 1)[None]
        h, w = hr.shape[-2:]
        hr = hr[..., : h // (4 * scale) * 4 * scale, : w // (4 * scale) * 4 * scale]
        inputs = {"clean": bicubic_down(hr) if scale == 4 else
                  F.interpolate(hr, scale_factor=1 / scale, mode="bicubic", antialias=True).clamp(0, 1),
                  "degraded": degrade(hr, gen) if scale == 4 else None}
        per[name] = {}
        for kind, lr in inputs.items():
            if lr is None:
                continue
            with torch.no_grad():
                sr = G(lr.to(device)).float().cpu().clamp(0, 1)
            bic = F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)
            crop = (slice(None), slice(None), slice(s, -s), slice(s, -s))
            ref, sr_c, bic_c = hr[crop], sr[crop], bic[crop]
            row = {"psnr_db": M.psnr(sr_c, ref, 1.0), "psnr_bicubic_db": M.psnr(bic_c, ref, 1.0),
                   "ssim": ssim(sr_c, ref), "ssim_bicubic": ssim(bic_c, ref)}
            per[name][kind] = {k: round(v, 4) for k, v in row.items()}
            for k, v in row.items():
                sums.setdefault(f"{kind}_{k}", []).append(v)
    out: dict[str, Any] = {k: round(sum(v) / len(v), 4) for k, v in sums.items()}
    for kind in ("clean", "degraded"):
        if f"{kind}_psnr_db" in out:
            out[f"{kind}_psnr_gain_db"] = round(out[f"{kind}_psnr_db"] - out[f"{kind}_psnr_bicubic_db"], 4)
            out[f"{kind}_ssim_gain"] = round(out[f"{kind}_ssim"] - out[f"{kind}_ssim_bicubic"], 4)
    out.update({"scale": scale, "heldout_photos": list(names), "shave_px": s, "per_image": per})
    return out
