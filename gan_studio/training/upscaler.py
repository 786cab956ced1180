"""``photo-upscaler-x4``: a small SRVGGNetCompact (×4) trained on crops of the bundled images.

Training images: the bundled colour photos except the held-out
:data:`gan_studio.evaluation.UPSCALE_HELDOUT`, and the detail images
(:data:`gan_studio.data.DETAIL_IMAGES`: CC0 textures, text, coins, a retina, the Hubble deep field),
which teach fine structure. Two stages:

1. **clean** (``clean_steps``): the low-resolution inputs are plain antialiased bicubic ×4 downscales,
   so the network first learns to enlarge (from scratch it otherwise learns to smooth, and stayed
   below bicubic interpolation on clean inputs);
2. **restore** (to ``total_steps``): a share ``clean_share`` of each batch stays clean, the rest is
   made by a degradation model in the manner of Real-ESRGAN (Wang et al., 2021): blur (random
   anisotropic Gaussian kernels), random resize (area, bilinear or bicubic), Gaussian noise (colour or
   grey) and JPEG compression — a second such round with probability ``second_order`` — then the ×4
   downscale and a last JPEG, at a lower learning rate.

The loss is L1 on the output (no perceptual or GAN terms); an EMA of the weights is exported.
:func:`~gan_studio.evaluation.degradation.degrade` (the degradation model) lives with the evaluation,
whose protocol uses it with a fixed seed to make its degraded held-out inputs.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import data as D
from ..evaluation.degradation import SCALE, bicubic_down, degrade
from . import cards
from .data import PatchSampler
from .loop import Recipe, Trainer, ema_update, save_grid

logger = logging.getLogger(__name__)


def _train_photos() -> tuple[str, ...]:
    from ..evaluation import UPSCALE_HELDOUT

    return tuple(n for n in D.PHOTOS if n not in UPSCALE_HELDOUT) + tuple(D.DETAIL_IMAGES)


# ---- the trainer --------------------------------------------------------------------------------
def _verdict(metrics: Mapping[str, Any]) -> str:
    """Honest sentences on whether the model beats bicubic interpolation on the held-out photos: on
    average, and each photo where it does not."""
    clean, degraded = metrics.get("clean_psnr_gain_db"), metrics.get("degraded_psnr_gain_db")
    if clean is None or degraded is None:
        return ""
    losses = [f"{name} {row['psnr_db'] - row['psnr_bicubic_db']:+.2f} dB {kind}"
              for name, kinds in (metrics.get("per_image") or {}).items() for kind, row in kinds.items()
              if row["psnr_db"] < row["psnr_bicubic_db"]]
    where = (f" It is not better on every photo: {', '.join(losses)} against bicubic (PSNR)." if losses else
             " It is better on every held-out photo, clean and degraded.")
    if clean > 0 and degraded > 0:
        return (f"On average it beats bicubic interpolation on the held-out photos (PSNR {clean:+.2f} dB on clean "
                f"inputs, {degraded:+.2f} dB on degraded ones; SSIM {metrics.get('clean_ssim_gain', 0):+.4f} and "
                f"{metrics.get('degraded_ssim_gain', 0):+.4f}).{where} The gains are small: bicubic is a strong "
                "baseline for a network this size.")
    return (f"**It does not beat bicubic interpolation** on the held-out photos: {clean:+.2f} dB PSNR on clean "
            f"inputs and {degraded:+.2f} dB on degraded ones (SSIM {metrics.get('clean_ssim_gain', 0):+.4f} and "
            f"{metrics.get('degraded_ssim_gain', 0):+.4f}); the bars below say FAIL. Bicubic remains the better "
            f"choice by these measures.{where}")


class UpscalerTrainer(Trainer):
    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        from ..architectures import build_architecture

        self.g_kwargs = {"num_feat": config["num_feat"], "num_conv": config["num_conv"], "upscale": SCALE,
                         "act_type": "prelu"}
        self.G = build_architecture("srvgg_compact", self.g_kwargs).to(device)
        with torch.no_grad():  # start close to the nearest-neighbour enlargement the network adds its residual to
            last = [m for m in self.G.modules() if isinstance(m, torch.nn.Conv2d)][-1]
            last.weight.mul_(0.1)
            if last.bias is not None:
                last.bias.zero_()
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config["lr"], betas=(0.9, 0.99))
        self.modules = {"G": self.G, "G_ema": self.G_ema}
        self.optimizers = {"G": self.opt_g}
        self.photos = _train_photos()
        self.sampler = PatchSampler([D.to_tensor(D.load_photo(n)) for n in self.photos], config["patch"],
                                    tuple(config["scales"]), min_std=0.02)
        gen = torch.Generator().manual_seed(seed + 2)
        self.preview_hr = (self.sampler.sample(8, gen) + 1) / 2
        self.preview_lr = degrade(self.preview_hr, gen)

    def _lr_at(self, step: int) -> float:
        """Warm-up, then a cosine to ``lr_min`` over each stage (from ``lr``, then from ``stage2_lr``)."""
        c = self.config
        clean_steps, total = int(c["clean_steps"]), max(1, int(c["total_steps"]))
        if step >= clean_steps:
            t = min(1.0, (step - clean_steps) / max(1, total - clean_steps))
            return float(c["lr_min"]) + 0.5 * (float(c["stage2_lr"]) - float(c["lr_min"])) * (1 + math.cos(math.pi * t))
        warm = int(c["warmup"])
        if step < warm:
            return float(c["lr"]) * (step + 1) / warm
        t = min(1.0, (step - warm) / max(1, min(clean_steps, total) - warm))
        return float(c["lr_min"]) + 0.5 * (float(c["lr"]) - float(c["lr_min"])) * (1 + math.cos(math.pi * t))

    def train_step(self, step: int) -> dict[str, float]:
        c = self.config
        hr = ((self.sampler.sample(c["batch_size"], self.data_gen) + 1) / 2).clamp(0, 1)
        restore = step >= c["clean_steps"]
        n_clean = int(round(c["batch_size"] * c["clean_share"])) if restore else hr.shape[0]
        parts = [bicubic_down(hr[:n_clean])] if n_clean else []
        # degrade in groups of 4 crops, each group with its own draw of the parameters
        for i in range(n_clean, hr.shape[0], 4):
            parts.append(degrade(hr[i : i + 4], self.data_gen, second_order=c["second_order"]))
        lr = torch.cat(parts).to(self.device)
        for group in self.opt_g.param_groups:
            group["lr"] = self._lr_at(step)
        pred = self.G(lr)
        loss = (pred - hr.to(self.device)).abs().mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        ema_update(self.G_ema, self.G, c["ema_decay"] if step >= c["ema_start"] else 0.0)
        return {"l1": float(loss.detach())}

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        """Rows: degraded input (nearest ×4), bicubic ×4, model ×4, original (training crops)."""
        import torchvision

        self.G_ema.eval()
        lr = self.preview_lr
        hr_size = self.preview_hr.shape[-2:]
        rows = [F.interpolate(lr, size=hr_size, mode="nearest"),
                F.interpolate(lr, size=hr_size, mode="bicubic", align_corners=False).clamp(0, 1),
                self.G_ema(lr.to(self.device)).cpu().clamp(0, 1), self.preview_hr]
        grid: torch.Tensor = torchvision.utils.make_grid(torch.cat(rows), nrow=8, padding=2, pad_value=1.0)
        return grid

    @torch.no_grad()
    def heldout_previews(self, out_dir: Path) -> list[tuple[str, str]]:
        """A crop of each held-out photo: bicubic ×4 | model ×4 | original, from the plain ×4 downscale."""
        from ..evaluation import UPSCALE_HELDOUT

        self.G_ema.eval()
        images = []
        for name in UPSCALE_HELDOUT:
            hr = torch.from_numpy(D.load_photo(name)).permute(2, 0, 1)[None]
            h, w = hr.shape[-2:]
            top, left = (h - 192) // 2 // 4 * 4, (w - 192) // 2 // 4 * 4
            hr = hr[..., top : top + 192, left : left + 192]
            lr = bicubic_down(hr)
            bic = F.interpolate(lr, scale_factor=SCALE, mode="bicubic", align_corners=False).clamp(0, 1)
            sr = self.G_ema(lr.to(self.device)).cpu().clamp(0, 1)
            pad = torch.ones(3, 192, 8)
            save_grid(torch.cat([bic[0], pad, sr[0], pad, hr[0]], dim=2), out_dir / f"heldout_{name}.png")
            images.append((f"held-out {name} (crop): bicubic ×4 | photo-upscaler-x4 | original", f"heldout_{name}.png"))
        return images

    def export(self, out_dir: Path) -> None:
        from ..evaluation import UPSCALE_HELDOUT

        c = self.config
        meta = {
            "task": "upscale",
            "channels": 3,
            "labels": [],
            "exclusive": [],
            "license": cards.MODEL_LICENSE,
            "description": "Enlarge photos 4× (a small SRVGGNetCompact trained with Real-ESRGAN-style degradations "
                           "on photos bundled with scikit-learn/scikit-image)",
            "recipe": "photo-upscaler-x4",
        }
        previews = self.heldout_previews(out_dir)

        def card(metrics: dict[str, Any]) -> str:
            return cards.card_text(
                title="photo-upscaler-x4: a small Real-ESRGAN-style ×4 photo upscaler",
                model_id="photo-upscaler-x4",
                task="upscale",
                summary=(
                    "The Upscale tab's offline default: an SRVGGNetCompact (Real-ESRGAN's compact architecture, "
                    f"{c['num_feat']} features, {c['num_conv']} hidden convolutions, "
                    f"{sum(p.numel() for p in self.G_ema.parameters()):,} parameters) that enlarges photos 4×, "
                    "removing some blur, noise and JPEG artefacts on the way. It is small enough to train on one CPU "
                    "thread in well under an hour; the Real-ESRGAN models in the catalogue are far stronger."
                ),
                data=(
                    "Random crops of the images bundled with scikit-learn and scikit-image: the photos "
                    + ", ".join(f"`{n}` ({D.image_info(n).license})" for n in self.photos if n in D.PHOTOS)
                    + " and, for fine structure (textures, text, coins, grain), "
                    + ", ".join(f"`{n}` ({D.image_info(n).license})" for n in self.photos if n not in D.PHOTOS)
                    + "; the greyscale ones are used as RGB. Held out for evaluation, never trained on: "
                    f"{', '.join(f'`{n}`' for n in UPSCALE_HELDOUT)}. "
                    f"High-resolution crops of {c['patch']} px (random rescale {c['scales']}, flips); the inputs "
                    "are made from them as the training stages below say."
                ),
                data_licenses=sorted({D.image_info(n).license for n in self.photos}),
                recipe="photo-upscaler-x4",
                techniques=[
                    f"stage 1 (steps 0–{c['clean_steps']}): clean inputs only, plain antialiased bicubic ×4 "
                    "downscales, so the network first learns to enlarge (trained from scratch on the mixture, "
                    "it learned to smooth and stayed 0.6–1.0 dB below bicubic on the clean held-out inputs)",
                    f"stage 2 (to step {c['total_steps']}): {c['clean_share']:.0%} of each batch clean, the rest "
                    "Real-ESRGAN-style degradations (our implementation): blur with random anisotropic Gaussian "
                    "kernels, random resize (area/bilinear/bicubic), Gaussian noise (colour or grey), JPEG "
                    "(quality 30–95), "
                    + (f"a second round with probability {c['second_order']}" if c["second_order"] else
                       "one round (no second-order round)")
                    + f", the ×4 resize and a last JPEG; a fresh cosine from lr {c['stage2_lr']}",
                    "L1 loss only (no perceptual or GAN terms)",
                    f"Adam (lr {c['lr']}, warm-up {c['warmup']} steps, cosine decay to {c['lr_min']} in each "
                    f"stage), batch {c['batch_size']}",
                    f"EMA of the weights (decay {c['ema_decay']}, from step {c['ema_start']})",
                ],
                architecture="srvgg_compact",
                kwargs=self.g_kwargs,
                metrics=metrics,
                evaluation=(
                    f"On the held-out photos {', '.join(UPSCALE_HELDOUT)} (never used in training), cropped to "
                    "multiples of 4: each is made 4× smaller two ways — `clean`, a plain antialiased bicubic "
                    "downscale (8-bit), and `degraded`, the training degradation model with a fixed seed — and "
                    "enlarged back 4× by the model and by bicubic interpolation. PSNR (dB, RGB, [0, 1]) and SSIM "
                    "(RGB, scikit-image, data range 1) against the original, 4 px border shaved; `*_gain_db` is the "
                    "model's PSNR minus bicubic's."
                ),
                extra=(
                    "\n### Limitations\n\n" + _verdict(metrics) + " A dozen training images and a tiny "
                    "network, trained for minutes on one CPU thread: it invents no texture, and on strongly "
                    "degraded inputs it smooths. For real work choose a Real-ESRGAN model in the Upscale tab.\n"
                ),
                images=[*previews, ("training crops. Rows: degraded input, bicubic ×4, model ×4, original",
                                    "samples.png")],
                steps=self.steps_done,
                seed=self.seed,
            )

        cards.export_and_evaluate({"": (self.G_ema, "srvgg_compact", self.g_kwargs, meta)}, out_dir,
                                  eval_samples=1, make_card=card)


RECIPE = Recipe(
    name="photo-upscaler-x4", task="upscale",
    description="×4 SRVGGNetCompact (L1; clean enlargement, then Real-ESRGAN-style degradations) on crops of the "
                "bundled images",
    trainer=UpscalerTrainer,
    config={
        "num_feat": 24, "num_conv": 8, "patch": 128, "scales": [0.5, 1.0], "batch_size": 12,
        "lr": 1e-3, "lr_min": 2e-5, "warmup": 100, "ema_decay": 0.999, "ema_start": 200,
        # stage 1 (steps 0..clean_steps): clean inputs only; stage 2 (to total_steps): the mixture
        "clean_steps": 4000, "clean_share": 0.75, "second_order": 0.0, "stage2_lr": 3e-4,
        "total_steps": 7000,
    },
    steps=7000,
    tiny={"num_feat": 4, "num_conv": 1, "patch": 32, "batch_size": 4, "ema_start": 0, "total_steps": 2, "clean_steps": 1,
          "log_every": 1, "checkpoint_every": 1, "sample_every": 1000},
    sample_every=1000, checkpoint_every=500, log_every=20,
)
