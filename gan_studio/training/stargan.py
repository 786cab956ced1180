"""``digits-stargan``: a StarGAN multi-domain translator between synthetic digit attributes.

Domains: every combination of three binary attributes of a 32×32 digit (grey, replicated to RGB),
applied by classical transforms (:func:`gan_studio.data.apply_attributes`):

* ``thick``: grey dilation with a 3×3 window (strokes about 2 px wider),
* ``slanted``: italic shear (x shifted by 0.4 × y, top leaning right),
* ``inverted``: negative (black strokes on white).

The attributes are independent (``exclusive = []``). Each training image is a training-split
digit with a random attribute vector; the generator learns ``G(x, c_target)`` with the StarGAN
losses (adversarial + attribute classification + cycle reconstruction), against a spectral-normalised
PatchGAN discriminator with an attribute-classification head.
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
from .discriminators import StarGANDiscriminator
from .loop import Recipe, Trainer, ema_update
from .losses import d_hinge, diff_augment, g_hinge

logger = logging.getLogger(__name__)


class StarGANTrainer(Trainer):
    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        from ..architectures import build_architecture

        self.x, self.y = D.load_digits_32("train")
        self.c_dim = len(D.ATTRIBUTES)
        self.g_kwargs = {"conv_dim": config["g_conv_dim"], "c_dim": self.c_dim, "repeat_num": config["g_repeat"],
                         "inference_norm": "instance_stats"}
        self.G = build_architecture("stargan", self.g_kwargs).to(device)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.D = StarGANDiscriminator(D.DIGIT_SIZE, config["d_conv_dim"], self.c_dim, config["d_repeat"],
                                      n_classes=10 if config["lambda_digit"] > 0 else 0).to(device)
        betas = tuple(config["betas"])
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config["lr_g"], betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config["lr_d"], betas=betas)
        self.modules = {"G": self.G, "G_ema": self.G_ema, "D": self.D}
        self.optimizers = {"G": self.opt_g, "D": self.opt_d}
        gen = torch.Generator().manual_seed(seed + 2)
        test, _ = D.load_digits_32("test")
        self.fixed_x = test[torch.randperm(test.shape[0], generator=gen)[:8]]

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, self.x.shape[0], (n,), generator=self.data_gen)
        src = torch.randint(0, 2, (n, self.c_dim), generator=self.data_gen).float()
        trg = torch.randint(0, 2, (n, self.c_dim), generator=self.data_gen).float()
        return D.to_rgb(D.apply_attributes(self.x[idx], src)), src, trg, self.y[idx]

    def train_step(self, step: int) -> dict[str, float]:
        c = self.config
        x, src, trg, digit = (t.to(self.device) for t in self.batch(c["batch_size"]))
        fake = self.G(x, trg)

        def aug(t: torch.Tensor) -> torch.Tensor:
            # attribute-preserving DiffAugment (translation only) so D's classifier is harder to fool
            return diff_augment(t, self.data_gen, translation=c["aug_translation"], cutout=0.0)

        real_src, real_cls = self.D(aug(x))
        fake_src, _ = self.D(aug(fake.detach()))
        adv_d = d_hinge(real_src, fake_src)
        cls_d = F.binary_cross_entropy_with_logits(real_cls, src)
        loss_d = adv_d + c["lambda_cls"] * cls_d
        out = {"adv_d": float(adv_d.detach()), "cls_d": float(cls_d.detach())}
        if c["lambda_digit"] > 0:
            digit_d = F.cross_entropy(self.D.classify_content(aug(x)), digit)
            loss_d = loss_d + c["lambda_digit"] * digit_d
            out["digit_d"] = float(digit_d.detach())
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        if step % c["n_critic"] == 0:
            fake_src, fake_cls = self.D(aug(fake))
            adv_g = g_hinge(fake_src)
            cls_g = F.binary_cross_entropy_with_logits(fake_cls, trg)
            rec = (self.G(fake, src) - x).abs().mean()
            loss_g = adv_g + c["lambda_cls_g"] * cls_g + c["lambda_rec"] * rec
            if c["lambda_digit"] > 0:
                digit_g = F.cross_entropy(self.D.classify_content(aug(fake)), digit)
                loss_g = loss_g + c["lambda_digit"] * digit_g
                out["digit_g"] = float(digit_g.detach())
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            out.update(adv_g=float(adv_g.detach()), cls_g=float(cls_g.detach()), rec=float(rec.detach()))
            ema_update(self.G_ema, self.G, c["ema_decay"] if step >= c["ema_start"] else 0.0)
        return out

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        """Rows: 8 held-out digits; columns: the input, then the 8 target attribute combinations."""
        import torchvision

        self.G_ema.eval()
        x = D.to_rgb(self.fixed_x).to(self.device)
        cols = [x.cpu()]
        for code in range(2**self.c_dim):
            trg = torch.tensor([[(code >> i) & 1 for i in range(self.c_dim)]], dtype=torch.float32).expand(x.shape[0], -1)
            cols.append(self.G_ema(x, trg.to(self.device)).cpu())
        tiles = torch.stack(cols, dim=1).flatten(0, 1)
        grid = torchvision.utils.make_grid((tiles + 1) / 2, nrow=len(cols), padding=2, pad_value=0.5)
        return F.interpolate(grid[None], scale_factor=2, mode="nearest")[0]

    def export(self, out_dir: Path) -> None:
        c = self.config
        meta: dict[str, Any] = {
            "task": "multidomain",
            "image_size": D.DIGIT_SIZE,
            "channels": 3,
            "labels": list(D.ATTRIBUTES),
            "exclusive": [],
            "license": cards.MODEL_LICENSE,
            "description": "Give a 32×32 digit thick strokes, an italic slant or inverted colours (StarGAN), trained on scikit-learn's digits",
            "recipe": "digits-stargan",
            "preprocess": {"resize": D.DIGIT_SIZE},
        }
        codes = ", ".join(
            "+".join(a for i, a in enumerate(D.ATTRIBUTES) if (code >> i) & 1) or "none" for code in range(2**self.c_dim)
        )
        extra = f"""
