"""Progressive growing (gan_studio.training.progressive): the schedule, the fade-in of generator,
discriminator and reals, the minibatch stddev, and a few real training steps on tiny networks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gan_studio.architectures import build_architecture
from gan_studio.training.progressive import (
    MinibatchStdDev,
    ProgressiveConfig,
    ProgressiveDiscriminator,
    ProgressiveGAN,
    ProgressiveSchedule,
    fade_reals,
)

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ProgressiveConfig(z_dim=8, fmaps_base=64, fmaps_max=8, batch_size=4)


def up(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="nearest")


# ---- schedule ----------------------------------------------------------------------------------
def test_resolutions_grow_in_order_and_phases_tile_the_steps():
    s = ProgressiveSchedule([4, 8, 16, 32], [10, 20, 20, 40], fade_fraction=0.5)
    assert s.total_steps == 90 and s.final_resolution == 32
    seen = [s.at(step)[0] for step in range(s.total_steps)]
    assert seen == [4] * 10 + [8] * 20 + [16] * 20 + [32] * 40
    assert [p.start for p in s.phases] == [0, 10, 30, 50]
    assert [p.fade_steps for p in s.phases] == [0, 10, 10, 20]  # the first phase has nothing to fade in
    assert s.at(10_000) == (32, 1.0)  # past the end: full resolution


def test_alpha_rises_linearly_from_0_to_1_across_each_fade_and_stays_1():
    s = ProgressiveSchedule([4, 8, 16], 8, fade_fraction=0.5)
    assert all(s.at(step)[1] == 1.0 for step in range(8))
    for phase in s.phases[1:]:
        alphas = [s.at(phase.start + t)[1] for t in range(phase.steps)]
        assert alphas[:4] == [0.0, 0.25, 0.5, 0.75]
        assert alphas[4:] == [1.0] * 4
        assert all(b >= a for a, b in zip(alphas, alphas[1:]))


def test_lod_is_log2_of_the_scale_plus_the_missing_alpha():
    s = ProgressiveSchedule([4, 8, 16, 32], 8, fade_fraction=0.5)
    lods = [s.lod(step) for step in range(s.total_steps)]
    assert lods[0] == 3.0 and lods[-1] == 0.0
    assert s.lod(8) == 3.0 and s.lod(10) == pytest.approx(2.5) and s.lod(12) == 2.0
    assert all(b <= a for a, b in zip(lods, lods[1:]))  # the level of detail only ever gets finer
    assert ProgressiveSchedule([8, 16], 4).lod(0, final_resolution=32) == 2.0


def test_zero_fade_switches_abruptly():
    s = ProgressiveSchedule([4, 8], [3, 3], fade_fraction=0.0)
    assert [s.at(i) for i in range(6)] == [(4, 1.0)] * 3 + [(8, 1.0)] * 3


@pytest.mark.parametrize("args, match", [
    (([], 5), "at least one"),
    (([4, 8, 24], 5), "powers of two"),
    (([2, 4], 5), "powers of two"),
    (([4, 16], 5), "twice"),
    (([4, 8], [5]), "one per resolution"),
    (([4, 8], 0), "positive"),
    (([4, 8], 5, 1.5), "fade_fraction"),
])
def test_bad_schedules_name_the_problem(args, match):
    with pytest.raises(ValueError, match=match):
        ProgressiveSchedule(*args)


# ---- fade-in: generator, discriminator, reals --------------------------------------------------
def _blocks(G, z, upto):
    """Run the pggan's blocks 0..upto by hand; returns the features after each."""
    from gan_studio.architectures.pggan import pixel_norm

    h = pixel_norm(z).reshape(z.shape[0], -1, 1, 1)
    feats = []
    for b in range(upto + 1):
        h = getattr(G, f"layer{2 * b + 1}")(getattr(G, f"layer{2 * b}")(h))
        feats.append(h)
    return feats


