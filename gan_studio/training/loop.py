"""The shared training loop: seeding, resuming, progress bar, loss log, sample grids, export.

A recipe supplies a :class:`Trainer` (models, optimisers and one ``train_step``); the loop owns
everything around it. Files written in the output folder::

    training_state.pt      optimiser/EMA/step/RNG state (torch.save of tensors only, loaded with
                           weights_only=True); not meant to be committed
    train_log.jsonl        one JSON object per logged step: {"step", "elapsed_s", <losses>}
    samples/step_NNNNNN.png  periodic sample grids
    samples.png            the final sample grid (shown in the model card)
    config.json, model.safetensors, README.md   the exported generator (or AtoB/, BtoA/)
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)

STATE_NAME = "training_state.pt"
LOG_NAME = "train_log.jsonl"
SAMPLES_DIR = "samples"
FINAL_GRID = "samples.png"


class TrainingError(RuntimeError):
    """Training went wrong in a way the user should see (non-finite loss, mismatched state)."""


class Trainer:
    """Base class of a recipe's trainer: models, optimisers, data and one optimisation step.

    Subclasses set ``self.modules`` / ``self.optimizers`` (name -> object) in ``__init__`` and
    implement :meth:`train_step`, :meth:`sample_grid` and :meth:`export`. The base class saves and
    restores every module, optimiser, the data generator and the global RNG.
    """

    def __init__(self, config: Mapping[str, Any], device: torch.device, seed: int) -> None:
        self.config = dict(config)
        self.device = device
        self.seed = seed
        self.data_gen = torch.Generator().manual_seed(seed + 1)
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.steps_done = 0  # set by the loop before export

    def train_step(self, step: int) -> dict[str, float]:
        """One optimisation step; returns the losses to log (floats)."""
        raise NotImplementedError

    @torch.no_grad()
    def sample_grid(self) -> torch.Tensor:
        """A grid of current samples (C, H, W) in [0, 1]."""
        raise NotImplementedError

    def export(self, out_dir: Path) -> None:
        """Write the generator folder(s), evaluate them, write the card (see the recipe)."""
        raise NotImplementedError

    # ---- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "data_gen": self.data_gen.get_state(),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.data_gen.set_state(state["data_gen"])
        torch.set_rng_state(state["torch_rng"])


@dataclass(frozen=True)
class Recipe:
    """A named, reproducible training configuration.

    ``config`` holds every hyperparameter; ``tiny`` overrides it for quick tests.
    """

    name: str
    task: str
    description: str
    trainer: Callable[[Mapping[str, Any], torch.device, int], Trainer]
    config: Mapping[str, Any]
    steps: int
    tiny: Mapping[str, Any] = field(default_factory=dict)
    sample_every: int = 500
    checkpoint_every: int = 250
    log_every: int = 10


def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * model`` for parameters; buffers are copied."""
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.lerp_(pm.detach(), 1.0 - decay)
        for be, bm in zip(ema.buffers(), model.buffers()):
            be.copy_(bm)


