"""``digits-progan``: a progressively grown ``pggan`` generator on the training digits (4 → 32 px).

The recipe is a thin wrapper around :class:`gan_studio.training.progressive.ProgressiveGAN` (the
schedule, fade-in, discriminator and losses are documented there): the 1,437 training digits at
32×32 in [-1, 1], resolutions 4, 8, 16, 32, half of every later phase fading the new resolution in,
WGAN-GP + drift, minibatch standard deviation, the EMA generator exported at full resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import data as D
from . import cards
from .digits_eval import digits_baselines, unconditional_evaluation_text
from .loop import Recipe, Trainer
from .progressive import ProgressiveConfig, ProgressiveGAN, ProgressiveSchedule

logger = logging.getLogger(__name__)

__all__ = ["RECIPE", "DigitsProGANTrainer"]

MODEL_ID = "digits-progan"


class DigitsProGANTrainer(Trainer):
    """The loop's view of a :class:`ProgressiveGAN` on the training digits (step ``i`` of the loop is
    step ``i`` of the schedule)."""

    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        x, _ = D.load_digits_32("train")
        self.schedule = ProgressiveSchedule(config["resolutions"], list(config["steps_per_phase"]),
                                            float(config["fade_fraction"]))
        self.gan_config = ProgressiveConfig.from_mapping(config)
        self.gan = ProgressiveGAN(x, self.schedule, self.gan_config, device=device, seed=seed)
        self.modules = {"G": self.gan.G, "G_ema": self.gan.G_ema, "D": self.gan.D}
        self.optimizers = {"G": self.gan.opt_g, "D": self.gan.opt_d}

    def train_step(self, step: int) -> dict[str, float]:
        self.gan.step_count = step
        return self.gan.step()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "progressive": self.gan.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.gan.load_state_dict(state["progressive"])

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        import torchvision

        x = self.gan.sample(list(range(80)))
        grid = torchvision.utils.make_grid((x + 1) / 2, nrow=10, padding=2, pad_value=0.5)
        return F.interpolate(grid[None], scale_factor=2, mode="nearest")[0]

    def export(self, out_dir: Path) -> None:
        c = self.config
        G, arch, kwargs = self.gan.export_generator()
        meta: dict[str, Any] = {
            "task": "unconditional", "image_size": D.DIGIT_SIZE, "channels": 1, "labels": [], "exclusive": [],
            "license": cards.MODEL_LICENSE,
            "description": "Unconditional 32×32 handwritten digits from a progressively grown ProGAN generator "
                           "(4 → 8 → 16 → 32 px), trained on scikit-learn's digits",
            "recipe": MODEL_ID,
        }
        phases = ", ".join(f"{p.resolution} px: {p.steps} steps ({p.fade_steps} fading in)" for p in self.schedule.phases)
        g = self.gan_config
        techniques = [
            f"progressive growing with fade-in (Karras et al. 2018): {phases}; the generator's `lod` buffer carries "
            "the blend of the new block's ToRGB with the upsampled image of the block before, the discriminator "
            "blends its new FromRGB block the same way, and the reals are blended with their 2× coarser version",
            f"WGAN-GP loss (λ={g.gp_lambda}, Gulrajani et al. 2017) plus the drift term ε·E[D(x)²], ε={g.drift}, "
            f"n_critic={g.n_critic}",
            "equalised learning rate and pixel-wise feature normalisation in the generator (the `pggan` "
            "architecture's own), equalised learning rate in the discriminator, no batch normalisation",
            f"minibatch standard deviation before the discriminator's last block (group size {g.mbstd_group})",
            f"Adam lr={g.lr}, betas={g.betas}, eps={g.eps}, batch {g.batch_size}; EMA of the generator weights "
            f"(decay {g.ema_decay}"
            + (", warm-up min(decay, (1 + t)/(10 + t)) restarted at each phase, t = steps into the phase" if g.ema_phase_warmup else "")
            + "), exported at full resolution (lod 0)",
        ]
        baselines = digits_baselines(arch, kwargs, n=int(c["eval_samples"]), seed=self.seed)

        def card(metrics: dict[str, Any]) -> str:
            return cards.card_text(
                title=MODEL_ID, model_id=MODEL_ID, task="unconditional",
                summary=meta["description"] + f". Call `G(z)` with z ~ N(0, I) of size {g.z_dim}. The trainer, "
                        "`gan_studio.training.progressive`, also trains on user images.",
                data=cards.DIGITS_DATA,
                data_licenses=["CC-BY-4.0 (UCI optdigits)", "BSD-3-Clause (scikit-learn)"],
                recipe=MODEL_ID, techniques=techniques, architecture=arch, kwargs=kwargs,
                metrics=metrics, evaluation=unconditional_evaluation_text(metrics, baselines),
                images=[("samples (EMA generator, seeds 0–79)", "samples.png")],
                steps=self.steps_done, seed=self.seed,
            )

        cards.export_and_evaluate({"": (G, arch, kwargs, meta)}, out_dir, eval_samples=int(c["eval_samples"]),
                                  make_card=card, extra_metrics={"baselines": baselines})


_STEPS = [600, 800, 1000, 1200]

RECIPE = Recipe(
    name=MODEL_ID, task="unconditional",
    description="ProGAN (pggan) grown 4 → 32 px with fade-in, WGAN-GP + drift, minibatch stddev, on 32×32 digits",
    trainer=DigitsProGANTrainer,
    config={"resolutions": [4, 8, 16, 32], "steps_per_phase": _STEPS, "fade_fraction": 0.5,
            **ProgressiveConfig(z_dim=64, fmaps_base=256, fmaps_max=32, batch_size=16).to_dict(),
            "eval_samples": 1000},
    steps=sum(_STEPS),
    tiny={"steps_per_phase": [1, 2, 2, 2], "z_dim": 8, "fmaps_base": 64, "fmaps_max": 8, "batch_size": 4,
          "eval_samples": 20, "log_every": 1, "checkpoint_every": 1, "sample_every": 1000},
    sample_every=600, checkpoint_every=100, log_every=20,
)
