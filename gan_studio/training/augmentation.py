"""Does synthetic data help? The k-shot digits experiment behind docs/augmentation.md.

One command reproduces it (seeded; ~40 min on one CPU thread with the default budget)::

    python -m gan_studio.training.augmentation --out docs/augmentation

For each k in ``--k`` (real training digits per class, drawn from the 1,437 training digits with
the run's seed) and each seed, the same small CNN (:class:`~gan_studio.evaluation.classifiers.
DigitClassifier`, width 16) is trained for the same number of steps on:

* ``real``: the k·10 real digits alone;
* ``real+classical``: the same, with random rotations, shifts and zooms (the classical augmentation);
* ``real+cgan-kshot``: the real digits plus samples of a class-conditional GAN trained **only on
  those k·10 digits** (the digits-cgan recipe, shortened: ``--gan-steps``) — the honest k-shot setting;
* ``real+cgan-full``: the real digits plus samples of the embedded ``digits-cgan``, which saw all
  1,437 training digits: **not k-shot** (the generator had more real data than the classifier), an
  upper bound of what a good generator adds;
* ``real+diffusion-full``: the same with the embedded ``digits-diffusion`` (also trained on all
  training digits; not k-shot).

Synthetic batches are mixed 50/50 with real ones. Accuracy is measured on the 360 held-out test
digits, which no model (classifier, GAN, diffusion) ever saw. The output is ``results.json``
(every run), ``results.md`` (mean ± std per setting) and ``accuracy.png`` (a plot, drawn with PIL).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import data as D
from ..evaluation.classifiers import DigitClassifier
from .evaluators import random_affine

logger = logging.getLogger(__name__)

__all__ = ["SETTINGS", "kshot_subset", "run_experiment", "train_classifier"]

SETTINGS = ("real", "real+classical", "real+cgan-kshot", "real+cgan-full", "real+diffusion-full")
SYNTHETIC_PER_CLASS = 60


def kshot_subset(k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """k training digits per class (32×32 in [-1, 1]) and their labels, chosen with ``seed``."""
    x, y = D.load_digits_32("train")
    gen = torch.Generator().manual_seed(10_000 + seed)
    idx = []
    for c in range(10):
        members = (y == c).nonzero().flatten()
        if len(members) < k:
            raise ValueError(f"k={k} is more than the {len(members)} training digits of class {c}")
        idx.append(members[torch.randperm(len(members), generator=gen)[:k]])
    chosen = torch.cat(idx)
    return x[chosen], y[chosen]


def train_classifier(x: torch.Tensor, y: torch.Tensor, *, seed: int, steps: int = 200, batch_size: int = 64,
                     classical: bool = False, synthetic: tuple[torch.Tensor, torch.Tensor] | None = None) -> DigitClassifier:
    """Train a fresh width-16 digit CNN; with ``synthetic``, half of each batch is synthetic."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 7)
    clf = DigitClassifier(width=16)
    opt = torch.optim.AdamW(clf.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    clf.train()
    for _ in range(steps):
        n_real = batch_size // 2 if synthetic is not None else batch_size
        idx = torch.randint(0, len(x), (n_real,), generator=gen)
        xb, yb = x[idx], y[idx]
        if synthetic is not None:
            sx, sy = synthetic
            sidx = torch.randint(0, len(sx), (batch_size - n_real,), generator=gen)
            xb, yb = torch.cat([xb, sx[sidx]]), torch.cat([yb, sy[sidx]])
        if classical:
            xb = random_affine(xb, gen)
        loss = F.cross_entropy(clf(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
        opt.step()
        sched.step()
    return clf.eval()


@torch.no_grad()
def accuracy(clf: DigitClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((clf(x).argmax(1) == y).float().mean())


def _labels() -> torch.Tensor:
    return torch.arange(10).repeat_interleave(SYNTHETIC_PER_CLASS)


@torch.no_grad()
def sample_folder_model(folder: Path, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SYNTHETIC_PER_CLASS samples per class of an embedded conditional model folder."""
    from ..evaluation import load_folder

    G, kwargs, meta = load_folder(folder)
    y = _labels()
    gen = torch.Generator().manual_seed(seed)
    nz = int(kwargs.get("nz") or meta.get("latent_dim") or 0)
    outs = []
    for start in range(0, len(y), 100):
        yy = y[start:start + 100]
        if nz:
            z = torch.randn(len(yy), nz, generator=gen)
            outs.append(G(z, yy).clamp(-1, 1))
        else:  # a diffusion sampler: G(z, labels, steps=k) with z the initial noise
            size = int(meta.get("image_size", 32))
            z = torch.randn(len(yy), 1, size, size, generator=gen)
            outs.append(G(z, yy, steps=int(meta.get("default_steps", 25))).clamp(-1, 1))
    return torch.cat(outs), y


def train_kshot_cgan(x: torch.Tensor, y: torch.Tensor, *, seed: int, steps: int) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """The digits-cgan recipe trained only on ``(x, y)``; returns a sampler of labelled digits."""
    import copy

    from .digits_gan import RECIPE_CONDITIONAL, DigitsGANTrainer

    trainer = DigitsGANTrainer(RECIPE_CONDITIONAL.config, torch.device("cpu"), seed)
    trainer.x, trainer.y = x, y  # the k-shot subset, nothing else
    for step in range(steps):
        trainer.train_step(step)
    G = copy.deepcopy(trainer.G_ema)
    trainer.recalibrate_bn(G)

    @torch.no_grad()
    def sample() -> tuple[torch.Tensor, torch.Tensor]:
        labels = _labels()
        z = torch.randn(len(labels), int(RECIPE_CONDITIONAL.config["nz"]), generator=torch.Generator().manual_seed(seed))
        return G(z, labels).clamp(-1, 1), labels

    return sample


def run_experiment(out: Path, *, ks: Sequence[int] = (5, 10, 20, 50), seeds: Sequence[int] = (0, 1, 2),
                   steps: int = 200, gan_steps: int = 600, gan_seeds: int = 1,
                   settings: Sequence[str] = SETTINGS) -> dict[str, Any]:
    """Run every (k, seed, setting); write results.json, results.md and accuracy.png to ``out``."""
    from ..paths import CHECKPOINTS_DIR

    out.mkdir(parents=True, exist_ok=True)
    test_x, test_y = D.load_digits_32("test")
    full: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    if "real+cgan-full" in settings:
        full["real+cgan-full"] = sample_folder_model(CHECKPOINTS_DIR / "digits-cgan", 1)
    if "real+diffusion-full" in settings:
        full["real+diffusion-full"] = sample_folder_model(CHECKPOINTS_DIR / "digits-diffusion", 1)
    runs: list[dict[str, Any]] = []
    started = time.time()
    for k in ks:
        for seed in seeds:
            x, y = kshot_subset(k, seed)
            for setting in settings:
                synthetic = None
                if setting == "real+cgan-kshot":
                    if seed >= gan_seeds:
                        continue  # k-shot GANs are trained for the first gan_seeds subsets only (CPU budget)
                    t0 = time.time()
                    synthetic = train_kshot_cgan(x, y, seed=seed, steps=gan_steps)()
                    logger.info("k=%d seed=%d: k-shot cGAN trained in %.0f s", k, seed, time.time() - t0)
                elif setting in full:
                    synthetic = full[setting]
                clf = train_classifier(x, y, seed=seed, steps=steps, classical=setting == "real+classical",
                                       synthetic=synthetic)
                acc = accuracy(clf, test_x, test_y)
                runs.append({"k": k, "seed": seed, "setting": setting, "test_accuracy": round(acc, 4)})
                logger.info("k=%d seed=%d %-20s %.4f (%.0f s)", k, seed, setting, acc, time.time() - started)
                (out / "results.json").write_text(json.dumps({"runs": runs}, indent=1))
    summary = summarise(runs, ks, settings)
    meta = {"classifier_steps": steps, "gan_steps": gan_steps, "seeds": list(seeds), "gan_seeds": gan_seeds,
            "synthetic_per_class": SYNTHETIC_PER_CLASS, "test_digits": int(len(test_y)),
            "minutes": round((time.time() - started) / 60, 1)}
    (out / "results.json").write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=1))
    (out / "results.md").write_text(markdown_table(summary, ks, settings))
    plot(summary, ks, settings).save(out / "accuracy.png")
    return {"meta": meta, "summary": summary, "runs": runs}


def summarise(runs: list[dict[str, Any]], ks: Sequence[int], settings: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for setting in settings:
        for k in ks:
            accs = torch.tensor([r["test_accuracy"] for r in runs if r["k"] == k and r["setting"] == setting])
            if len(accs):
                out.setdefault(setting, {})[str(k)] = {
                    "mean": round(float(accs.mean()), 4),
                    "std": round(float(accs.std()), 4) if len(accs) > 1 else 0.0, "n": int(len(accs))}
    return out


def markdown_table(summary: dict[str, dict[str, Any]], ks: Sequence[int], settings: Sequence[str]) -> str:
    lines = ["| setting | " + " | ".join(f"k = {k}" for k in ks) + " |", "|---|" + "---|" * len(ks)]
    for setting in settings:
        cells = []
        for k in ks:
            cell = summary.get(setting, {}).get(str(k))
            cells.append("—" if cell is None else f"{100 * cell['mean']:.1f} ± {100 * cell['std']:.1f} (n={cell['n']})")
        lines.append(f"| {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(summary: dict[str, dict[str, Any]], ks: Sequence[int], settings: Sequence[str]) -> Any:
    """Test accuracy against k (log axis), one line per setting, with ±1 std bars (PIL only)."""
    import math

    from PIL import Image, ImageDraw

    w, h, left, right, top, bottom = 720, 420, 60, 220, 20, 50
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    lo = min((c["mean"] - c["std"] for s in summary.values() for c in s.values()), default=0.0)
    lo = max(0.0, math.floor(lo * 10) / 10)

    def xy(k: int, acc: float) -> tuple[float, float]:
        fx = (math.log(k) - math.log(min(ks))) / max(math.log(max(ks)) - math.log(min(ks)), 1e-9)
        return left + fx * (w - left - right), top + (1 - (acc - lo) / (1 - lo)) * (h - top - bottom)

    d.line([(left, top), (left, h - bottom), (w - right, h - bottom)], fill="black")
    for k in ks:
        x, _ = xy(k, lo)
        d.text((x - 8, h - bottom + 6), f"k={k}", fill="black")
    for tick in range(int(lo * 10), 11):
        _, y = xy(min(ks), tick / 10)
        d.line([(left - 4, y), (left, y)], fill="black")
        d.text((8, y - 6), f"{tick * 10}%", fill="black")
    colours = ["#444444", "#1f77b4", "#d62728", "#ff7f0e", "#2ca02c"]
    for i, setting in enumerate(settings):
        pts = [(k, summary[setting][str(k)]) for k in ks if str(k) in summary.get(setting, {})]
        colour = colours[i % len(colours)]
        for (k, c) in pts:
            x, y0 = xy(k, c["mean"] - c["std"])
            _, y1 = xy(k, c["mean"] + c["std"])
            d.line([(x, y0), (x, y1)], fill=colour)
        d.line([xy(k, c["mean"]) for k, c in pts], fill=colour, width=2) if len(pts) > 1 else None
        d.text((w - right + 10, top + 18 * i), setting, fill=colour)
    d.text((left, h - 20), "test accuracy on the 360 held-out digits vs real digits per class", fill="black")
    return img


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gan_studio.training.augmentation",
                                     description="The k-shot digits augmentation experiment (docs/augmentation.md).")
    parser.add_argument("--out", default="docs/augmentation", help="output folder (default docs/augmentation)")
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20, 50], help="real digits per class")
    parser.add_argument("--seeds", type=int, default=3, help="subsets/classifier seeds per k (default 3)")
    parser.add_argument("--steps", type=int, default=200, help="classifier training steps (default 200)")
    parser.add_argument("--gan-steps", type=int, default=600, help="k-shot cGAN training steps (default 600)")
    parser.add_argument("--gan-seeds", type=int, default=1, help="subsets that get a k-shot cGAN (default 1)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    run_experiment(Path(args.out), ks=args.k, seeds=range(args.seeds), steps=args.steps, gan_steps=args.gan_steps,
                   gan_seeds=args.gan_seeds, settings=args.settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
