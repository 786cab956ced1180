"""``digits-wgan-gp``: a DCGAN generator trained on 32×32 digits with the WGAN-GP loss.

The recipe follows Gulrajani et al. 2017 ("Improved Training of Wasserstein GANs", Algorithm 1):
a critic without batch normalisation (a plain strided-convolution stack with leaky ReLUs, one
linear score), ``n_critic = 5`` critic updates per generator update, the gradient penalty
``λ·E[(‖∇D(x̂)‖₂ − 1)²]`` on random interpolates with ``λ = 10``, and Adam with ``lr = 1e-4``,
``betas = (0, 0.9)`` for both networks. The generator is the studio's ``dcgan`` architecture (the
same one ``digits-dcgan`` uses, so the two losses can be compared on one network); as in the
project's other digits recipes an exponential moving average of its weights is exported, with
its BatchNorm statistics re-estimated at the end.
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
from .digits_eval import digits_baselines, unconditional_evaluation_text
from .loop import Recipe, Trainer, ema_update, recalibrate_batchnorm
from .losses import gradient_penalty

logger = logging.getLogger(__name__)

__all__ = ["RECIPE", "WGANCritic", "WGANGPTrainer"]


class WGANCritic(nn.Module):
    """``D(x) -> scores (N,)``: the DCGAN discriminator without batch normalisation (WGAN-GP's critic).

    Args:
        nc: input channels.
        ndf: channels of the first convolution (doubled per halving).
        image_size: input side (a power of two >= 8); one stride-2 4×4 convolution per halving down
            to 4×4, then a 4×4 convolution to one score.
    """

    def __init__(self, nc: int = 1, ndf: int = 32, image_size: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch_in, ch, size = nc, ndf, image_size
        while size > 4:
            layers += [nn.Conv2d(ch_in, ch, 4, 2, 1), nn.LeakyReLU(0.2)]
            ch_in, ch, size = ch, ch * 2, size // 2
        layers.append(nn.Conv2d(ch_in, 1, 4, 1, 0))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.main(x)
        return out.flatten(1).squeeze(1)


class WGANGPTrainer(Trainer):
    """WGAN-GP on the 1,437 training digits (32×32); one :meth:`train_step` = ``n_critic`` critic
    updates and one generator update."""

    model_id = "digits-wgan-gp"

    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        from ..architectures import build_architecture

        self.x, _ = D.load_digits_32("train")
        self.arch = "dcgan"
        self.g_kwargs: dict[str, Any] = {"nz": config["nz"], "ngf": config["ngf"], "nc": 1, "image_size": D.DIGIT_SIZE}
        self.G = build_architecture(self.arch, self.g_kwargs).to(device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.D = WGANCritic(nc=1, ndf=config["ndf"], image_size=D.DIGIT_SIZE).to(device)
        betas = tuple(config["betas"])
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config["lr"], betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config["lr"], betas=betas)
        self.modules = {"G": self.G, "G_ema": self.G_ema, "D": self.D}
        self.optimizers = {"G": self.opt_g, "D": self.opt_d}
        self.fixed_z = torch.randn(80, config["nz"], generator=torch.Generator().manual_seed(seed + 2))

    def _real_and_z(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.config["batch_size"]
        idx = torch.randint(0, self.x.shape[0], (n,), generator=self.data_gen)
        z = torch.randn(n, self.config["nz"], generator=self.data_gen)
        return self.x[idx].to(self.device), z.to(self.device)

    def train_step(self, step: int) -> dict[str, float]:
        c = self.config
        self.G.requires_grad_(False)
        w_dist = gp = torch.zeros(())
        for _ in range(int(c["n_critic"])):
            real, z = self._real_and_z()
            with torch.no_grad():
                fake = self.G(z)
            w_dist = self.D(real).mean() - self.D(fake).mean()
            gp = gradient_penalty(self.D, real, fake, generator=self.data_gen)
            loss_d = -w_dist + c["gp_lambda"] * gp
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        self.G.requires_grad_(True)

        self.D.requires_grad_(False)
        _, z = self._real_and_z()
        loss_g = -self.D(self.G(z)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        ema_update(self.G_ema, self.G, c["ema_decay"] if step >= c["ema_start"] else 0.0)
        return {"w_distance": float(w_dist.detach()), "gp": float(gp.detach()), "loss_g": float(loss_g.detach())}

    def recalibrate_bn(self, G: nn.Module, batches: int = 50) -> None:
        """Re-estimate the EMA generator's BatchNorm statistics (cumulative average over ``batches``)."""
        recalibrate_batchnorm(
            G, lambda gen: G(torch.randn(self.config["batch_size"], self.config["nz"], generator=gen).to(self.device)),
            batches, self.seed + 3)

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        import torchvision

        G = copy.deepcopy(self.G_ema)
        self.recalibrate_bn(G, batches=10)
        x = G(self.fixed_z.to(self.device)).cpu()
        grid = torchvision.utils.make_grid((x + 1) / 2, nrow=10, padding=2, pad_value=0.5)
        return F.interpolate(grid[None], scale_factor=2, mode="nearest")[0]

    def export(self, out_dir: Path) -> None:
        self.recalibrate_bn(self.G_ema)
        c = self.config
        model_id = self.model_id
        meta: dict[str, Any] = {
            "task": "unconditional", "image_size": D.DIGIT_SIZE, "channels": 1, "labels": [], "exclusive": [],
            "license": cards.MODEL_LICENSE,
            "description": "Unconditional 32×32 handwritten digits from a DCGAN generator trained with the WGAN-GP "
                           "loss on scikit-learn's digits",
            "recipe": model_id,
        }
        techniques = [
            f"Wasserstein loss with gradient penalty, λ={c['gp_lambda']}, on random real/fake interpolates "
            "(Gulrajani et al. 2017)",
            f"critic without batch normalisation (strided 4×4 convolutions, leaky ReLU 0.2, ndf={c['ndf']})",
            f"n_critic={c['n_critic']} critic updates per generator update; Adam lr={c['lr']}, betas={tuple(c['betas'])} "
            "for both networks",
            f"EMA of the generator weights (decay {c['ema_decay']}, from step {c['ema_start']}); "
            "BatchNorm statistics of the EMA generator re-estimated after training",
        ]
        baselines = digits_baselines(self.arch, self.g_kwargs, n=int(c["eval_samples"]), seed=self.seed)

        def card(metrics: dict[str, Any]) -> str:
            return cards.card_text(
                title=model_id, model_id=model_id, task="unconditional",
                summary=meta["description"] + f". Call `G(z)` with z ~ N(0, I) of size {c['nz']}. One step of the "
                        f"recipe is {c['n_critic']} critic updates and one generator update.",
                data=cards.DIGITS_DATA,
                data_licenses=["CC-BY-4.0 (UCI optdigits)", "BSD-3-Clause (scikit-learn)"],
                recipe=model_id, techniques=techniques, architecture=self.arch, kwargs=self.g_kwargs,
                metrics=metrics, evaluation=unconditional_evaluation_text(metrics, baselines),
                images=[("samples (EMA generator, fixed seeds)", "samples.png")],
                steps=self.steps_done, seed=self.seed,
            )

        cards.export_and_evaluate({"": (self.G_ema, self.arch, self.g_kwargs, meta)}, out_dir,
                                  eval_samples=int(c["eval_samples"]), make_card=card, extra_metrics={"baselines": baselines})


RECIPE = Recipe(
    name="digits-wgan-gp", task="unconditional",
    description="DCGAN generator with the WGAN-GP loss (critic without BN, λ=10, n_critic=5) on 32×32 digits",
    trainer=WGANGPTrainer,
    config={"nz": 64, "ngf": 32, "ndf": 16, "batch_size": 32, "lr": 1e-4, "betas": [0.0, 0.9], "n_critic": 5,
            "gp_lambda": 10.0, "ema_decay": 0.999, "ema_start": 500, "eval_samples": 1000},
    steps=2000,
    tiny={"ngf": 4, "ndf": 4, "batch_size": 4, "nz": 8, "n_critic": 2, "ema_start": 0, "eval_samples": 20,
          "log_every": 1, "checkpoint_every": 1, "sample_every": 1000},
    sample_every=500, checkpoint_every=100, log_every=20,
)
