"""Digits generators: ``digits-dcgan`` (unconditional DCGAN) and ``digits-cgan`` (class-conditional).

Both train a DCGAN-style generator on the 1,437 training digits (32×32) against a small
spectral-normalised discriminator with the hinge loss, TTUR learning rates, DiffAugment
(translation + cutout) on real and fake images, and an exponential moving average of the
generator's weights (the EMA generator is the one exported; its BatchNorm statistics are
re-estimated at the end). The conditional discriminator is a projection discriminator with an
auxiliary classification head (AC-GAN-style term) on top.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import data as D
from . import cards
from .discriminators import DigitsDiscriminator
from .loop import Recipe, Trainer, ema_update, recalibrate_batchnorm
from .losses import d_hinge, diff_augment, g_hinge

logger = logging.getLogger(__name__)

DIGIT_LABELS = [str(i) for i in range(10)]


class DigitsGANTrainer(Trainer):
    """Hinge-loss GAN on 32×32 digits; conditional when ``config["conditional"]``."""

    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        from ..architectures import build_architecture

        self.conditional = bool(config["conditional"])
        self.x, self.y = D.load_digits_32("train")
        self.arch = "conditional_dcgan" if self.conditional else "dcgan"
        self.g_kwargs: dict[str, Any] = {"nz": config["nz"], "ngf": config["ngf"], "nc": 1, "image_size": D.DIGIT_SIZE}
        if self.conditional:
            self.g_kwargs.update(num_classes=10, embed_dim=config["embed_dim"])
        self.G = build_architecture(self.arch, self.g_kwargs).to(device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.D = DigitsDiscriminator(nc=1, ndf=config["ndf"], num_classes=10 if self.conditional else 0).to(device)
        self.aux = nn.Linear(self.D.out_channels, 10).to(device) if self.conditional and config["aux_weight"] > 0 else None
        d_params = list(self.D.parameters()) + (list(self.aux.parameters()) if self.aux is not None else [])
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config["lr_g"], betas=tuple(config["betas"]))
        self.opt_d = torch.optim.Adam(d_params, lr=config["lr_d"], betas=tuple(config["betas"]))
        self.modules = {"G": self.G, "G_ema": self.G_ema, "D": self.D}
        if self.aux is not None:
            self.modules["aux"] = self.aux
        self.optimizers = {"G": self.opt_g, "D": self.opt_d}
        fixed = torch.Generator().manual_seed(seed + 2)
        self.fixed_z = torch.randn(80, config["nz"], generator=fixed)
        self.fixed_y = torch.arange(80) % 10

    def _d(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = diff_augment(x, self.data_gen, translation=self.config["aug_translation"], cutout=self.config["aug_cutout"])
        if self.aux is None:
            return self.D(x, y if self.conditional else None), None
        h = self.D.features(x).sum(dim=(2, 3))
        embed = self.D.embed
        assert embed is not None  # aux exists only beside a conditional D
        logits = self.D.linear(h).squeeze(1) + (embed(y) * h).sum(dim=1)
        return logits, self.aux(h)

    def train_step(self, step: int) -> dict[str, float]:
        c = self.config
        n = c["batch_size"]
        idx = torch.randint(0, self.x.shape[0], (n,), generator=self.data_gen)
        real, y = self.x[idx].to(self.device), self.y[idx].to(self.device)
        z = torch.randn(n, c["nz"], generator=self.data_gen).to(self.device)
        y_fake = torch.randint(0, 10, (n,), generator=self.data_gen).to(self.device)
        fake = self.G(z, y_fake) if self.conditional else self.G(z)

        real_logits, real_cls = self._d(real, y)
        fake_logits, _ = self._d(fake.detach(), y_fake)
        loss_d = d_hinge(real_logits, fake_logits)
        out = {"loss_d": float(loss_d.detach())}
        if real_cls is not None:
            cls_d = F.cross_entropy(real_cls, y)
            loss_d = loss_d + c["aux_weight"] * cls_d
            out["cls_d"] = float(cls_d.detach())
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
        self.opt_d.step()

        fake_logits, fake_cls = self._d(fake, y_fake)
        loss_g = g_hinge(fake_logits)
        out["loss_g"] = float(loss_g.detach())
        if fake_cls is not None:
            cls_g = F.cross_entropy(fake_cls, y_fake)
            loss_g = loss_g + c["aux_weight"] * cls_g
            out["cls_g"] = float(cls_g.detach())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
        self.opt_g.step()
        decay = c["ema_decay"] if step >= c["ema_start"] else 0.0
        ema_update(self.G_ema, self.G, decay)
        return out

    def _generate(self, G: nn.Module, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        images: torch.Tensor = G(z.to(self.device), y.to(self.device)) if self.conditional else G(z.to(self.device))
        return images

    def recalibrate_bn(self, G: nn.Module, batches: int = 50) -> None:
        """Re-estimate the EMA generator's BatchNorm statistics (cumulative average)."""

        def run_batch(gen: torch.Generator) -> None:
            z = torch.randn(self.config["batch_size"], self.config["nz"], generator=gen)
            self._generate(G, z, torch.randint(0, 10, (z.shape[0],), generator=gen))

        recalibrate_batchnorm(G, run_batch, batches, self.seed + 3)

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        import torchvision

        G = copy.deepcopy(self.G_ema)
        self.recalibrate_bn(G, batches=10)
        x = self._generate(G, self.fixed_z, self.fixed_y).cpu()
        grid = torchvision.utils.make_grid((x + 1) / 2, nrow=10, padding=2, pad_value=0.5)
        return F.interpolate(grid[None], scale_factor=2, mode="nearest")[0]

    def export(self, out_dir: Path) -> None:
        self.recalibrate_bn(self.G_ema)
        c = self.config
        task = "conditional" if self.conditional else "unconditional"
        model_id = "digits-cgan" if self.conditional else "digits-dcgan"
        meta: dict[str, Any] = {
            "task": task,
            "image_size": D.DIGIT_SIZE,
            "channels": 1,
            "labels": DIGIT_LABELS if self.conditional else [],
            "exclusive": [],
            "license": cards.MODEL_LICENSE,
            "description": (
                "Class-conditional 32×32 handwritten digits (choose 0–9), trained on scikit-learn's digits"
                if self.conditional else "Unconditional 32×32 handwritten digits, trained on scikit-learn's digits"
            ),
            "recipe": model_id,
        }
        techniques = [
            "hinge loss (Lim & Ye 2017)",
            "spectral normalisation on every discriminator layer (Miyato et al. 2018)",
            f"TTUR: Adam lr_G={c['lr_g']}, lr_D={c['lr_d']}, betas={tuple(c['betas'])} (Heusel et al. 2017)",
            f"DiffAugment (translation {c['aug_translation']}, cutout {c['aug_cutout']}) on real and fake images (Zhao et al. 2020)",
            f"EMA of the generator weights (decay {c['ema_decay']}, from step {c['ema_start']}); "
            "BatchNorm statistics of the EMA generator re-estimated after training",
        ]
        if self.conditional:
            techniques.insert(2, "projection discriminator (Miyato & Koyama 2018)")
            if self.aux is not None:
                techniques.insert(3, f"auxiliary classifier on the discriminator features (AC-GAN term, weight {c['aux_weight']})")
        evaluation = (
            "A small CNN digit classifier (`checkpoints/_evaluators/digits`, trained on the same 1,437 training "
            "digits with augmentation; its accuracy on the 360 held-out digits is in the table; `confident_share` is the "
            "share of samples it classifies with probability >= 0.9) classifies "
            + ("1,000 samples, 100 per requested class; `class_accuracy` is the share classified as the requested class."
               if self.conditional else
               "1,000 samples; the class histogram, its entropy (max ln 10 = 2.303 nats) and the number of classes present "
               "measure mode coverage. Memorisation: pixel-space nearest-neighbour distance of each sample to the training "
               "set vs. each training image's distance to its nearest other training image (`nn_ratio` ≈ 1 means samples "
               "are as novel as the training digits are from one another); `near_copy_share` counts samples closer than "
               "half the train↔train median.")
        )
        steps = self.steps_done

        def card(metrics: dict[str, Any]) -> str:
            return cards.card_text(
                title=model_id,
                model_id=model_id,
                task=task,
                summary=meta["description"] + ". " + (
                    "Call `G(z, labels)` with z ~ N(0, I) of size "
                    f"{c['nz']} and int labels 0–9." if self.conditional else f"Call `G(z)` with z ~ N(0, I) of size {c['nz']}."),
                data=cards.DIGITS_DATA,
                data_licenses=["CC-BY-4.0 (UCI optdigits)", "BSD-3-Clause (scikit-learn)"],
                recipe=model_id,
                techniques=techniques,
                architecture=self.arch,
                kwargs=self.g_kwargs,
                metrics=metrics,
                evaluation=evaluation,
                extra=("" if self.conditional else
                       "\n### Limitations\n\nThe training digits are 8×8 images upscaled to 32×32, so samples are soft. "
                       "Unconditional samples cover all ten digits evenly, but many are ambiguous: `confident_share` (the "
                       "share the digit classifier labels with probability >= 0.9) is far below the 0.90 of real held-out "
                       "digits. For clean digits of a chosen class use `digits-cgan`.\n"),
                images=[("samples (EMA generator, fixed seeds" + (", one class per column)" if self.conditional else ")"), "samples.png")],
                steps=steps,
                seed=self.seed,
            )

        cards.export_and_evaluate({"": (self.G_ema, self.arch, self.g_kwargs, meta)}, out_dir,
                                  eval_samples=c["eval_samples"], make_card=card)


