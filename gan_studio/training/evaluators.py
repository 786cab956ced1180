"""Recipes that train the evaluation classifiers (``evaluator-digits``, ``evaluator-photo-sketch``,
``evaluator-digit-attributes``). They are deterministic for a seed and take a minute or two on CPU.

Train them into the folders :mod:`gan_studio.evaluation` reads::

    python -m gan_studio train evaluator-digits --out checkpoints/_evaluators/digits
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import data as D
from ..evaluation.classifiers import AttributeClassifier, DigitClassifier, DomainClassifier, save_evaluator
from .data import PatchSampler
from .loop import Recipe, Trainer

logger = logging.getLogger(__name__)


def random_affine(x: torch.Tensor, gen: torch.Generator, rot_deg: float = 10.0, shift: float = 0.08,
                  scale: tuple[float, float] = (0.9, 1.1), background: float = -1.0) -> torch.Tensor:
    """Small random rotations, shifts and zooms (padding with ``background``)."""
    n = x.shape[0]
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(rot_deg)
    s = scale[0] + torch.rand(n, generator=gen) * (scale[1] - scale[0])
    t = (torch.rand(n, 2, generator=gen) * 2 - 1) * shift * 2
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(ang) / s
    theta[:, 0, 1] = -torch.sin(ang) / s
    theta[:, 1, 0] = torch.sin(ang) / s
    theta[:, 1, 1] = torch.cos(ang) / s
    theta[:, :, 2] = t
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x - background, grid, padding_mode="zeros", align_corners=False) + background


def degrade(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random mild blur and noise (half the batch each), so classifiers judge content, not pixels."""
    n = x.shape[0]
    blur_mask = (torch.rand(n, 1, 1, 1, generator=gen) < 0.5).float()
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = blur_mask * blurred + (1 - blur_mask) * x
    noise_amp = (torch.rand(n, 1, 1, 1, generator=gen) < 0.5).float() * 0.05
    return (x + noise_amp * torch.randn(x.shape, generator=gen)).clamp(-1, 1)


class ClassifierTrainer(Trainer):
    """Supervised training of one evaluator with AdamW + cosine learning rate."""

    name = ""

    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        self.model = self.build().to(device)
        self.modules = {"model": self.model}
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=config["lr"], weight_decay=1e-4)
        self.optimizers = {"opt": self.opt}
        self.total_steps = int(config["schedule_steps"])

    def build(self) -> torch.nn.Module:
        raise NotImplementedError

    def kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def heldout(self) -> dict[str, Any]:
        raise NotImplementedError

    def train_step(self, step: int) -> dict[str, float]:
        lr = self.config["lr"] * 0.5 * (1 + math.cos(math.pi * min(step, self.total_steps) / self.total_steps))
        for g in self.opt.param_groups:
            g["lr"] = lr
        x, y = self.batch()
        loss = self.loss(self.model(x.to(self.device)), y.to(self.device))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
        self.opt.step()
        return {"loss": float(loss.detach()), "lr": lr}

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        import torchvision

        x, _ = self.batch()
        x = x[:32]
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        grid: torch.Tensor = torchvision.utils.make_grid((x + 1) / 2, nrow=8, padding=1)
        return grid

    def export(self, out_dir: Path) -> None:
        self.model.eval()
        metrics = self.heldout()
        logger.info("%s held-out: %s", self.name, metrics)
        card = (
            f"# evaluator `{self.name}`\n\n{type(self.model).__name__}, trained by "
            f"`python -m gan_studio train evaluator-{self.name} --out {out_dir}` (seed {self.seed}).\n\n"
            f"Held-out metrics: `{metrics}`\n"
        )
        save_evaluator(self.model.cpu(), self.name, out_dir, kwargs=self.kwargs(), metrics=metrics, card=card)


class DigitsEvaluatorTrainer(ClassifierTrainer):
    name = "digits"

    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        self.x, self.y = D.load_digits_32("train")
        super().__init__(config, device, seed)

    def build(self) -> torch.nn.Module:
        return DigitClassifier(**self.kwargs())

    def kwargs(self) -> dict[str, Any]:
        return {"width": int(self.config["width"]), "in_channels": 1, "num_classes": 10}

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, self.x.shape[0], (self.config["batch_size"],), generator=self.data_gen)
        x = degrade(random_affine(self.x[idx], self.data_gen), self.data_gen)
        return x, self.y[idx]

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, label_smoothing=0.05)

    @torch.no_grad()
    def heldout(self) -> dict[str, Any]:
        from ..evaluation.classifiers import predict

        x, y = D.load_digits_32("test")
        acc = float((predict(self.model.cpu(), x).argmax(1) == y).float().mean())
        return {"heldout_accuracy": round(acc, 4), "heldout_images": int(len(y)),
                "train_images": int(self.x.shape[0]), "split": "sklearn load_digits, stratified 80/20, random_state=0"}