### Attributes (the domains)

Each digit gets a binary vector over `{list(D.ATTRIBUTES)}` (independent, no exclusive groups),
realised by classical transforms of the 32×32 digit in this order:

- `thick`: grey dilation with a 3×3 window (strokes ≈ 2 px wider);
- `slanted`: italic shear, x shifted by {D.SHEAR} × y (normalised coordinates), top leaning right;
- `inverted`: negative, black strokes on white.

`G(x, c)` takes the digit as 3 identical channels in [-1, 1] and the **target** vector `c`;
the input's own attributes need not be given. Sample grid columns: the input, then the targets
{codes}.

### Limitations

32×32 digits only, and only these three attributes. The digit itself is kept in most but not all
translations (`digit_preserved_share` against the ceiling `digit_preserved_share_real_transform` of
the exact transforms); strokes are softer than the classical transforms.
"""

        def card(metrics: dict[str, Any]) -> str:
            return cards.card_text(
                title="digits-stargan",
                model_id="digits-stargan",
                task="multidomain",
                summary=meta["description"] + ".",
                data=cards.DIGITS_DATA + " Attribute vectors are drawn at random for every training image.",
                data_licenses=["CC-BY-4.0 (UCI optdigits)", "BSD-3-Clause (scikit-learn)"],
                recipe="digits-stargan",
                techniques=[
                    "StarGAN objective (Choi et al. 2018): adversarial + attribute classification "
                    f"(λ_cls={c['lambda_cls']} for D on real images, {c['lambda_cls_g']} for G on translated ones) "
                    f"+ cycle reconstruction L1 (λ_rec={c['lambda_rec']})",
                    f"DiffAugment translation ({c['aug_translation']}) of every image D sees (attribute-preserving; "
                    "makes D's attribute classifier harder to fool with invisible changes)",
                    "hinge adversarial loss with a spectral-normalised PatchGAN discriminator (Miyato et al. 2018)",
                    f"TTUR: Adam lr_G={c['lr_g']}, lr_D={c['lr_d']}, betas={tuple(c['betas'])}; "
                    f"{c['n_critic']} D steps per G step",
                    f"EMA of the generator weights (decay {c['ema_decay']}, from step {c['ema_start']})",
                ] + ([
                    f"digit-identity term: D has a second head that learns the digit class of real training images "
                    f"(labels of the training split) and G is penalised (λ={c['lambda_digit']}) when its translation "
                    "changes the class that head sees, so attributes change the style, not the digit"
                ] if c["lambda_digit"] > 0 else []),
                architecture="stargan",
                kwargs=self.g_kwargs,
                metrics=metrics,
                evaluation=(
                    "Held-out digits (the 360 test-split digits, never seen in training) get a random source "
                    "attribute vector and a random target vector; a separate multi-label CNN attribute classifier "
                    "(`checkpoints/_evaluators/digit-attributes`, trained on real transformed training digits; "
                    "its held-out accuracy is in the table) judges each translated image. "
                    "`attribute_accuracy_<name>` is the share of translated images whose attribute matches the target; "
                    "`attribute_accuracy_changed_only_min` restricts to images whose target differs from the source; "
                    "`reconstruction_l1` is |G(G(x, c_trg), c_src) − x| in [-1, 1] units; `digit_preserved_share` "
                    "is the share still classified as the input digit by the digit classifier (inversion undone); "
                    "`digit_preserved_share_real_transform` is the same for the exact classical transforms, the ceiling."
                ),
                images=[("held-out digits (rows) translated to the 8 attribute combinations (columns)", "samples.png")],
                extra=extra,
                steps=self.steps_done,
                seed=self.seed,
            )

        cards.export_and_evaluate({"": (self.G_ema, "stargan", self.g_kwargs, meta)}, out_dir,
                                  eval_samples=c["eval_samples"], make_card=card)


RECIPE = Recipe(
    name="digits-stargan", task="multidomain",
    description="StarGAN between thick / slanted / inverted digit attributes",
    trainer=StarGANTrainer,
    config={
        "g_conv_dim": 16, "g_repeat": 4, "d_conv_dim": 32, "d_repeat": 3, "batch_size": 16,
        "lr_g": 2e-4, "lr_d": 4e-4, "betas": [0.5, 0.999], "lambda_cls": 1.0, "lambda_cls_g": 2.0,
        "lambda_rec": 10.0, "lambda_digit": 0.3, "aug_translation": 0.125, "n_critic": 1, "ema_decay": 0.995, "ema_start": 300,
        "eval_samples": 1000,
    },
    steps=6000,
    tiny={"g_conv_dim": 4, "g_repeat": 1, "d_conv_dim": 4, "batch_size": 4, "ema_start": 0, "eval_samples": 16,
          "log_every": 1, "checkpoint_every": 1, "sample_every": 1000},
    sample_every=500, checkpoint_every=250, log_every=20,
)
