"""``photo-colorizer``: predict Lab chrominance (ab) from lightness (L) with a small U-Net.

Trained on random crops of the bundled colour photos except the held-out ones
(:data:`gan_studio.evaluation.COLORIZATION_HELDOUT`: ``chelsea`` and ``coffee``), with an
L1 loss on ab plus a small conditional PatchGAN term (hinge loss, spectral norm, D sees L and ab)
that counteracts the grey-ish average an L1-only model predicts.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .. import data as D
from . import cards
from .data import PatchSampler
from .discriminators import PatchDiscriminator
from .loop import Recipe, Trainer, ema_update
from .losses import d_hinge, g_hinge

logger = logging.getLogger(__name__)

WORKING_SIZE = 256  # the studio's colorization pipeline predicts ab at this short side


def _train_photos() -> tuple[str, ...]:
    from ..evaluation import COLORIZATION_HELDOUT

    return tuple(n for n in D.PHOTOS if n not in COLORIZATION_HELDOUT)


def rgb_to_lab_norm(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, H, W) RGB in [-1, 1] -> (L/50 - 1, ab/110)."""
    from ..image_io import rgb_to_lab

    lab = rgb_to_lab(((rgb + 1) / 2).clamp(0, 1))
    return lab[:, :1] / 50.0 - 1.0, lab[:, 1:] / 110.0