class AttributesEvaluatorTrainer(ClassifierTrainer):
    name = "digit-attributes"

    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        self.x, _ = D.load_digits_32("train")
        super().__init__(config, device, seed)

    def build(self) -> torch.nn.Module:
        return AttributeClassifier(**self.kwargs())

    def kwargs(self) -> dict[str, Any]:
        return {"width": int(self.config["width"]), "in_channels": 3, "num_attributes": len(D.ATTRIBUTES)}

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.config["batch_size"]
        idx = torch.randint(0, self.x.shape[0], (n,), generator=self.data_gen)
        attrs = torch.randint(0, 2, (n, len(D.ATTRIBUTES)), generator=self.data_gen).float()
        base = random_affine(self.x[idx], self.data_gen, rot_deg=5.0, shift=0.05, scale=(0.95, 1.05))
        x = degrade(D.to_rgb(D.apply_attributes(base, attrs)), self.data_gen)
        return x, attrs

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, target)

    @torch.no_grad()
    def heldout(self) -> dict[str, Any]:
        from ..evaluation.classifiers import predict

        x, _ = D.load_digits_32("test")
        gen = torch.Generator().manual_seed(1234)
        attrs = torch.randint(0, 2, (x.shape[0], len(D.ATTRIBUTES)), generator=gen).float()
        pred = (predict(self.model.cpu(), D.to_rgb(D.apply_attributes(x, attrs))) > 0).float()
        per = (pred == attrs).float().mean(0)
        out: dict[str, Any] = {f"heldout_accuracy_{a}": round(float(v), 4) for a, v in zip(D.ATTRIBUTES, per)}
        out["heldout_accuracy"] = round(float(per.mean()), 4)
        out["heldout_images"] = int(x.shape[0])
        return out


class PhotoSketchEvaluatorTrainer(ClassifierTrainer):
    """Photo (0) vs pencil sketch (1) on the ``classifier`` strips of every bundled photo."""

    name = "photo-sketch"

    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        photos, sketches = [], []
        for name in D.PHOTOS:
            img = D.load_photo(name)
            sk = D.sketch_rgb(img)
            lo, hi = D.STRIPS["classifier"]
            w = img.shape[1]
            cols = slice(int(round(lo * w)), int(round(hi * w)))
            photos.append(D.to_tensor(img[:, cols]))
            sketches.append(D.to_tensor(sk[:, cols]))
        size = int(config["patch"])
        self.photos = PatchSampler(photos, size, scales=(0.5, 1.0))
        self.sketches = PatchSampler(sketches, size, scales=(0.5, 1.0))
        super().__init__(config, device, seed)

    def build(self) -> torch.nn.Module:
        return DomainClassifier(**self.kwargs())

    def kwargs(self) -> dict[str, Any]:
        return {"width": int(self.config["width"]), "stages": 4}

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        half = self.config["batch_size"] // 2
        x = torch.cat([self.photos.sample(half, self.data_gen), self.sketches.sample(half, self.data_gen)])
        y = torch.cat([torch.zeros(half), torch.ones(half)])
        return degrade(x, self.data_gen), y

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, target * 0.95 + 0.025)

    @torch.no_grad()
    def heldout(self) -> dict[str, Any]:
        from ..evaluation import TRANSLATION_CROP, translation_eval_images
        from ..evaluation.classifiers import predict

        photos, sketches = translation_eval_images()
        xp = torch.cat([D.grid_crops(p, TRANSLATION_CROP, TRANSLATION_CROP // 2) for p in photos])
        xs = torch.cat([D.grid_crops(s, TRANSLATION_CROP, TRANSLATION_CROP // 2) for s in sketches])
        model = self.model.cpu()
        acc_p = float((predict(model, xp) <= 0).float().mean())
        acc_s = float((predict(model, xs) > 0).float().mean())
        return {"heldout_accuracy": round((acc_p + acc_s) / 2, 4), "heldout_accuracy_photo": round(acc_p, 4),
                "heldout_accuracy_sketch": round(acc_s, 4), "heldout_crops": int(xp.shape[0] + xs.shape[0])}


EVALUATOR_RECIPES = {
    "evaluator-digits": Recipe(
        name="evaluator-digits", task="evaluator",
        description="digit classifier (10 classes) that scores the digits generators",
        trainer=DigitsEvaluatorTrainer,
        config={"lr": 2e-3, "batch_size": 64, "width": 32, "schedule_steps": 1500},
        steps=1500, tiny={"width": 4, "batch_size": 8, "schedule_steps": 4},
        sample_every=500, checkpoint_every=500, log_every=25,
    ),
    "evaluator-digit-attributes": Recipe(
        name="evaluator-digit-attributes", task="evaluator",
        description="multi-label classifier of the digit attributes thick / slanted / inverted",
        trainer=AttributesEvaluatorTrainer,
        config={"lr": 2e-3, "batch_size": 64, "width": 24, "schedule_steps": 600},
        steps=600, tiny={"width": 4, "batch_size": 8, "schedule_steps": 4},
        sample_every=200, checkpoint_every=200, log_every=25,
    ),
    "evaluator-photo-sketch": Recipe(
        name="evaluator-photo-sketch", task="evaluator",
        description="photo (domain A) vs pencil sketch (domain B) classifier",
        trainer=PhotoSketchEvaluatorTrainer,
        config={"lr": 2e-3, "batch_size": 32, "width": 16, "patch": 64, "schedule_steps": 1000},
        steps=1000, tiny={"width": 4, "batch_size": 4, "patch": 32, "schedule_steps": 4},
        sample_every=400, checkpoint_every=400, log_every=25,
    ),
}