_COMMON = {
    "nz": 64, "ngf": 32, "ndf": 48, "batch_size": 32, "lr_g": 2e-4, "lr_d": 4e-4, "betas": [0.0, 0.9],
    "aug_translation": 0.125, "aug_cutout": 0.25, "ema_decay": 0.999, "ema_start": 500, "eval_samples": 1000,
}
_TINY = {"ngf": 4, "ndf": 4, "batch_size": 4, "nz": 8, "ema_start": 0, "eval_samples": 20,
         "log_every": 1, "checkpoint_every": 1, "sample_every": 1000}

RECIPE_UNCONDITIONAL = Recipe(
    name="digits-dcgan", task="unconditional",
    description="unconditional DCGAN on 32×32 digits",
    trainer=DigitsGANTrainer,
    config={**_COMMON, "conditional": False},
    steps=4000, tiny=_TINY, sample_every=1000, checkpoint_every=500, log_every=20,
)

RECIPE_CONDITIONAL = Recipe(
    name="digits-cgan", task="conditional",
    description="class-conditional DCGAN (projection D + auxiliary classifier) on 32×32 digits",
    trainer=DigitsGANTrainer,
    config={**_COMMON, "conditional": True, "embed_dim": 16, "aux_weight": 0.2},
    steps=4000, tiny={**_TINY, "embed_dim": 4}, sample_every=1000, checkpoint_every=500, log_every=20,
)
