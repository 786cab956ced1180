"""Evaluation: metric maths, the shipped evaluators, and the committed checkpoints against the bars.

The checkpoint tests recompute the metrics on a small sample (200 samples / crops, seed 1, which
differs from the seed 0 used for the model cards) and allow a margin of 0.05 on every share and
entropy bar: with 200 samples the standard error of a share near 0.9 is about 0.02, so 0.05 is
about 2.5 standard errors. Integer bars (all 10 classes present) get no margin.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_studio.evaluation import BARS, check_bars, evaluate, format_report, meets_bars
from gan_studio.evaluation import metrics as M
from gan_studio.evaluation.classifiers import load_evaluator, predict

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"
SMALL_SAMPLE = 200
MARGIN = 0.05


# tiny models: one thread is faster and leaves the other core free (fixture in conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


# ---- metric maths ------------------------------------------------------------------------------
def test_entropy_of_uniform_and_collapsed_histograms():
    assert M.entropy_nats([100] * 10) == pytest.approx(math.log(10))
    assert M.entropy_nats([1000] + [0] * 9) == 0.0
    assert M.entropy_nats([500, 500]) == pytest.approx(math.log(2))


def test_nearest_neighbour_check_flags_copies_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    train = torch.rand(200, 1, 8, 8, generator=gen) * 2 - 1
    copies = M.nearest_neighbour_check(train[:50] + 0.001, train)
    assert copies["near_copy_share"] == 1.0 and copies["nn_ratio"] < 0.05
    fresh = M.nearest_neighbour_check(torch.rand(50, 1, 8, 8, generator=gen) * 2 - 1, train)
    assert fresh["near_copy_share"] == 0.0 and fresh["nn_ratio"] > 0.8


def test_psnr_and_colourfulness():
    x = torch.zeros(1, 2, 4, 4)
    assert M.psnr(x + 0.1, x, data_range=2.0) == pytest.approx(10 * math.log10(4 / 0.01))
    grey = np.full((8, 8, 3), 0.5)
    assert M.colourfulness(grey) == 0.0
    red = np.zeros((8, 8, 3))
    red[..., 0] = 1.0
    assert M.colourfulness(red) > 80


def test_check_bars_passes_and_fails_on_real_numbers():
    good = {"task": "conditional", "class_accuracy": 0.93, "classifier_heldout_accuracy": 0.97}
    assert meets_bars(good)
    bad = {**good, "class_accuracy": 0.86}
    assert not meets_bars(bad)
    assert meets_bars(bad, margin=0.05)
    assert not meets_bars({"task": "conditional"})  # missing metrics fail
    with pytest.raises(ValueError, match="unconditional"):
        check_bars({"task": "nonsense"})
    assert set(BARS) == {"unconditional", "conditional", "translation", "multidomain", "colorization", "upscale"}


# ---- shipped evaluators ------------------------------------------------------------------------
def test_digit_classifier_heldout_accuracy_is_at_least_95_percent():
    from gan_studio.data import load_digits_32

    clf, info = load_evaluator("digits")
    x, y = load_digits_32("test")
    acc = float((predict(clf, x).argmax(1) == y).float().mean())
    assert acc >= 0.95
    assert acc == pytest.approx(info["heldout_accuracy"], abs=1e-3)


def test_attribute_classifier_recognises_each_transform():
    from gan_studio.data import ATTRIBUTES, apply_attributes, load_digits_32, to_rgb

    clf, _ = load_evaluator("digit-attributes")
    x, _ = load_digits_32("test")
    gen = torch.Generator().manual_seed(5)
    attrs = torch.randint(0, 2, (x.shape[0], len(ATTRIBUTES)), generator=gen).float()
    pred = (predict(clf, to_rgb(apply_attributes(x, attrs))) > 0).float()
    assert ((pred == attrs).float().mean(0) >= 0.95).all()


def test_domain_classifier_separates_heldout_photos_and_sketches():
    from gan_studio.data import grid_crops
    from gan_studio.evaluation import translation_eval_images

    clf, _ = load_evaluator("photo-sketch")
    photos, sketches = translation_eval_images()
    xp = torch.cat([grid_crops(p, 64) for p in photos])
    xs = torch.cat([grid_crops(s, 64) for s in sketches])
    assert float((predict(clf, xp) < 0).float().mean()) >= 0.9
    assert float((predict(clf, xs) > 0).float().mean()) >= 0.9


def test_untrained_generator_fails_the_bars(tmp_path):
    from gan_studio.architectures import build_architecture
    from gan_studio.weights import save_model_folder

    torch.manual_seed(0)
    kwargs = {"nz": 64, "ngf": 8, "nc": 1, "image_size": 32, "num_classes": 10, "embed_dim": 4}
    G = build_architecture("conditional_dcgan", kwargs).eval()
    save_model_folder(G, tmp_path, architecture="conditional_dcgan", kwargs=kwargs,
                      meta={"task": "conditional", "labels": [str(i) for i in range(10)]})
    metrics = evaluate(tmp_path, n_samples=100)
    assert metrics["class_accuracy"] < 0.5
    assert metrics["bars"]["class_accuracy"] == "FAIL"
    assert "FAIL  class_accuracy" in format_report(metrics)


# ---- committed checkpoints ---------------------------------------------------------------------
COMMITTED = ["digits-dcgan", "digits-cgan", "photo2sketch", "digits-stargan", "photo-colorizer"]


@pytest.mark.parametrize("model_id", COMMITTED)
def test_committed_checkpoint_meets_its_bars_on_a_small_sample(model_id):
    folder = CHECKPOINTS / model_id
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing: train it with `python -m gan_studio train {model_id} --out {folder}`")
    metrics = evaluate(folder, n_samples=SMALL_SAMPLE, seed=1)
    failed = [str(r) for r in check_bars(metrics, margin=MARGIN) if not r.passed]
    assert not failed, f"{model_id}: {failed}\n{format_report(metrics)}"


@pytest.mark.parametrize("model_id", ["digits-dcgan", "digits-cgan", "photo-colorizer"])
def test_card_numbers_are_reproduced_exactly(model_id):
    """The metrics stored in config.json (and the card) are what evaluate() gives with seed 0, n=1000."""
    import json

    folder = CHECKPOINTS / model_id
    stored = json.loads((folder / "config.json").read_text())["_gan_studio"]["metrics"]
    fresh = evaluate(folder, n_samples=stored["n_samples"], seed=stored["seed"])
    for key, value in stored.items():
        if isinstance(value, float):
            assert fresh[key] == pytest.approx(value, abs=1e-3), key
    card = (folder / "README.md").read_text()
    assert "| bar | value | result |" in card and "FAIL" not in card


@pytest.mark.parametrize("model_id", COMMITTED)
def test_committed_checkpoints_are_small(model_id):
    weights = sorted((CHECKPOINTS / model_id).rglob("model.safetensors"))
    assert weights
    for path in weights:
        assert path.stat().st_size < 5 * 2**20, path
