"""Training recipes: a few steps of each on a tiny config, finite losses, resuming, export."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gan_studio.training import RECIPES, TrainingError, train
from gan_studio.training.loop import LOG_NAME, STATE_NAME

GAN_RECIPES = ["digits-dcgan", "digits-cgan", "photo2sketch", "digits-stargan", "photo-colorizer", "digits-wgan-gp",
               "digits-progan"]
EVALUATOR_RECIPES = ["evaluator-digits", "evaluator-digit-attributes", "evaluator-photo-sketch"]


# tiny models: one thread is faster and leaves the other core free (fixture in conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


def _log(folder):
    return [json.loads(line) for line in (folder / LOG_NAME).read_text().splitlines() if line.strip()]


def test_recipe_table_has_every_default_and_evaluator():
    assert set(GAN_RECIPES + EVALUATOR_RECIPES) <= set(RECIPES)
    tasks = {RECIPES[name].task for name in GAN_RECIPES}
    assert tasks == {"unconditional", "conditional", "translation", "multidomain", "colorization"}


def test_unknown_recipe_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match="digits-dcgan"):
        train("no-such-recipe", tmp_path)


@pytest.mark.parametrize("name", GAN_RECIPES + EVALUATOR_RECIPES)
def test_tiny_run_has_finite_losses_and_resumes(name, tmp_path):
    recipe = RECIPES[name]
    out = tmp_path / name
    train(name, out, steps=2, overrides=recipe.tiny, progress=False, export=False)
    state = torch.load(out / STATE_NAME, map_location="cpu", weights_only=True)
    assert state["step"] == 2
    log = _log(out)
    if log:
        assert all(math.isfinite(v) for rec in log for k, v in rec.items() if k != "step")
    # resume: continues from the saved step instead of starting again
    train(name, out, steps=3, overrides=recipe.tiny, progress=False, export=False)
    state = torch.load(out / STATE_NAME, map_location="cpu", weights_only=True)
    assert state["step"] == 3


def test_resume_is_bitwise_identical_to_an_uninterrupted_run(tmp_path):
    tiny = RECIPES["digits-dcgan"].tiny
    train("digits-dcgan", tmp_path / "a", steps=4, overrides=tiny, progress=False, export=False)
    train("digits-dcgan", tmp_path / "b", steps=2, overrides=tiny, progress=False, export=False)
    train("digits-dcgan", tmp_path / "b", steps=4, overrides=tiny, progress=False, export=False)
    a = torch.load(tmp_path / "a" / STATE_NAME, weights_only=True)["trainer"]["modules"]["G"]
    b = torch.load(tmp_path / "b" / STATE_NAME, weights_only=True)["trainer"]["modules"]["G"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    losses_a = [r["loss_d"] for r in _log(tmp_path / "a")]
    losses_b = [r["loss_d"] for r in _log(tmp_path / "b")]
    assert losses_a == losses_b and len(losses_a) == 4


def test_resume_refuses_a_different_config(tmp_path):
    tiny = dict(RECIPES["digits-dcgan"].tiny)
    train("digits-dcgan", tmp_path, steps=1, overrides=tiny, progress=False, export=False)
    tiny["ngf"] = 8
    with pytest.raises(TrainingError, match="different config"):
        train("digits-dcgan", tmp_path, steps=2, overrides=tiny, progress=False, export=False)


@pytest.mark.parametrize("name", ["digits-cgan", "photo2sketch"])
def test_tiny_export_writes_a_strictly_loadable_model_folder_and_card(name, tmp_path):
    from gan_studio.evaluation import load_folder

    out = tmp_path / name
    train(name, out, steps=1, overrides=RECIPES[name].tiny, progress=False)
    folders = [out / "AtoB", out / "BtoA"] if name == "photo2sketch" else [out]
    for folder in folders:
        module, kwargs, meta = load_folder(folder)
        assert meta["task"] == RECIPES[name].task
        assert meta["recipe"] == name
        for key in ("image_size", "channels", "labels", "exclusive", "license", "description", "metrics"):
            assert key in meta, key
        assert meta["metrics"]["task"] == meta["task"]
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: ")
    assert "library_name: gan_studio" in card
    assert f"python -m gan_studio train {name}" in card
    assert (out / "samples.png").is_file()


@pytest.mark.parametrize("name, architecture", [("digits-wgan-gp", "dcgan"), ("digits-progan", "pggan")])
def test_tiny_unconditional_export_reports_the_baselines(name, architecture, tmp_path):
    """The WGAN-GP and ProGAN digits recipes export a strict model folder whose metrics.json and card
    compare the model with the do-nothing baselines scored by the same protocol."""
    from gan_studio.evaluation import load_folder

    recipe = RECIPES[name]
    out = tmp_path / name
    train(name, out, steps=7 if name == "digits-progan" else 2, overrides=recipe.tiny, progress=False)
    module, kwargs, meta = load_folder(out)
    assert meta["architecture"] == architecture and meta["task"] == "unconditional" and meta["recipe"] == name
    if architecture == "pggan":
        assert float(module.get_buffer("lod")) == 0.0  # exported at full resolution
    metrics = json.loads((out / "metrics.json").read_text())
    baselines = metrics["baselines"]
    assert set(baselines) == {"untrained_generator", "pixel_gaussian", "train_copies", "heldout_real"}
    # the protocol can fail: copies fail the memorisation bar, real held-out digits pass every bar
    assert baselines["train_copies"]["near_copy_share"] == 1.0 and not baselines["train_copies"]["bars_passed"]
    assert baselines["heldout_real"]["bars_passed"] and baselines["heldout_real"]["n_samples"] == 360
    card = (out / "README.md").read_text()
    assert "Does it beat doing nothing?" in card and "| **this model** |" in card
    assert f"python -m gan_studio train {name}" in card
