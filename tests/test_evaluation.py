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


# ---- colorization protocol ---------------------------------------------------------------------
class _ConstantColorizer(torch.nn.Module):
    """G(L) = the same ab/110 everywhere (zero = the greyscale baseline itself)."""

    size_multiple = 16

    def __init__(self, a: float, b: float) -> None:
        super().__init__()
        self.ab = torch.tensor([a, b]) / 110.0

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.ab.view(1, 2, 1, 1).expand(L.shape[0], 2, *L.shape[2:]).clone()


@pytest.fixture(scope="module")
def greyscale_scores():
    from gan_studio.evaluation import colorization_eval

    return colorization_eval(_ConstantColorizer(0.0, 0.0), "cpu", 64)


def test_colorization_split_is_every_photo_once_and_the_set_has_crops():
    from gan_studio import data as D
    from gan_studio.evaluation.protocols import COLORIZATION_CROPS, colorization_heldout_images

    train, held = set(D.COLORIZATION_TRAIN_PHOTOS), set(D.COLORIZATION_HELDOUT_PHOTOS)
    assert not train & held and train | held == set(D.PHOTOS)
    images = dict(colorization_heldout_images())
    assert len(images) >= 12 and len(images) == len(held) * (1 + len(COLORIZATION_CROPS))
    chelsea = D.load_photo("chelsea")
    h, w = chelsea.shape[:2]
    np.testing.assert_array_equal(images["chelsea"], chelsea)
    np.testing.assert_array_equal(images["chelsea/top-left"], chelsea[: h // 2, : w // 2])
    np.testing.assert_array_equal(images["chelsea/bottom-right"], chelsea[h - h // 2 :, w - w // 2 :])


def test_greyscale_output_scores_exactly_the_baseline(greyscale_scores):
    m = greyscale_scores
    assert m["images"] >= 12 and len(m["per_image"]) == m["images"]
    pairs = [("psnr_ab_db", "psnr_ab_baseline_db")] + [(k, f"{k}_baseline") for k in ("ciede2000", "cast_a", "cast_b", "cast_norm")]
    for key, base in pairs:
        assert m[key] == m[base], key
        for name, s in m["per_image"].items():
            assert s[key] == s[base], (name, key)
    assert m["psnr_ab_gain_db"] == 0 and m["ciede2000_gain"] == 0 and m["chroma"] == 0
    assert m["images_worse_than_greyscale"] == 0 and m["share_not_worse_than_greyscale"] == 1.0
    assert m["cast_norm_excess"] == 0 and m["cast_excess_max"] == 0
    # the baseline's cast is minus the mean colour of each image
    from gan_studio.evaluation.protocols import colorization_heldout_images
    from gan_studio.image_io import rgb_to_lab

    rgb = dict(colorization_heldout_images())["rocket/top-left"]
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])
    s = m["per_image"]["rocket/top-left"]
    assert s["cast_a_baseline"] == pytest.approx(-float(lab[0, 1].mean()), abs=1e-3)
    assert s["cast_b_baseline"] == pytest.approx(-float(lab[0, 2].mean()), abs=1e-3)
    assert s["chroma_true"] == pytest.approx(float(lab[0, 1:].norm(dim=0).mean()), abs=1e-3)


def test_a_known_cast_is_measured_as_that_cast(greyscale_scores):
    from gan_studio.evaluation import colorization_eval
    from gan_studio.evaluation.protocols import colorization_scores

    # scored directly: true colours plus a fixed offset
    gen = torch.Generator().manual_seed(3)
    lab = torch.cat([torch.rand(1, 1, 8, 8, generator=gen) * 100, torch.randn(1, 2, 8, 8, generator=gen) * 20], 1)
    shifted = lab + torch.tensor([0.0, 6.0, -4.0]).view(1, 3, 1, 1)
    s = colorization_scores(lab, shifted)
    assert s["cast_a"] == pytest.approx(6.0, abs=1e-4) and s["cast_b"] == pytest.approx(-4.0, abs=1e-4)
    assert colorization_scores(lab, lab)["ciede2000"] == 0.0 and colorization_scores(lab, lab)["psnr_ab_db"] == math.inf
    assert s["psnr_ab_db"] == pytest.approx(10 * math.log10(220**2 / ((36 + 16) / 2)), abs=1e-6)
    # through the protocol: a constant orange output adds exactly its colour to every image's offset,
    # and fails the do-no-harm bars (a blue sky turned orange)
    m = {"task": "colorization", **colorization_eval(_ConstantColorizer(20.0, 40.0), "cpu", 64)}
    for name, s in m["per_image"].items():
        base = greyscale_scores["per_image"][name]
        assert s["cast_a"] == pytest.approx(base["cast_a_baseline"] + 20.0, abs=2e-3), name
        assert s["cast_b"] == pytest.approx(base["cast_b_baseline"] + 40.0, abs=2e-3), name
    assert m["cast_a"] == pytest.approx(greyscale_scores["cast_a"] + 20.0, abs=2e-3)
    results = {r.metric: r.passed for r in check_bars(m)}
    assert not results["cast_excess_max"] and not results["share_not_worse_than_greyscale"]
    assert not results["psnr_ab_gain_db"] and not meets_bars(m)


def test_ciede2000_matches_skimage_on_a_known_pair():
    from skimage.color import deltaE_ciede2000

    from gan_studio.evaluation.protocols import ciede2000

    # Sharma, Wu & Dalal (2005), test pair 1: (50, 2.6772, -79.7751) vs (50, 0, -82.7485) -> 2.0425
    a = torch.tensor([50.0, 2.6772, -79.7751]).view(1, 3, 1, 1)
    b = torch.tensor([50.0, 0.0, -82.7485]).view(1, 3, 1, 1)
    assert ciede2000(a, b) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000(a, b) == pytest.approx(float(deltaE_ciede2000(a[0, :, 0, 0].numpy(), b[0, :, 0, 0].numpy())), abs=1e-5)


# ---- committed checkpoints ---------------------------------------------------------------------
COMMITTED = ["digits-dcgan", "digits-cgan", "photo2sketch", "digits-stargan", "photo-colorizer", "digits-wgan-gp",
             "digits-progan"]


@pytest.mark.parametrize("model_id", COMMITTED)
def test_committed_checkpoint_meets_its_bars_on_a_small_sample(model_id):
    folder = CHECKPOINTS / model_id
    if not folder.is_dir():
        pytest.fail(f"{folder} is missing: train it with `python -m gan_studio train {model_id} --out {folder}`")
    metrics = evaluate(folder, n_samples=SMALL_SAMPLE, seed=1)
    failed = [str(r) for r in check_bars(metrics, margin=MARGIN) if not r.passed]
    assert not failed, f"{model_id}: {failed}\n{format_report(metrics)}"


@pytest.mark.parametrize("model_id", ["digits-dcgan", "digits-cgan", "photo-colorizer", "digits-wgan-gp", "digits-progan"])
def test_card_numbers_are_reproduced_exactly(model_id):
    """The metrics stored in config.json (and the card) are what evaluate() gives with seed 0, n=1000."""
    import json

    folder = CHECKPOINTS / model_id
    stored = json.loads((folder / "config.json").read_text())["_gan_studio"]["metrics"]
    fresh = evaluate(folder, n_samples=stored["n_samples"], seed=stored["seed"])
    for key, value in stored.items():
        if isinstance(value, float):
            assert fresh[key] == pytest.approx(value, abs=1e-3), key
    for name, scores in stored.get("per_image", {}).items():  # the colorizer's per-image table
        for key, value in scores.items():
            assert fresh["per_image"][name][key] == pytest.approx(value, abs=1e-3), (name, key)
    card = (folder / "README.md").read_text()
    assert "| bar | value | result |" in card and "FAIL" not in card


@pytest.mark.parametrize("model_id", COMMITTED)
def test_committed_checkpoints_are_small(model_id):
    weights = sorted((CHECKPOINTS / model_id).rglob("model.safetensors"))
    assert weights
    for path in weights:
        assert path.stat().st_size < 5 * 2**20, path


@pytest.mark.parametrize("model_id", ["digits-wgan-gp", "digits-progan"])
def test_committed_unconditional_models_beat_the_do_nothing_baselines(model_id):
    """metrics.json keeps the baselines scored by the same protocol: the model must pass every bar the
    untrained network and the pixel Gaussians fail, and must not be a copier."""
    import json

    metrics = json.loads((CHECKPOINTS / model_id / "metrics.json").read_text())
    base = metrics["baselines"]
    assert all(v == "PASS" for v in metrics["bars"].values()), metrics["bars"]
    for name in ("untrained_generator", "pixel_gaussian", "train_copies"):
        assert not base[name]["bars_passed"], name
    for name in ("untrained_generator", "pixel_gaussian"):
        assert metrics["class_entropy_nats"] > base[name]["class_entropy_nats"], name
        assert metrics["confident_share"] > base[name]["confident_share"], name
    assert metrics["near_copy_share"] < base["train_copies"]["near_copy_share"]