def test_the_pggan_at_each_schedule_lod_gives_the_progan_blend():
    torch.manual_seed(0)
    kwargs = {"resolution": 16, "z_space_dim": 8, "image_channels": 1, "fmaps_base": 64, "fmaps_max": 8}
    G = build_architecture("pggan", kwargs).eval()
    z = torch.randn(3, 8)
    s = ProgressiveSchedule([4, 8, 16], 8, fade_fraction=0.5)
    feats = _blocks(G, z, 2)
    rgb = [getattr(G, f"output{b}")(feats[b]) for b in range(3)]
    with torch.no_grad():
        for step in range(s.total_steps):
            res, alpha = s.at(step)
            G.lod.fill_(s.lod(step))
            k = int(math.log2(res)) - 2
            new = up(rgb[k], 16 // res)
            expected = new if k == 0 or alpha == 1.0 else alpha * new + (1 - alpha) * up(rgb[k - 1], 32 // res)
            torch.testing.assert_close(G(z), expected, rtol=1e-5, atol=1e-5, msg=f"step {step}")
    # the fade's two ends are the two plain resolutions
    with torch.no_grad():
        G.lod.fill_(s.lod(8))   # 8 px phase, alpha 0
        start = G(z)
        G.lod.fill_(s.lod(7))   # last step of the 4 px phase
        assert torch.equal(start, G(z))


def test_discriminator_fade_blends_the_new_stage_with_the_downsampled_image():
    torch.manual_seed(0)
    D = ProgressiveDiscriminator(16, image_channels=1, fmaps_base=64, fmaps_max=8).eval()
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        # alpha 0: only the previous stage sees the (downsampled) image
        torch.testing.assert_close(D(x, 0.0), D(F.avg_pool2d(x, 2), 1.0))
        # in between: the block outputs are blended before the rest of the network
        assert not torch.allclose(D(x, 0.5), D(x, 1.0))
    assert D(x).shape == (4,) and D(torch.randn(4, 1, 4, 4)).shape == (4,)
    with pytest.raises(ValueError, match="power-of-two side"):
        D(torch.randn(4, 1, 12, 12))


def test_reals_fade_from_their_coarse_version():
    x = torch.randn(2, 1, 8, 8)
    coarse = up(F.avg_pool2d(x, 2))
    torch.testing.assert_close(fade_reals(x, 0.0), coarse)
    torch.testing.assert_close(fade_reals(x, 0.25), 0.25 * x + 0.75 * coarse)
    assert fade_reals(x, 1.0) is x


def test_minibatch_stddev_appends_the_group_standard_deviation():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4)
    out = MinibatchStdDev(4)(x)
    assert out.shape == (8, 4, 4, 4)
    torch.testing.assert_close(out[:, :3], x)
    groups = x.reshape(4, 2, 3, 4, 4)  # image i is in group i % 2, as in ProGAN
    expected = torch.sqrt(groups.var(dim=0, unbiased=False) + 1e-8).mean(dim=(1, 2, 3))
    torch.testing.assert_close(out[:, 3, 0, 0], expected.repeat(4))
    assert MinibatchStdDev(4)(torch.randn(6, 2, 4, 4)).shape == (6, 3, 4, 4)  # group 3 divides 6


# ---- training ----------------------------------------------------------------------------------
def _images(n=12, side=16, channels=3):
    g = torch.Generator().manual_seed(5)
    return torch.rand(n, channels, side, side, generator=g) * 2 - 1


def test_a_tiny_progressive_run_grows_trains_and_samples():
    s = ProgressiveSchedule([4, 8, 16], [2, 3, 3], fade_fraction=0.5)
    gan = ProgressiveGAN(_images(), s, TINY, seed=1)
    log = []
    while not gan.done:
        log.append(gan.step())
    assert [int(r["resolution"]) for r in log] == [4, 4, 8, 8, 8, 16, 16, 16]
    assert [r["lod"] for r in log] == [s.lod(i) for i in range(8)]
    assert all(math.isfinite(v) for r in log for v in r.values())
    images = gan.sample([1, 2, 3])
    assert images.shape == (3, 3, 16, 16) and images.abs().max() <= 1
    torch.testing.assert_close(gan.sample([2]), images[1:2], rtol=0, atol=1e-4)  # a seed is an image (any batch)
    G, arch, kwargs = gan.export_generator()
    assert arch == "pggan" and float(G.lod) == 0.0 and kwargs["resolution"] == 16
    assert float(gan.G_ema.lod) == 0.0


def test_state_dict_resumes_bitwise(tmp_path):
    s = ProgressiveSchedule([4, 8], [2, 3])
    a = ProgressiveGAN(_images(side=8), s, TINY, seed=3)
    for _ in range(5):
        a.step()
    b = ProgressiveGAN(_images(side=8), s, TINY, seed=3)
    b.step()
    b.step()
    torch.save(b.state_dict(), tmp_path / "state.pt")
    c = ProgressiveGAN(_images(side=8), s, TINY, seed=3)
    c.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    for _ in range(3):
        c.step()
    for key, value in a.G_ema.state_dict().items():
        assert torch.equal(value, c.G_ema.state_dict()[key]), key
    assert c.step_count == 5


def test_exported_generator_loads_strictly_and_matches(tmp_path):
    from gan_studio.architectures import load_model_folder
    from gan_studio.weights import save_model_folder

    gan = ProgressiveGAN(_images(side=8, channels=1), ProgressiveSchedule([4, 8], 1), TINY)
    gan.step()
    gan.step()
    G, arch, kwargs = gan.export_generator()
    save_model_folder(G, tmp_path, architecture=arch, kwargs=kwargs, meta={"task": "unconditional"})
    loaded = load_model_folder(tmp_path).eval()
    z = torch.randn(2, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(z), G(z))


@pytest.mark.parametrize("images, match", [
    (torch.zeros(4, 1, 8, 16), "square"),
    (torch.zeros(4, 1, 16, 16), "ends at 8"),
    (torch.zeros(1, 1, 8, 8), "at least 2"),
    (torch.full((4, 1, 8, 8), 3.0), r"\[-1, 1\]"),
])
def test_bad_images_are_refused(images, match):
    with pytest.raises(ValueError, match=match):
        ProgressiveGAN(images, ProgressiveSchedule([4, 8], 1), TINY)


def test_config_from_a_recipe_dict_ignores_other_keys():
    cfg = ProgressiveConfig.from_mapping({"z_dim": 16, "betas": [0.0, 0.9], "resolutions": [4, 8], "eval_samples": 3})
    assert cfg.z_dim == 16 and cfg.betas == (0.0, 0.9)
    assert ProgressiveConfig.from_mapping(cfg.to_dict()) == cfg


def test_ema_warmup_restarts_at_each_phase():
    s = ProgressiveSchedule([4, 8], [10_000, 10_000])
    gan = ProgressiveGAN(_images(side=8), s, TINY)
    assert gan.ema_decay_at(0) == pytest.approx(0.1) and gan.ema_decay_at(10_000) == pytest.approx(0.1)
    assert gan.ema_decay_at(9999) == TINY.ema_decay == gan.ema_decay_at(19_999)  # capped at the configured decay
    assert gan.ema_decay_at(90) == pytest.approx(0.91)
    plain = ProgressiveGAN(_images(side=8), s, ProgressiveConfig(**{**TINY.to_dict(), "betas": (0.0, 0.99),
                                                                     "ema_phase_warmup": False}))
    assert plain.ema_decay_at(0) == plain.ema_decay_at(10_000) == TINY.ema_decay
