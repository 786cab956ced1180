"""``digits-diffusion``: a class-conditional denoising diffusion baseline on the GAN defaults' digits.

Same data as ``digits-dcgan``/``digits-cgan`` (the 1,437 training digits, 32×32, [-1, 1], see
:mod:`.data`), a small diffusers ``UNet2DModel`` (class embedding with an extra "no class" index
for classifier-free guidance), trained with a DDPM noise schedule (1000 steps, cosine betas),
v-prediction and Min-SNR loss weighting, and an exponential moving average of the weights (the
EMA UNet is the one exported). Sampling is DDIM (eta = 0) with a step count the user picks, see
:class:`gan_studio.architectures.diffusion.DiffusionGenerator`.

The export is diffusers' own format (``save_pretrained``): ``config.json`` +
``diffusion_pytorch_model.safetensors`` + ``scheduler_config.json``, with the studio's settings in
a ``_gan_studio`` block of ``config.json``, the metrics from :mod:`gan_studio.evaluation` (through
:func:`gan_studio.compare.evaluate_generator`) in ``metrics.json`` and the model card.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from .. import data as D
from . import cards
from .loop import Recipe, Trainer, ema_update

if TYPE_CHECKING:
    from diffusers.models.unets.unet_2d import UNet2DModel

    from ..architectures.diffusion import DiffusionGenerator

logger = logging.getLogger(__name__)

MODEL_ID = "digits-diffusion"
DIGIT_LABELS = [str(i) for i in range(10)]
NULL_CLASS = 10  # the extra class embedding trained as "no class" (label dropout)

# How the exported model samples by default (not part of the training config, so that changing
# them does not invalidate a saved training state; the card records them).
SAMPLING: dict[str, Any] = {"sampler": "ddim", "default_steps": 25, "guidance_scale": 1.5}


def unet_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """``UNet2DModel`` constructor arguments of the recipe (JSON-able)."""
    channels = [int(c) for c in config["channels"]]
    levels = len(channels)
    down = ["DownBlock2D"] * levels
    up = ["UpBlock2D"] * levels
    if config.get("attention_lowest", True):
        down[-1] = "AttnDownBlock2D"
        up[0] = "AttnUpBlock2D"
    return {
        "sample_size": D.DIGIT_SIZE,
        "in_channels": 1,
        "out_channels": 1,
        "block_out_channels": channels,
        "layers_per_block": int(config["layers_per_block"]),
        "down_block_types": down,
        "up_block_types": up,
        "norm_num_groups": int(config["norm_groups"]),
        "attention_head_dim": int(config.get("attention_head_dim", 8)),
        "num_class_embeds": 11,  # digits 0–9 + NULL_CLASS
    }


def scheduler_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """The DDPM training schedule (also the sampler's config)."""
    return {
        "num_train_timesteps": int(config["train_timesteps"]),
        "beta_schedule": str(config["beta_schedule"]),
        "prediction_type": str(config["prediction_type"]),
        "clip_sample": True,
        "clip_sample_range": 1.0,
        "timestep_spacing": "trailing",  # few-step samplers start at the last training step
    }


class DigitsDiffusionTrainer(Trainer):
    """Denoising diffusion (v-prediction, Min-SNR weighting, label dropout for guidance) on digits."""

    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        super().__init__(config, device, seed)
        # the defining modules: mypy reads diffusers' lazy top-level names as torch-less placeholders
        from diffusers.models.unets.unet_2d import UNet2DModel
        from diffusers.schedulers.scheduling_ddpm import DDPMScheduler

        self.x, self.y = D.load_digits_32("train")
        self.unet_kwargs = unet_kwargs(config)
        self.sched_kwargs = scheduler_kwargs(config)
        self.unet = UNet2DModel(**self.unet_kwargs).to(device)
        self.ema = copy.deepcopy(self.unet).requires_grad_(False)
        self.scheduler = DDPMScheduler(**self.sched_kwargs)
        self.alphas_cumprod = self.scheduler.alphas_cumprod.to(torch.float32)
        self.opt = torch.optim.AdamW(self.unet.parameters(), lr=config["lr"], betas=(0.9, 0.99),
                                     weight_decay=config["weight_decay"])
        self.modules = {"unet": self.unet, "unet_ema": self.ema}
        self.optimizers = {"unet": self.opt}
        fixed = torch.Generator().manual_seed(seed + 2)
        self.fixed_z = torch.randn(40, D.DIGIT_SIZE * D.DIGIT_SIZE, generator=fixed)
        self.fixed_y = torch.arange(40) % 10

    def train_step(self, step: int) -> dict[str, float]:
        c = self.config
        n = c["batch_size"]
        g = self.data_gen
        idx = torch.randint(0, self.x.shape[0], (n,), generator=g)
        x0, y = self.x[idx], self.y[idx].clone()
        drop = torch.rand(n, generator=g) < c["label_dropout"]
        y[drop] = NULL_CLASS
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, int(c["train_timesteps"]), (n,), generator=g)
        xt = self.scheduler.add_noise(x0, noise, t)
        if c["prediction_type"] == "v_prediction":
            target = self.scheduler.get_velocity(x0, noise, t)
        else:
            target = noise
        ac = self.alphas_cumprod[t]
        snr = ac / (1.0 - ac)
        gamma = float(c["min_snr_gamma"])
        weight = snr.clamp(max=gamma) / (snr + 1.0) if c["prediction_type"] == "v_prediction" else snr.clamp(max=gamma) / snr
        for group in self.opt.param_groups:
            group["lr"] = c["lr"] * min(1.0, (step + 1) / c["warmup_steps"])
        pred = self.unet(xt.to(self.device), t.to(self.device), class_labels=y.to(self.device)).sample
        mse = F.mse_loss(pred.float(), target.to(self.device), reduction="none").mean(dim=(1, 2, 3))
        loss = (weight.to(self.device) * mse).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.unet.parameters(), c["grad_clip"])
        self.opt.step()
        decay = min(c["ema_decay"], (1.0 + step) / (10.0 + step))
        ema_update(self.ema, self.unet, decay)
        return {"loss": float(loss.detach()), "mse": float(mse.mean().detach()), "grad_norm": float(grad_norm)}

    def generator(self, *, guidance_scale: float | None = None) -> DiffusionGenerator:
        """The EMA UNet behind the studio's generator contract (a copy, eval mode)."""
        from ..architectures.diffusion import DiffusionGenerator

        return DiffusionGenerator(
            copy.deepcopy(self.ema).eval(), self.sched_kwargs, sampler=SAMPLING["sampler"],
            default_steps=SAMPLING["default_steps"],
            guidance_scale=SAMPLING["guidance_scale"] if guidance_scale is None else guidance_scale,
            null_class=NULL_CLASS,
        ).eval()

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        import torchvision

        G = self.generator()
        x = G(self.fixed_z.to(self.device), self.fixed_y.to(self.device), steps=self.config["sample_steps"]).cpu()
        grid = torchvision.utils.make_grid((x + 1) / 2, nrow=10, padding=2, pad_value=0.5)
        return F.interpolate(grid[None], scale_factor=2, mode="nearest")[0]

    def export(self, out_dir: Path) -> None:
        export_diffusion(self, out_dir)