@torch.no_grad()
def recalibrate_batchnorm(G: nn.Module, run_batch: Callable[[torch.Generator], Any], batches: int, seed: int) -> None:
    """Re-estimate ``G``'s BatchNorm running statistics as a cumulative average over ``batches`` calls
    of ``run_batch(gen)`` (each runs ``G`` on one batch drawn from ``gen``, seeded with ``seed``), e.g.
    for an EMA generator whose averaged weights no longer match the statistics it carries. Leaves ``G``
    in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    G.train()
    for _ in range(batches):
        run_batch(gen)
    for bn in bns:
        bn.momentum = 0.1
    G.eval()


def gan_state(trainer: Any) -> dict[str, Any]:
    """The resumable state of a GAN trainer's ``G``, ``G_ema``, ``D``, ``opt_g``, ``opt_d`` and random
    generator ``gen`` (tensors and plain values: loadable with ``weights_only=True``)."""
    return {"G": trainer.G.state_dict(), "G_ema": trainer.G_ema.state_dict(), "D": trainer.D.state_dict(),
            "opt_g": trainer.opt_g.state_dict(), "opt_d": trainer.opt_d.state_dict(), "gen": trainer.gen.get_state()}


def load_gan_state(trainer: Any, state: Mapping[str, Any]) -> None:
    """Restore what :func:`gan_state` returned into ``trainer``."""
    for name in ("G", "G_ema", "D", "opt_g", "opt_d"):
        getattr(trainer, name).load_state_dict(state[name])
    trainer.gen.set_state(state["gen"])


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_grid(grid: torch.Tensor, path: Path) -> None:
    """Save a (C, H, W) grid in [0, 1] as PNG."""
    from PIL import Image

    arr = (grid.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def run(
    recipe: Recipe,
    out_dir: str | os.PathLike[str],
    *,
    steps: int | None = None,
    seed: int = 0,
    resume: bool = True,
    device: str = "cpu",
    progress: bool = True,
    overrides: Mapping[str, Any] | None = None,
    export: bool = True,
) -> Path:
    """Train ``recipe`` into ``out_dir`` (resuming from its training state) and export it."""
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = int(steps if steps is not None else recipe.steps)
    if total < 0:
        raise ValueError(f"steps must be >= 0, got {total}")
    config = {**recipe.config, **(overrides or {})}
    dev = torch.device(device)

    torch.manual_seed(seed)
    trainer = recipe.trainer(config, dev, seed)
    start = 0
    state_path = out / STATE_NAME
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state.get("recipe") != recipe.name or state.get("config_json") != json.dumps(config, sort_keys=True):
            raise TrainingError(
                f"{state_path} belongs to recipe {state.get('recipe')!r} with a different config; "
                f"use another --out folder or start afresh (resume=False)"
            )
        trainer.load_state_dict(state["trainer"])
        start = int(state["step"])
        logger.info("resuming %s from step %d", recipe.name, start)
    elif not resume:
        (out / LOG_NAME).unlink(missing_ok=True)

    t0 = time.monotonic()
    elapsed0 = 0.0
    if start and (out / LOG_NAME).is_file():
        lines = (out / LOG_NAME).read_text(encoding="utf-8").splitlines()
        kept = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] <= start]
        (out / LOG_NAME).write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")
        if kept:
            elapsed0 = float(json.loads(kept[-1]).get("elapsed_s", 0.0))

    def save_state(step: int) -> None:
        _atomic_save(
            {"recipe": recipe.name, "config_json": json.dumps(config, sort_keys=True), "step": step,
             "trainer": trainer.state_dict()},
            state_path,
        )

    log_every = int(config.get("log_every", recipe.log_every))
    sample_every = int(config.get("sample_every", recipe.sample_every))
    checkpoint_every = int(config.get("checkpoint_every", recipe.checkpoint_every))
    bar = tqdm(total=total, initial=min(start, total), desc=recipe.name, disable=not progress, dynamic_ncols=True)
    with (out / LOG_NAME).open("a", encoding="utf-8") as log:
        for step in range(start, total):
            for m in trainer.modules.values():
                m.train()
            losses = trainer.train_step(step)
            bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
            if bad:
                raise TrainingError(f"{recipe.name}: non-finite loss at step {step + 1}: {bad}")
            done = step + 1
            if done % log_every == 0 or done == total:
                record = {"step": done, "elapsed_s": round(elapsed0 + time.monotonic() - t0, 2)}
                record.update({k: round(float(v), 5) for k, v in losses.items()})
                log.write(json.dumps(record) + "\n")
                log.flush()
                bar.set_postfix({k: f"{v:.3f}" for k, v in list(losses.items())[:4]})
            if done % sample_every == 0:
                save_grid(trainer.sample_grid(), out / SAMPLES_DIR / f"step_{done:06d}.png")
            if done % checkpoint_every == 0 or done == total:
                save_state(done)
            bar.update(1)
    bar.close()
    if start >= total and not state_path.is_file():
        save_state(total)
    trainer.steps_done = max(start, total)
    if export:
        save_grid(trainer.sample_grid(), out / FINAL_GRID)
        trainer.export(out)
    return out
