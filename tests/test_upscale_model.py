"""The embedded upscaler: its recipe (tiny run, resume, export with card), its committed folder
(the card's numbers recomputed exactly, the bars met: it beats bicubic), and the degradation model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gan_studio.evaluation import check_bars, evaluate
from gan_studio.evaluation.degradation import bicubic_down, degrade
from gan_studio.training import RECIPES, train
from gan_studio.training.loop import STATE_NAME

FOLDER = Path(__file__).resolve().parents[1] / "checkpoints" / "photo-upscaler-x4"
pytestmark = pytest.mark.usefixtures("one_thread")


def test_degradations_are_seeded_and_shrink_four_times() -> None:
    hr = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(0))
    a = degrade(hr, torch.Generator().manual_seed(3))
    b = degrade(hr, torch.Generator().manual_seed(3))
    c = degrade(hr, torch.Generator().manual_seed(4))
    assert a.shape == (2, 3, 16, 12) and torch.equal(a, b) and not torch.equal(a, c)
    assert 0 <= float(a.min()) and float(a.max()) <= 1
    clean = bicubic_down(hr)
    assert clean.shape == (2, 3, 16, 12) and torch.equal(clean * 255, (clean * 255).round())


def test_tiny_recipe_trains_resumes_and_exports(tmp_path: Path) -> None:
    tiny = RECIPES["photo-upscaler-x4"].tiny
    out = tmp_path / "up"
    train("photo-upscaler-x4", out, steps=1, overrides=tiny, progress=False, export=False)
    assert torch.load(out / STATE_NAME, weights_only=True)["step"] == 1
    train("photo-upscaler-x4", out, steps=2, overrides=tiny, progress=False)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "upscale" and metrics["scale"] == 4
    for key in ("clean_psnr_gain_db", "degraded_psnr_gain_db", "clean_ssim", "degraded_ssim_bicubic"):
        assert isinstance(metrics[key], float)
    card = (out / "README.md").read_text()
    assert "python -m gan_studio train photo-upscaler-x4" in card and "| bar | value | result |" in card


@pytest.mark.skipif(not (FOLDER / "config.json").is_file(), reason="photo-upscaler-x4 not trained yet")
def test_committed_upscaler_card_numbers_are_reproduced() -> None:
    stored = json.loads((FOLDER / "config.json").read_text())["_gan_studio"]["metrics"]
    assert stored == json.loads((FOLDER / "metrics.json").read_text())
    fresh = evaluate(FOLDER, n_samples=stored["n_samples"], seed=stored["seed"])
    for key, value in stored.items():
        if isinstance(value, float):
            assert fresh[key] == pytest.approx(value, abs=1e-3), key
    card = (FOLDER / "README.md").read_text()
    assert f"{stored['clean_psnr_db']:.4g}" in card and f"{stored['degraded_psnr_gain_db']:.4g}" in card
    assert (FOLDER / "model.safetensors").stat().st_size < 1 * 2**20


@pytest.mark.skipif(not (FOLDER / "config.json").is_file(), reason="photo-upscaler-x4 not trained yet")
def test_committed_upscaler_beats_bicubic_on_average_and_its_card_says_where_it_does_not() -> None:
    metrics = json.loads((FOLDER / "metrics.json").read_text())
    assert all(r.passed for r in check_bars(metrics)), metrics["bars"]
    assert metrics["heldout_photos"] == ["chelsea", "coffee", "astronaut", "rocket"]
    card = (FOLDER / "README.md").read_text()
    for name, kinds in metrics["per_image"].items():  # every held-out photo where it loses is named
        for kind, row in kinds.items():
            if row["psnr_db"] < row["psnr_bicubic_db"]:
                assert f"{name} {row['psnr_db'] - row['psnr_bicubic_db']:+.2f} dB {kind}" in card