def save_diffusers_folder(unet: UNet2DModel, sched_kwargs: Mapping[str, Any], out_dir: Path,
                          meta: Mapping[str, Any]) -> None:
    """``save_pretrained`` the UNet (safetensors) and the DDPM scheduler into ``out_dir``, and add
    the studio's ``_gan_studio`` block to the UNet's ``config.json``."""
    from diffusers.schedulers.scheduling_ddpm import DDPMScheduler  # the defining module, as above

    out_dir.mkdir(parents=True, exist_ok=True)
    unet.cpu().eval().save_pretrained(str(out_dir), safe_serialization=True)
    DDPMScheduler(**sched_kwargs).save_pretrained(str(out_dir))
    path = out_dir / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["_gan_studio"] = dict(meta)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def export_diffusion(trainer: DigitsDiffusionTrainer, out_dir: Path) -> dict[str, Any]:
    """Write the diffusers folder, evaluate it with the evaluation module, write metrics and card."""
    from ..compare import evaluate_generator, time_per_image

    c = trainer.config
    meta: dict[str, Any] = {
        "architecture": "diffusion",
        "task": "conditional",
        "image_size": D.DIGIT_SIZE,
        "channels": 1,
        "labels": DIGIT_LABELS,
        "null_class": NULL_CLASS,
        **SAMPLING,
        "license": cards.MODEL_LICENSE,
        "description": "Class-conditional 32×32 handwritten digits by denoising diffusion (DDIM sampling, "
                       "choose 0–9 and the steps), trained on scikit-learn's digits: the GAN defaults' baseline",
        "recipe": MODEL_ID,
    }
    ema = copy.deepcopy(trainer.ema)
    save_diffusers_folder(ema, trainer.sched_kwargs, out_dir, meta)
    G = trainer.generator().cpu()
    metrics = evaluate_generator(G, num_classes=10, n_samples=int(c["eval_samples"]), seed=0, device="cpu",
                                 steps=SAMPLING["default_steps"])
    metrics["model"] = out_dir.name
    z = torch.randn(8, G.latent_dim, generator=torch.Generator().manual_seed(0))
    y = torch.arange(8) % 10

    def run() -> None:
        with torch.inference_mode():
            G(z, y)

    timing = time_per_image(run, n=8, repeats=3)
    save_diffusers_folder(ema, trainer.sched_kwargs, out_dir, {**meta, "metrics": cards.clean_metrics(metrics)})
    (out_dir / "metrics.json").write_text(json.dumps(cards.clean_metrics(metrics), indent=2) + "\n", encoding="utf-8")
    (out_dir / "README.md").write_text(card_text(trainer, metrics, timing), encoding="utf-8")
    logger.info("%s: %s", out_dir, metrics.get("bars"))
    return metrics