def lab_norm_to_rgb(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_lab_norm`, RGB in [0, 1]."""
    from ..image_io import lab_to_rgb

    return lab_to_rgb(torch.cat([(L + 1) * 50.0, ab * 110.0], dim=1))


class ColorizationTrainer(Trainer):
    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        from ..architectures import build_architecture

        self.g_kwargs = {"base_channels": config["base_channels"], "depth": config["depth"]}
        self.G = build_architecture("colorization_unet", self.g_kwargs).to(device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.D = PatchDiscriminator(3, config["ndf"], config["d_layers"]).to(device)
        betas = tuple(config["betas"])
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config["lr_g"], betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config["lr_d"], betas=betas)
        self.modules = {"G": self.G, "G_ema": self.G_ema, "D": self.D}
        self.optimizers = {"G": self.opt_g, "D": self.opt_d}
        self.photos = _train_photos()
        self.sampler = PatchSampler([D.to_tensor(D.load_photo(n)) for n in self.photos], config["patch"],
                                      tuple(config["scales"]))
        gen = torch.Generator().manual_seed(seed + 2)
        self.preview = self.sampler.sample(8, gen)

    def train_step(self, step: int) -> dict[str, float]:
        c = self.config
        rgb = self.sampler.sample(c["batch_size"], self.data_gen).to(self.device)
        L, ab = rgb_to_lab_norm(rgb)
        pred = self.G(L)
        l1 = (pred - ab).abs().mean()
        out = {"l1": float(l1.detach())}
        loss_g = l1
        if c["adv_weight"] > 0:
            fake_logits = self.D(torch.cat([L, pred], 1))
            adv_g = g_hinge(fake_logits)
            loss_g = loss_g + c["adv_weight"] * adv_g
            out["adv_g"] = float(adv_g.detach())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        if c["adv_weight"] > 0:
            loss_d = d_hinge(self.D(torch.cat([L, ab], 1)), self.D(torch.cat([L, pred.detach()], 1)))
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()  # type: ignore[no-untyped-call]  # Tensor.backward is unannotated in torch
            self.opt_d.step()
            out["loss_d"] = float(loss_d.detach())
        ema_update(self.G_ema, self.G, c["ema_decay"] if step >= c["ema_start"] else 0.0)
        return out

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        """Rows: grey input, prediction, ground truth (training-photo crops)."""
        import torchvision

        self.G_ema.eval()
        L, ab = rgb_to_lab_norm(self.preview)
        pred = self.G_ema(L.to(self.device)).cpu()
        rows = [lab_norm_to_rgb(L, torch.zeros_like(ab)), lab_norm_to_rgb(L, pred), lab_norm_to_rgb(L, ab)]
        grid: torch.Tensor = torchvision.utils.make_grid(torch.cat(rows), nrow=8, padding=2, pad_value=1.0)
        return grid

    @torch.no_grad()
    def heldout_previews(self, out_dir: Path) -> list[tuple[str, str]]:
        """Held-out photos as the studio colorizes them: grey, colorized, original."""
        from ..evaluation import COLORIZATION_HELDOUT
        from .loop import save_grid

        self.G_ema.eval()
        images = []
        m = 2 ** self.g_kwargs["depth"]
        for name in COLORIZATION_HELDOUT:
            rgb = D.to_tensor(D.load_photo(name))[None]
            h, w = rgb.shape[-2:]
            scale = WORKING_SIZE / min(h, w)
            size = (max(m, round(h * scale / m) * m), max(m, round(w * scale / m) * m))
            small = F.interpolate(rgb, size=size, mode="bilinear", align_corners=False, antialias=True)
            L_small, _ = rgb_to_lab_norm(small)
            L, ab = rgb_to_lab_norm(rgb)
            pred = F.interpolate(self.G_ema(L_small.to(self.device)).cpu(), size=(h, w), mode="bilinear", align_corners=False)
            pad = torch.ones(3, h, 8)
            row = torch.cat([lab_norm_to_rgb(L, torch.zeros_like(ab))[0], pad, lab_norm_to_rgb(L, pred)[0], pad,
                             lab_norm_to_rgb(L, ab)[0]], dim=2)
            save_grid(row, out_dir / f"heldout_{name}.png")
            images.append((f"held-out {name}: grey input | colorized | original", f"heldout_{name}.png"))
        return images

    def export(self, out_dir: Path) -> None:
        from ..evaluation import COLORIZATION_HELDOUT

        c = self.config
        meta = {
            "task": "colorization",
            "image_size": WORKING_SIZE,
            "channels": 3,
            "labels": [],
            "exclusive": [],
            "license": cards.MODEL_LICENSE,
            "description": "Colorize grayscale photos (L → ab U-Net with a PatchGAN term), trained on photos bundled with scikit-learn/scikit-image",
            "recipe": "photo-colorizer",
            "preprocess": {"working_size": WORKING_SIZE},
        }
        previews = self.heldout_previews(out_dir)
        sources = "\n".join(
            f"- `{p.name}`: {p.attribution}; licence {p.license}"
            + (" — **held out, never used in training**" if p.name in COLORIZATION_HELDOUT else "")
            for p in D.PHOTOS.values()
        )
        data = f"""Colour photos that ship inside scikit-learn and scikit-image (no download):

{sources}

Training: random {c['patch']}-px crops (random rescale {tuple(c['scales'])}, so that the studio's working
size of {WORKING_SIZE} px on the short side is in range; horizontal flips) of {', '.join(self.photos)},
converted to CIE Lab (D65; `gan_studio.image_io.rgb_to_lab`, equal to skimage's `rgb2lab`).
Input `L/50 − 1`, target `ab/110`."""

        def card(metrics: dict[str, Any]) -> str:
            return cards.card_text(
                title="photo-colorizer",
                model_id="photo-colorizer",
                task="colorization",
                summary=(
                    "A small U-Net that predicts the chrominance (Lab a*, b*) of a photo from its lightness. The studio "
                    f"predicts ab at a short side of {WORKING_SIZE} px and keeps the original full-resolution lightness. "
                    "Trained on five photos only: expect plausible skies, foliage and skin tones, muted elsewhere."
                ),
                data=data,
                data_licenses=["CC-BY-2.0 (china.jpg, flower.jpg)", "CC0-1.0", "public domain"],
                recipe="photo-colorizer",
                techniques=[
                    "L1 loss on ab (weight 1)",
                    f"conditional PatchGAN adversarial term (hinge loss, weight {c['adv_weight']}; D sees L and ab; "
                    f"spectral normalisation, {c['d_layers']} stride-2 layers)",
                    f"TTUR: Adam lr_G={c['lr_g']}, lr_D={c['lr_d']}, betas={tuple(c['betas'])}",
                    f"EMA of the generator weights (decay {c['ema_decay']}, from step {c['ema_start']})",
                ],
                architecture="colorization_unet",
                kwargs=self.g_kwargs,
                metrics=metrics,
                evaluation=(
                    f"On the held-out photos {', '.join(COLORIZATION_HELDOUT)} (never used in training), colorized as the "
                    f"studio does it (ab predicted at {WORKING_SIZE} px short side, upsampled to full resolution): "
                    "`psnr_ab_db` is the PSNR of the predicted ab against the true ab (data range 2 in ab/110 units, "
                    "i.e. 220 in a*b* units), `psnr_ab_baseline_db` the same for the grayscale baseline ab = 0, and "
                    "`psnr_ab_gain_db` their difference. `colourfulness` is Hasler & Süsstrunk's M (0–255 scale) of "
                    "the colorized photos vs `colourfulness_true` of the originals (the baseline scores 0)."
                ),
                extra=(
                    "\n### Limitations\n\nFive training photos: colours are plausible for fur, wood, foliage and sky "
                    "but biased towards warm orange tones, and the model can be more saturated than the original "
                    "(compare `colourfulness` with `colourfulness_true`).\n"
                ),
                images=[*previews, ("training crops. Rows: grey, colorized, original", "samples.png")],
                steps=self.steps_done,
                seed=self.seed,
            )

        cards.export_and_evaluate({"": (self.G_ema, "colorization_unet", self.g_kwargs, meta)}, out_dir,
                                  eval_samples=c["eval_samples"], make_card=card)


RECIPE = Recipe(
    name="photo-colorizer", task="colorization",
    description="L → ab U-Net (L1 + PatchGAN) on crops of the bundled photos",
    trainer=ColorizationTrainer,
    config={
        "base_channels": 16, "depth": 4, "ndf": 32, "d_layers": 3, "patch": 64, "scales": [0.4, 0.9],
        "batch_size": 8, "lr_g": 2e-4, "lr_d": 4e-4, "betas": [0.5, 0.999], "adv_weight": 0.01,
        "ema_decay": 0.999, "ema_start": 300, "eval_samples": 1000,
    },
    steps=1500,
    tiny={"base_channels": 4, "depth": 2, "ndf": 4, "d_layers": 2, "patch": 32, "batch_size": 2, "ema_start": 0,
          "eval_samples": 4, "log_every": 1, "checkpoint_every": 1, "sample_every": 1000},
    sample_every=500, checkpoint_every=250, log_every=10,
)
