"""Score a model folder with the task's metrics, and compare the numbers with :data:`BARS`."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ..errors import CheckpointError, UnknownModelError
from . import metrics as M
from .classifiers import load_evaluator, predict

logger = logging.getLogger(__name__)

TASKS = ("unconditional", "conditional", "translation", "multidomain", "colorization")

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
    "colorization": {
        "psnr_ab_gain_db": (">", 0.0),
    },
}

# Translation: crops for the domain classifier (pixels) and the working short side.
TRANSLATION_CROP = 64
# Colorization: held-out photos (never used in training) and the studio's working short side.
COLORIZATION_HELDOUT = ("chelsea", "coffee")


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


# ---- loading -----------------------------------------------------------------------------------
def _resolve_folder(model: str | os.PathLike[str]) -> Path:
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


def load_folder(folder: str | os.PathLike[str], device: str = "cpu") -> tuple[torch.nn.Module, dict[str, Any], dict[str, Any]]:
    """Build the generator of a model folder with its weights loaded strictly.

    Returns ``(module in eval mode, constructor kwargs, _gan_studio meta)``.
    """
    from ..architectures import build_architecture
    from ..weights import load_strict, load_weight_file, read_config

    folder = Path(folder)
    config = read_config(folder)
    meta = config.pop("_gan_studio", {}) or {}
    if "architecture" not in meta:
        raise CheckpointError(f"{folder}/config.json has no _gan_studio.architecture")
    module = build_architecture(meta["architecture"], config)
    load_strict(module, load_weight_file(folder / "model.safetensors"), source=str(folder))
    module.eval().requires_grad_(False)
    return module.to(device), config, meta


def _batched(fn, *tensors: torch.Tensor, batch_size: int = 200) -> torch.Tensor:
    n = tensors[0].shape[0]
    with torch.no_grad():
        return torch.cat([fn(*(t[i : i + batch_size] for t in tensors)).float().cpu() for i in range(0, n, batch_size)])


# ---- per task ----------------------------------------------------------------------------------
def _digit_classifier() -> tuple[torch.nn.Module, float]:
    clf, info = load_evaluator("digits")
    return clf, float(info.get("heldout_accuracy", float("nan")))


def _eval_unconditional(G, kwargs, meta, n, seed, device) -> dict[str, Any]:
    from ..data import load_digits_32

    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, int(kwargs["nz"]), generator=gen)
    samples = _batched(lambda zz: G(zz.to(device)), z).clamp(-1, 1)
    clf, clf_acc = _digit_classifier()
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


def _eval_conditional(G, kwargs, meta, n, seed, device) -> dict[str, Any]:
    num_classes = int(kwargs["num_classes"])
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, int(kwargs["nz"]), generator=gen)
    labels = torch.arange(n) % num_classes
    samples = _batched(lambda zz, yy: G(zz.to(device), yy.to(device)), z, labels).clamp(-1, 1)
    clf, clf_acc = _digit_classifier()
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


def _translate_crops(G, images: list[torch.Tensor], device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate each whole image, then cut both input and output into aligned crops."""
    from ..data import grid_crops

    ins, outs = [], []
    with torch.no_grad():
        for img in images:
            y = G(img[None].to(device)).float().cpu()[0].clamp(-1, 1)
            ins.append(grid_crops(img, TRANSLATION_CROP, TRANSLATION_CROP // 2))
            outs.append(grid_crops(y, TRANSLATION_CROP, TRANSLATION_CROP // 2))
    return torch.cat(ins), torch.cat(outs)


def evaluate_translation_pair(G_ab, G_ba, n: int, seed: int, device: str) -> dict[str, Any]:
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
        rec = _batched(lambda t: F_(G(t.to(device))), x, batch_size=32)
        out[f"{name}_cycle_l1"] = round(float((rec - x).abs().mean()), 4)
        out[f"{name}_n_crops"] = int(x.shape[0])
    out["cycle_l1"] = round((out["AtoB_cycle_l1"] + out["BtoA_cycle_l1"]) / 2, 4)
    return out


def _eval_multidomain(G, kwargs, meta, n, seed, device) -> dict[str, Any]:
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
    digit_clf, _ = _digit_classifier()
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


def colorization_eval(G, device: str, working_size: int, names: tuple[str, ...] = COLORIZATION_HELDOUT) -> dict[str, Any]:
    """ab PSNR vs the grayscale baseline and colourfulness on held-out photos (studio-style run:
    predict at ``working_size`` short side, upsample ab to full resolution)."""
    from ..image_io import lab_to_rgb, rgb_to_lab
    from ..data import load_photo

    per: dict[str, Any] = {}
    psnrs, base_psnrs, col_pred, col_true = [], [], [], []
    for name in names:
        rgb = torch.from_numpy(load_photo(name)).permute(2, 0, 1)[None]
        lab = rgb_to_lab(rgb)
        L = lab[:, :1] / 50.0 - 1.0
        ab_true = lab[:, 1:] / 110.0
        h, w = L.shape[-2:]
        m = getattr(G, "size_multiple", 16)
        scale = working_size / min(h, w)
        sh, sw = max(m, round(h * scale / m) * m), max(m, round(w * scale / m) * m)
        small = F.interpolate(rgb, size=(sh, sw), mode="bilinear", align_corners=False, antialias=True)
        L_small = rgb_to_lab(small.clamp(0, 1))[:, :1] / 50.0 - 1.0
        with torch.no_grad():
            ab_small = G(L_small.to(device)).float().cpu()
        ab = F.interpolate(ab_small, size=(h, w), mode="bilinear", align_corners=False)
        p = M.psnr(ab, ab_true, data_range=2.0)
        b = M.psnr(torch.zeros_like(ab_true), ab_true, data_range=2.0)
        out_rgb = lab_to_rgb(torch.cat([(L + 1.0) * 50.0, ab * 110.0], 1))[0].permute(1, 2, 0).numpy()
        cp, ct = M.colourfulness(out_rgb), M.colourfulness(load_photo(name))
        per[name] = {"psnr_ab_db": round(p, 3), "psnr_ab_baseline_db": round(b, 3),
                     "colourfulness": round(cp, 2), "colourfulness_true": round(ct, 2)}
        psnrs.append(p)
        base_psnrs.append(b)
        col_pred.append(cp)
        col_true.append(ct)
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    return {
        "psnr_ab_db": round(mean(psnrs), 3),
        "psnr_ab_baseline_db": round(mean(base_psnrs), 3),
        "psnr_ab_gain_db": round(mean(psnrs) - mean(base_psnrs), 3),
        "colourfulness": round(mean(col_pred), 2),
        "colourfulness_true": round(mean(col_true), 2),
        "colourfulness_baseline": 0.0,
        "heldout_photos": list(names),
        "working_size": working_size,
        "per_image": per,
    }


# ---- public ------------------------------------------------------------------------------------
def evaluate(model: str | Path, *, n_samples: int = 1000, seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Compute the metrics of ``model`` (a model folder, or a registry id with a local folder).

    A folder with ``AtoB/`` and ``BtoA/`` subfolders is evaluated as a translation pair. The
    returned dict has ``task``, ``model``, ``n_samples``, ``seed``, the task's metrics, and
    ``bars``: ``{metric: "PASS"/"FAIL"}`` against :data:`BARS`.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    folder = _resolve_folder(model)
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
            result = _eval_unconditional(G, kwargs, meta, n_samples, seed, device)
        elif task == "conditional":
            result = _eval_conditional(G, kwargs, meta, n_samples, seed, device)
        elif task == "multidomain":
            result = _eval_multidomain(G, kwargs, meta, n_samples, seed, device)
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