def card_text(trainer: DigitsDiffusionTrainer, metrics: Mapping[str, Any], timing: Mapping[str, Any]) -> str:
    """The model card (README.md with YAML front matter) with the measured numbers."""
    c = trainer.config
    n_params = sum(p.numel() for p in trainer.ema.parameters())
    front = "\n".join([
        "---",
        f"license: {cards.MODEL_LICENSE}",
        "library_name: diffusers",
        "pipeline_tag: unconditional-image-generation",
        "tags:",
        "- diffusion",
        "- ddim",
        "- class-conditional",
        "- gan_studio",
        "- embedded-default",
        "datasets_licenses:",
        "- CC-BY-4.0 (UCI optdigits)",
        "- BSD-3-Clause (scikit-learn)",
        "---",
    ])
    return f"""{front}

# {MODEL_ID}

A small class-conditional denoising diffusion model for 32×32 handwritten digits, trained on the same
data as the studio's GAN defaults (`digits-cgan`, `digits-dcgan`) so the two families can be compared
on equal terms (`python -m gan_studio compare`). It is served by the studio like any generator:
pick a class, seeds and the number of sampling steps.

![samples (EMA UNet, fixed seeds, one class per column, {c['sample_steps']} DDIM steps)](samples.png)

## Model

- id: `{MODEL_ID}`, task: `conditional`, architecture: `diffusion` (diffusers `UNet2DModel`, {n_params:,} parameters)
- UNet config: `{json.dumps(trainer.unet_kwargs, sort_keys=True)}`
- noise schedule (`scheduler_config.json`, diffusers `DDPMScheduler`): `{json.dumps(trainer.sched_kwargs, sort_keys=True)}`
- class embedding: digits 0–9, index {NULL_CLASS} = "no class" (trained with {c['label_dropout']:.0%} label dropout)
- sampling (the studio's defaults, `_gan_studio` block of `config.json`): {SAMPLING['sampler'].upper()} with eta = 0
  (deterministic: a seed gives the same image), {SAMPLING['default_steps']} steps, classifier-free guidance
  {SAMPLING['guidance_scale']} (two UNet evaluations per step); the initial noise of image *i* is drawn from seed + *i*
  on a CPU generator
- files: diffusers format (`save_pretrained`): `config.json`, `diffusion_pytorch_model.safetensors`,
  `scheduler_config.json`; load with `UNet2DModel.from_pretrained("checkpoints/{MODEL_ID}", use_safetensors=True)`
  or `gan_studio.load_generator("{MODEL_ID}")`
- licence of the weights: CC BY 4.0 (attribution: the data sources below)

## Training data

{cards.DIGITS_DATA}

## Training

Reproduce (seeded, resumable, CPU):

```
python -m gan_studio train {MODEL_ID} --out checkpoints/{MODEL_ID} --steps {trainer.steps_done} --seed {trainer.seed}
```

- DDPM forward process, {c['train_timesteps']} steps, `{c['beta_schedule']}` betas (Ho et al. 2020; Nichol & Dhariwal 2021)
- {c['prediction_type']} target (Salimans & Ho 2022) with Min-SNR-γ loss weighting, γ = {c['min_snr_gamma']} (Hang et al. 2023)
- AdamW lr {c['lr']} ({c['warmup_steps']} warm-up steps), batch {c['batch_size']}, gradient clipping {c['grad_clip']}
- EMA of the weights (decay up to {c['ema_decay']}); the EMA UNet is exported
- label dropout {c['label_dropout']} for classifier-free guidance (Ho & Salimans 2022)
- trained on CPU (1 thread, on a 2-core machine shared with other jobs) for {trainer.steps_done} steps

The loss log is `train_log.jsonl`, periodic sample grids are in `samples/`.

## Evaluation

Scored with the same classifier and metrics as the GAN defaults (`gan_studio.evaluation`): the digit
classifier (`checkpoints/_evaluators/digits`) classifies {metrics.get('n_samples')} samples (equal numbers
per requested class, initial noise from seed {metrics.get('seed')}, {SAMPLING['default_steps']} DDIM steps);
`class_accuracy` is the share classified as the requested class, the class histogram and its entropy
(max ln 10 = 2.303 nats) measure mode coverage, and the pixel-space nearest-neighbour check compares
each sample's distance to the training set with the training digits' distances to one another
(`nn_ratio` ≈ 1: as novel as the training digits are from one another; `near_copy_share`: samples
closer than half the train↔train median).

{cards.metrics_table(metrics)}

Time per image on the training machine (CPU, torch threads: {timing['threads']}, batch {timing['n']}, median of
{timing['repeats']} after a warm-up, {SAMPLING['default_steps']} steps): {timing['seconds_per_image'] * 1000:.1f} ms.
The GAN it is compared with makes an image in one forward pass; see `docs/benchmarks.md`, "GAN vs diffusion".
"""


_CONFIG = {
    "channels": [16, 32, 64], "layers_per_block": 1, "norm_groups": 8, "attention_head_dim": 8,
    "attention_lowest": True, "train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2",
    "prediction_type": "v_prediction", "min_snr_gamma": 5.0, "batch_size": 32, "lr": 2e-3,
    "weight_decay": 0.0, "warmup_steps": 50, "grad_clip": 1.0, "ema_decay": 0.995, "label_dropout": 0.1,
    "sample_steps": 20, "eval_samples": 500,
}
_TINY = {"channels": [8, 8], "norm_groups": 4, "attention_head_dim": 4, "batch_size": 4, "eval_samples": 20,
         "sample_steps": 2, "warmup_steps": 1, "log_every": 1, "checkpoint_every": 1, "sample_every": 1000}

RECIPE = Recipe(
    name=MODEL_ID, task="conditional",
    description="class-conditional DDPM/DDIM baseline (diffusers UNet2DModel) on 32×32 digits",
    trainer=DigitsDiffusionTrainer,
    config=_CONFIG,
    steps=1500, tiny=_TINY, sample_every=500, checkpoint_every=100, log_every=10,
)
