"""Recipes that train the studio's embedded default models (and the evaluators that score them).

>>> from gan_studio.training import RECIPES, train
>>> sorted(RECIPES)                                                     # doctest: +SKIP
>>> train("digits-dcgan", "checkpoints/digits-dcgan")                   # doctest: +SKIP

Every recipe is seeded, shows a tqdm progress bar, writes a JSON-lines loss log and periodic
sample grids next to the checkpoint, resumes from ``training_state.pt`` in its output folder, and
ends by exporting the generator, evaluating it (:mod:`gan_studio.evaluation`) and writing the
model card with the measured numbers. See :mod:`.loop` for the files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .loop import Recipe, Trainer, TrainingError

__all__ = ["RECIPES", "Recipe", "Trainer", "TrainingError", "train"]


_RECIPES: dict[str, Recipe] = {}


def _recipes() -> dict[str, Recipe]:
    if _RECIPES:
        return _RECIPES
    from .colorization import RECIPE as COLORIZER
    from .cyclegan import RECIPE as CYCLEGAN
    from .diffusion import RECIPE as DIFFUSION
    from .digits_gan import RECIPE_CONDITIONAL as CGAN
    from .digits_gan import RECIPE_UNCONDITIONAL as DCGAN
    from .digits_progan import RECIPE as PROGAN
    from .evaluators import EVALUATOR_RECIPES
    from .stargan import RECIPE as STARGAN
    from .wgan_gp import RECIPE as WGAN_GP

    recipes = {r.name: r for r in (DCGAN, CGAN, CYCLEGAN, STARGAN, COLORIZER, DIFFUSION, WGAN_GP, PROGAN)}
    recipes.update(EVALUATOR_RECIPES)
    _RECIPES.update(recipes)
    return _RECIPES


def __getattr__(name: str) -> Any:
    # RECIPES is built on first access, so importing one recipe module does not import them all.
    if name == "RECIPES":
        return _recipes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def train(
    recipe: str,
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
    """Train ``recipe`` into ``out_dir`` and return the folder.

    Args:
        recipe: a key of :data:`RECIPES`.
        out_dir: output folder; it receives the model folder(s), card, sample grids, loss log and
            ``training_state.pt``.
        steps: total optimisation steps (default: the recipe's). With ``resume`` a finished or
            partial run continues from its saved step up to ``steps``.
        seed: seeds model initialisation, data sampling and noise.
        resume: continue from ``out_dir/training_state.pt`` if present (same recipe and config).
        device: ``"cpu"``, ``"cuda"``, … (the defaults were trained on CPU).
        progress: show a tqdm progress bar.
        overrides: hyperparameters replacing the recipe's ``config`` (``recipe.tiny`` makes a
            quick test run).
        export: write the model folder(s), evaluate and write the card at the end.
    """
    from .loop import run

    try:
        spec = _recipes()[recipe]
    except KeyError:
        raise ValueError(f"unknown recipe {recipe!r}; choose one of: {', '.join(sorted(_recipes()))}") from None
    return run(spec, out_dir, steps=steps, seed=seed, resume=resume, device=device, progress=progress,
               overrides=overrides, export=export)
