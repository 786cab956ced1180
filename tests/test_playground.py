"""The 2-D playground (gan_studio/training/playground.py): seeded runs of the presets, every loss,
the measures, user points, the drawing and the CLI.

The collapse-versus-coverage contrast comes from running the presets: both use the same ring,
networks, loss and seed and differ only in their learning rates; the test only counts modes.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_studio.errors import UserInputError
from gan_studio.training.playground import (
    LIVE_FIELDS,
    LOSSES,
    PRESETS,
    TARGETS,
    Playground,
    PlaygroundConfig,
    coverage,
    js_divergence,
    make_target,
    parse_points_csv,
    points_from_drawing,
)
from gan_studio.training.playground_draw import render_curves, render_frame, render_plane


@pytest.fixture(autouse=True)
def _one_thread(one_thread: None) -> None:
    """Small MLPs: one thread is faster and leaves the other core to the other sessions."""


def _run(name: str) -> Playground:
    preset = PRESETS[name]
    return Playground(preset.config).run(preset.steps)


# ---- the presets: collapse versus coverage ---------------------------------------------------------
@pytest.mark.slow  # two 1000-step runs: ~10 s alone on this CPU, 40 s when it is shared
def test_mode_collapse_preset_collapses_and_the_stable_preset_covers_the_ring():
    collapse, stable = PRESETS["mode collapse"], PRESETS["stable"]
    # the two presets differ only in the learning rates: the contrast is the run's, not the test's
    assert replace(collapse.config, g_lr=0, d_lr=0) == replace(stable.config, g_lr=0, d_lr=0)
    assert collapse.config.target == stable.config.target == "ring" and collapse.config.seed == stable.config.seed

    collapsed = _run("mode collapse")
    history = collapsed.history["coverage"]
    second_half = history[len(history) // 2:]
    assert collapsed.measure()["coverage"] <= 2
    assert max(second_half) <= 3, f"the mode-collapse run covered {max(second_half)} of 8 modes at some point"
    assert collapsed.measure()["js"] > 0.6

    covering = _run("stable")
    final = covering.measure()
    assert final["coverage"] >= 7, final  # (almost) all eight modes
    assert final["quality"] > 0.4 and final["js"] < 0.4
    assert collapsed.g_updates == covering.g_updates == 1000


def test_a_run_is_reproducible_from_its_seed_and_differs_for_another_seed():
    config = replace(PRESETS["stable"].config, metrics_every=5)
    a, b = Playground(config).run(30), Playground(config).run(30)
    assert a.history == b.history
    assert np.array_equal(a.snapshot().fake, b.snapshot().fake)
    c = Playground(replace(config, seed=1)).run(30)
    assert c.history["g_loss"] != a.history["g_loss"]


# ---- losses, optimisers, steps --------------------------------------------------------------------
@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_every_loss_trains_and_stays_finite(loss: str, optimizer: str):
    config = PlaygroundConfig(loss=loss, g_optimizer=optimizer, d_optimizer=optimizer, d_steps=2, batch_size=64,
                              metrics_every=5, g_lr=1e-2 if optimizer == "sgd" else 1e-3)
    pg = Playground(config)
    before = [p.detach().clone() for p in pg.G.parameters()]
    pg.run(20)
    assert pg.g_updates == 20 and pg.d_updates == 40
    assert any(not torch.equal(a, b) for a, b in zip(before, pg.G.parameters(), strict=True))
    for key, values in pg.history.items():
        assert all(math.isfinite(v) for v in values[1:]), (key, values)
    snap = pg.snapshot()
    assert np.isfinite(snap.heat).all() and 0 <= snap.heat.min() and snap.heat.max() <= 1
    assert np.isfinite(snap.arrows).all() and snap.arrows.shape == snap.fake.shape


def test_the_added_losses_match_their_formulas_and_the_penalty_takes_points_and_images():
    from gan_studio.training.losses import (
        d_minimax,
        d_wgan,
        g_minimax,
        g_nonsaturating,
        g_wgan,
        gradient_penalty,
    )

    gen = torch.Generator().manual_seed(0)
    r, f = torch.randn(64, generator=gen), torch.randn(64, generator=gen)
    sr, sf = torch.sigmoid(r), torch.sigmoid(f)
    assert torch.allclose(d_minimax(r, f), -(sr.log().mean() + (1 - sf).log().mean()), atol=1e-5)
    assert torch.allclose(g_minimax(f), (1 - sf).log().mean(), atol=1e-5)
    assert torch.allclose(g_nonsaturating(f), -sf.log().mean(), atol=1e-5)
    assert torch.allclose(d_wgan(r, f), f.mean() - r.mean()) and torch.equal(g_wgan(f), -f.mean())
    # a linear critic has gradient w everywhere: the penalty is (|w| - 1)^2 for points and images alike
    w = torch.tensor([3.0, 4.0])
    points = gradient_penalty(lambda x: x @ w, torch.randn(8, 2), torch.randn(8, 2), generator=gen)
    assert torch.allclose(points, torch.tensor(16.0))
    images = gradient_penalty(lambda x: 2 * x.sum(dim=(1, 2, 3)), torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2))
    assert torch.allclose(images, torch.tensor(9.0))  # |grad| = 2 * sqrt(4) = 4


def test_step_d_moves_only_d_and_step_g_moves_only_g():
    pg = Playground(PlaygroundConfig(metrics_every=1))
    g0 = [p.detach().clone() for p in pg.G.parameters()]
    d0 = [p.detach().clone() for p in pg.D.parameters()]
    pg.step("d")
    assert all(torch.equal(a, b) for a, b in zip(g0, pg.G.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d0, pg.D.parameters(), strict=True))
    d1 = [p.detach().clone() for p in pg.D.parameters()]
    pg.step("g")
    assert all(torch.equal(a, b) for a, b in zip(d1, pg.D.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(g0, pg.G.parameters(), strict=True))
    assert (pg.d_updates, pg.g_updates) == (1, 1)
    with pytest.raises(UserInputError, match="both, d, g"):
        pg.step("x")


def test_the_arrows_point_where_the_generator_loss_decreases():
    pg = Playground(PlaygroundConfig(metrics_every=50)).run(50)
    snap = pg.snapshot()
    fake = torch.from_numpy(snap.fake)
    moved = fake + 1e-3 * torch.from_numpy(snap.arrows) / float(np.abs(snap.arrows).max())
    with torch.no_grad():
        assert float(pg.loss.g_loss(pg.D(moved).squeeze(1))) < float(pg.loss.g_loss(pg.D(fake).squeeze(1)))


def test_live_settings_change_in_place_and_others_restart():
    pg = Playground(PlaygroundConfig(metrics_every=1)).run(3)
    assert LIVE_FIELDS >= {"g_lr", "d_lr", "loss", "d_steps"}
    assert pg.update(replace(pg.config, g_lr=0.01, d_steps=2)) is False
    assert pg.g_updates == 3 and pg.g_opt.param_groups[0]["lr"] == 0.01
    assert pg.update(replace(pg.config, g_width=32)) is True
    assert pg.g_updates == 0 and pg.G[0].out_features == 32


def test_a_long_history_is_thinned_not_dropped(monkeypatch: pytest.MonkeyPatch):
    import gan_studio.training.playground as module

    monkeypatch.setattr(module, "MAX_HISTORY", 10)
    pg = Playground(PlaygroundConfig(metrics_every=1, batch_size=16)).run(25)
    steps = pg.history["step"]
    assert len(steps) <= 10 and steps[0] == 0 and steps[-1] == 25 and steps == sorted(steps)
    assert all(len(v) == len(steps) for v in pg.history.values())


def test_bad_settings_name_the_value_and_the_choices():
    with pytest.raises(UserInputError, match="unknown loss 'wgan'.*hinge"):
        PlaygroundConfig(loss="wgan").validated()
    with pytest.raises(UserInputError, match="unknown target 'circle'.*ring"):
        PlaygroundConfig(target="circle").validated()
    with pytest.raises(UserInputError, match="batch size"):
        PlaygroundConfig(batch_size=0).validated()
    with pytest.raises(UserInputError, match="g lr"):
        PlaygroundConfig(g_lr=0.0).validated()
    with pytest.raises(UserInputError, match="unknown playground setting"):
        PlaygroundConfig.from_dict({"lr": 1})


# ---- targets and measures -------------------------------------------------------------------------
@pytest.mark.parametrize("name", [t for t in TARGETS if t != "custom"])
def test_real_samples_cover_their_own_modes(name: str):
    target = make_target(name)
    real = target.sample(4000, torch.Generator().manual_seed(0))
    assert real.shape == (4000, 2) and float(real.abs().max()) < 1.5
    cov = coverage(real, target.modes, target.radius)
    assert cov["covered"] == cov["total"] == len(target.modes)
    assert js_divergence(real, target.sample(4000, torch.Generator().manual_seed(1))) < 0.05


def test_coverage_and_divergence_see_a_single_mode():
    target = make_target("ring")
    gen = torch.Generator().manual_seed(0)
    one_mode = target.modes[0] + 0.03 * torch.randn(1000, 2, generator=gen)
    cov = coverage(one_mode, target.modes, target.radius)
    assert cov["covered"] == 1 and cov["quality"] > 0.99
    real = target.sample(2000, gen)
    assert js_divergence(real, one_mode) > 0.7
    assert js_divergence(real, torch.full((100, 2), 10.0)) > 0.99  # off the plane: clipped to its border


# ---- user points ------------------------------------------------------------------------------------
def test_csv_points_with_a_header_train_as_the_custom_target():
    text = "x,y\n" + "\n".join(f"{math.cos(a):.4f},{math.sin(a):.4f}" for a in np.linspace(0, 6, 50))
    points = parse_points_csv(text.encode())
    assert points.shape == (50, 2)
    pg = Playground(PlaygroundConfig(target="custom", metrics_every=5), points).run(10)
    assert pg.target.name == "custom" and 2 <= len(pg.target.modes) <= 8
    assert float(pg.eval_real.abs().max()) < 1.2  # normalised into the plane


@pytest.mark.parametrize(("data", "message"), [
    (b"1,2\n3\n", "line 2 .* 1 values"),
    (b"1,2\n3,four\n", "line 2 .* not two numbers"),
    (b"1,2\n3,nan\n", "not finite"),
    (b"1,2,3\n4,5,6\n", "3 values"),
    (b"x,y\n1,2\n", "1 point"),
    (b"", "0 point"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
])
def test_bad_csv_is_a_clear_user_error(data: bytes, message: str):
    with pytest.raises(UserInputError, match=message):
        parse_points_csv(data)


def test_too_many_points_and_custom_without_points_are_refused():
    with pytest.raises(UserInputError, match="more than 10 points"):
        parse_points_csv("\n".join("1,2" for _ in range(11)), max_points=10)
    with pytest.raises(UserInputError, match="at least 2 points"):
        Playground(PlaygroundConfig(target="custom"))


def test_drawn_strokes_become_points_with_y_up():
    canvas = np.zeros((100, 100, 4), np.uint8)
    canvas[10:12, 80:90] = (0, 0, 0, 255)  # a short stroke near the top right
    points = points_from_drawing(canvas)
    assert len(points) == 20
    assert float(points[:, 0].min()) > 0.5 and float(points[:, 1].min()) > 0.7
    white = np.full((50, 50, 3), 255, np.uint8)
    with pytest.raises(UserInputError, match="drawing is empty"):
        points_from_drawing(white)
    white[25, 10:30] = 0
    assert len(points_from_drawing(white)) == 20


# ---- drawing ------------------------------------------------------------------------------------------
def test_frames_show_the_game_and_change_as_it_trains():
    pg = Playground(PlaygroundConfig(metrics_every=5))
    first = render_frame(pg.snapshot(), 200)
    pg.run(20)
    snap = pg.snapshot()
    assert len(snap.grid_lines) == 22  # 11 lines each way for 2-D noise
    second = render_frame(snap, 200)
    assert first.size == second.size == (408, 200)
    assert np.abs(np.asarray(first, np.int16) - np.asarray(second, np.int16)).mean() > 1
    plane = np.asarray(render_plane(snap, 200, arrows=False, grid=False, modes=False, caption=False))
    # the real points are drawn in green, the fakes in purple, the background is the heat map
    assert ((plane == (22, 140, 60)).all(axis=2)).sum() > 50
    assert ((plane == (130, 40, 170)).all(axis=2)).sum() > 50
    curves = render_curves(snap.history, (300, 300), n_modes=8)
    assert curves.size == (300, 300) and np.asarray(curves).std() > 5
    one_d = Playground(PlaygroundConfig(noise_dim=1)).snapshot()
    assert len(one_d.grid_lines) == 1 and one_d.grid_lines[0].shape == (60, 2)
    assert Playground(PlaygroundConfig(noise_dim=5)).snapshot().grid_lines == []


# ---- the CLI ----------------------------------------------------------------------------------------
def test_cli_writes_curves_and_a_final_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from PIL import Image

    from gan_studio.cli import main

    out = tmp_path / "run"
    args = ["playground", "--preset", "stable", "--loss", "hinge", "--steps", "25", "--seed", "3",
            "--metrics-every", "10", "--filmstrip", "2", "--out", str(out)]
    assert main(args) == 0
    assert "25 steps" in capsys.readouterr().out
    with open(out / "curves.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["step"]) for r in rows] == [0, 10, 20, 25]
    assert set(rows[0]) == {"step", "d_loss", "g_loss", "d_real", "d_fake", "js", "coverage", "quality"}
    summary = json.loads((out / "curves.json").read_text())
    assert summary["config"]["loss"] == "hinge" and summary["config"]["seed"] == 3 and summary["steps"] == 25
    assert 0 <= summary["final"]["coverage"] <= 8
    assert Image.open(out / "final.png").size == (848, 420)
    assert Image.open(out / "filmstrip.png").size == (2 * 284 - 4, 280)
    assert main(args) == 2  # no silent overwrite
    assert "exist" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    assert main(["playground", "--preset", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\nthree,4\n")
    assert main(["playground", "--points", str(bad), "--out", str(tmp_path / "y")]) == 2
    assert "line 2" in capsys.readouterr().err


# ---- the tab's handlers (no server: the functions behind the events) -----------------------------------
def _tab_handlers() -> dict[str, object]:
    import gradio as gr

    from gan_studio.ui.train import build_train_tab

    with gr.Blocks() as demo:
        build_train_tab()
    return {f.api_name: f.fn for f in demo.fns.values()}


def test_the_tab_steps_resets_and_takes_uploaded_or_drawn_points(tmp_path: Path):
    import gradio as gr

    from gan_studio.ui.train import CONTROL_FIELDS, DEFAULT_PRESET

    fns = _tab_handlers()
    assert {"playground_tick", "playground_step", "playground_step_d", "playground_step_g", "playground_reset",
            "playground_play", "playground_pause", "playground_preset", "playground_upload",
            "playground_drawing", "playground_slow_motion"} <= set(fns)
    values = [getattr(PRESETS[DEFAULT_PRESET].config, name) for name in CONTROL_FIELDS]
    session, plane, curves, status = fns["playground_step"](None, DEFAULT_PRESET, *values, False)
    assert session.playground.g_updates == 1 and "step 1" in status
    for html in (plane, curves):  # frames travel inline, as PNG data URLs (no files pile up in the cache)
        import base64
        import io

        from PIL import Image

        data = html.split("base64,", 1)[1].split('"', 1)[0]
        assert Image.open(io.BytesIO(base64.b64decode(data))).size == (420, 420)
    session, *_ = fns["playground_step_d"](session, DEFAULT_PRESET, *values, False)
    assert (session.playground.d_updates, session.playground.g_updates) == (2, 1)
    session, *_ = fns["playground_tick"](session, DEFAULT_PRESET, *values, True)  # slow motion: one step a tick
    assert session.playground.g_updates == 2
    session, *_ = fns["playground_reset"](session, DEFAULT_PRESET, *values)
    assert session.playground.g_updates == 0

    good = tmp_path / "points.csv"
    good.write_text("x,y\n0,0\n1,1\n2,0\n3,1\n")
    session, _, _, _, target = fns["playground_upload"](str(good), session, DEFAULT_PRESET, *values)
    assert session.playground.config.target == "custom" and len(session.points) == 4 and target["value"] == "custom"
    bad = tmp_path / "bad.csv"
    bad.write_text("0,0\n1,one\n")
    with pytest.raises(gr.Error, match="line 2"):
        fns["playground_upload"](str(bad), session, DEFAULT_PRESET, *values)
    layer = np.zeros((60, 60, 4), np.uint8)
    layer[30, 5:55] = (0, 0, 0, 255)
    session, *_ = fns["playground_drawing"]({"background": None, "layers": [layer], "composite": None},
                                            session, DEFAULT_PRESET, *values)
    assert len(session.points) == 50 and session.playground.target.name == "custom"
    bad_values = list(values)
    bad_values[CONTROL_FIELDS.index("g_lr")] = 0
    with pytest.raises(gr.Error, match="g lr"):
        fns["playground_step"](session, DEFAULT_PRESET, *bad_values, False)


def test_the_speed_benchmark_runs_and_writes_its_figures(tmp_path: Path):
    """bench/playground.py stays runnable (tiny run; the figures are printed, never asserted)."""
    from bench.playground import main as bench_main

    out = tmp_path / "playground.json"
    assert bench_main(["--steps", "4", "--repeats", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["steps_per_s"]) == {"reference", "playground", "playground_no_measures", "wgan-gp"}
    assert report["frames_per_s"] > 0 and set(report["frame_s"]) == {"snapshot", "draw", "png"}
