"""How models run (gan_studio.runtime): precision, channels-last, torch.compile, threads, warm-up.

The speed of each setting is measured by bench/benchmark.py (docs/benchmarks.md), never here; these
tests check what the settings do to the outputs: bf16 within the stated tolerance of fp32 on every
embedded model, channels-last and compile equal to eager fp32, and clear refusals.
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_studio.contract import Contract, Task
from gan_studio.registry import load_registry
from gan_studio.runtime import BF16_MIN_PSNR, Runtime, cpu_has_native_bf16
from gan_studio.studio import Studio

ROOT = Path(__file__).resolve().parents[1]


def psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert x.shape == y.shape
    mse = float(((x - y) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def photo(side: int, seed: int = 0) -> Image.Image:
    gen = torch.Generator().manual_seed(seed)
    # smooth, photo-like content (a blurred noise field), not white noise
    field = torch.nn.functional.interpolate(torch.rand(1, 3, side // 8, side // 8, generator=gen), size=(side, side),
                                            mode="bicubic", align_corners=False).clamp(0, 1)
    return Image.fromarray((field[0].permute(1, 2, 0) * 255).to(torch.uint8).numpy(), "RGB")


def outputs(studio: Studio, model: str) -> list[Image.Image]:
    """What each embedded model makes through the studio: a few images per task."""
    spec = studio.spec(model)
    task = spec.task.value
    if task in ("unconditional", "conditional"):
        return [r.image for r in studio.generate(model, seed=3, n=4)]
    side = int(spec.image_size or 64)
    if task == "translation":
        return [studio.translate(model, photo(side, seed=1), direction=v).image for v in (spec.variants or [None])]
    if task == "multidomain":
        return [studio.translate_attributes(model, photo(side, seed=2), [spec.labels[0]]).image]
    return [studio.colorize(model, photo(side, seed=4).convert("L").convert("RGB")).image]


# ---- settings and their refusals -------------------------------------------------------------------
def test_runtime_refuses_unknown_settings_naming_the_choices():
    with pytest.raises(ValueError, match="unknown precision 'fp8'.*auto, fp32, bf16, fp16"):
        Runtime(precision="fp8")
    with pytest.raises(ValueError, match="unknown channels-last setting 'yes'.*auto, on, off"):
        Runtime(channels_last="yes")
    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        Runtime(threads=0)
    with pytest.raises(ValueError, match="'fp16' needs a CUDA or MPS device"):
        Studio(device="cpu", precision="fp16")


def _contract(name: str, **kwargs: object) -> Contract:
    """The declared contract of a small instance of architecture ``name``."""
    from gan_studio.architectures import build_architecture

    small = {"dcgan": {"ngf": 4}, "cyclegan_resnet": {"ngf": 4, "n_blocks": 1}, "stargan": {"conv_dim": 4, "repeat_num": 1},
             "pix2pix_unet": {"ngf": 4, "num_downs": 5}, "huggan_pix2pix_unet": {"ngf": 4}}
    return build_architecture(name, {**small.get(name, {}), **kwargs}).contract


def test_automatic_choices_follow_the_device_the_cpu_and_the_measured_table():
    auto = Runtime()
    resnet, dcgan, pix2pix = _contract("cyclegan_resnet"), _contract("dcgan"), _contract("pix2pix_unet")
    diffusion = Contract(task=Task.UNCONDITIONAL, latent_dim=16, steps=True, auto_bf16=False)  # as DiffusionGenerator declares
    assert auto.precision_for("cuda", resnet) == "fp16"
    assert auto.precision_for("mps", resnet) == "fp32"
    assert auto.precision_for("cpu", resnet) == ("bf16" if cpu_has_native_bf16() else "fp32")
    assert auto.precision_for("cpu", diffusion) == "fp32"  # kept out of automatic bf16
    assert Runtime(precision="fp32").precision_for("cuda", dcgan) == "fp32"
    assert auto.channels_last_for("cpu", dcgan, "bf16") and auto.channels_last_for("cpu", dcgan, "fp32")
    assert not auto.channels_last_for("cpu", resnet, "bf16")  # measured slower
    assert not auto.channels_last_for("cpu", pix2pix, "bf16")  # would change its dropout masks
    assert not auto.channels_last_for("cuda", dcgan, "fp16")  # not measured on a GPU: not automatic
    assert Runtime(channels_last="on").channels_last_for("cuda", _contract("stargan"), "fp16")
    assert "bf16" not in pix2pix.channels_last and not pix2pix.compile and pix2pix.stochastic


def test_models_that_keep_dropout_on_stay_contiguous_unless_asked(models_toml):
    unet = _contract("huggan_pix2pix_unet", inference_dropout=True)
    assert not Runtime().channels_last_for("cpu", unet, "bf16")
    plain = _contract("huggan_pix2pix_unet")
    assert Runtime().channels_last_for("cpu", plain, "bf16")
    assert Runtime(channels_last="on").channels_last_for("cpu", unet, "bf16")
    loaded = Studio(models_file=str(models_toml), device="cpu", precision="bf16").load("tiny-pix2pix")
    assert not loaded.channels_last


def test_the_loaded_model_carries_its_settings(models_toml):
    studio = Studio(models_file=str(models_toml), device="cpu", precision="bf16", channels_last="on")
    loaded = studio.load("tiny-dcgan")
    assert loaded.precision == "bf16" and loaded.dtype == torch.float32  # bf16 is autocast over fp32 weights
    assert loaded.channels_last
    conv = next(p for p in loaded.module.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    fp32 = Studio(models_file=str(models_toml), device="cpu", half=False)
    assert fp32.load("tiny-dcgan").channels_last  # automatic: in the measured table for dcgan
    plain = fp32.load("tiny-cyclegan")
    assert plain.precision == "fp32" and not plain.channels_last and plain.compiled is None


def test_threads_setting_is_applied():
    before = torch.get_num_threads()
    try:
        Studio(device="cpu", threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# ---- outputs within tolerance ----------------------------------------------------------------------
EMBEDDED = ["digits-dcgan", "digits-cgan", "photo2sketch", "digits-stargan", "photo-colorizer"]


@pytest.mark.parametrize("model", EMBEDDED)
def test_bf16_stays_within_the_stated_tolerance_of_fp32_on_every_embedded_model(model):
    fp32 = outputs(Studio(device="cpu", precision="fp32", channels_last="off"), model)
    bf16 = outputs(Studio(device="cpu", precision="bf16", channels_last="off"), model)
    scores = [psnr(a, b) for a, b in zip(fp32, bf16)]
    assert min(scores) >= BF16_MIN_PSNR, f"{model}: PSNR of bf16 against fp32 {scores} dB"
    assert any(s != math.inf for s in scores), "bf16 changed nothing: was it applied?"


@pytest.mark.parametrize("model", ["tiny-dcgan", "tiny-cgan", "tiny-cyclegan", "tiny-stargan", "tiny-colorizer"])
def test_channels_last_gives_the_fp32_images(models_toml, model):
    plain = outputs(Studio(models_file=str(models_toml), device="cpu", precision="fp32", channels_last="off"), model)
    cl = outputs(Studio(models_file=str(models_toml), device="cpu", precision="fp32", channels_last="on"), model)
    for a, b in zip(plain, cl):
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 1


def test_provenance_records_the_precision_and_the_reproducing_command_repeats_it(models_toml):
    from gan_studio.cli import reproduce_command

    bf16 = Studio(models_file=str(models_toml), device="cpu", precision="bf16").generate("tiny-dcgan", seed=5)[0]
    assert bf16.params["precision"] == "bf16"
    assert reproduce_command(bf16.params).endswith("--precision bf16 -o OUT.png")
    fp32 = Studio(models_file=str(models_toml), device="cpu", precision="fp32").generate("tiny-dcgan", seed=5)[0]
    assert "precision" not in fp32.params and "--precision" not in reproduce_command(fp32.params)


def test_cli_generate_takes_the_runtime_options(tmp_path, models_toml):
    out = tmp_path / "a.png"
    cmd = [sys.executable, "-m", "gan_studio", "generate", "--models", str(models_toml), "--model", "tiny-dcgan",
           "--device", "cpu", "--precision", "bf16", "--channels-last", "on", "--threads", "1", "-o", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    info = subprocess.run([sys.executable, "-m", "gan_studio", "info", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert "--precision bf16" in info.stdout
    bad = subprocess.run([*cmd[:-2], "--precision", "fp16", "-o", str(tmp_path / "b.png")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "'fp16' needs a CUDA or MPS device" in bad.stderr


# ---- torch.compile ---------------------------------------------------------------------------------
def test_compiled_model_gives_the_eager_images(models_toml):
    eager = Studio(models_file=str(models_toml), device="cpu", precision="fp32")
    compiled = Studio(models_file=str(models_toml), device="cpu", precision="fp32", compile=True)
    loaded = compiled.load("tiny-cyclegan")
    assert loaded.compiled is not None
    image = photo(32, seed=9)
    a = eager.translate("tiny-cyclegan", image).image
    b = compiled.translate("tiny-cyclegan", image).image
    assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 1
    assert loaded.compiled is not None  # it ran compiled, it did not fall back


def test_models_that_keep_dropout_on_are_not_compiled(models_toml, caplog):
    with caplog.at_level(logging.INFO, logger="gan_studio.runtime"):
        loaded = Studio(models_file=str(models_toml), device="cpu", compile=True).load("tiny-pix2pix")
    assert loaded.compiled is None
    assert "not compiling tiny-pix2pix: it keeps dropout on at inference" in caplog.text


def test_a_failing_compiled_model_falls_back_to_eager_with_a_warning(models_toml, caplog):
    studio = Studio(models_file=str(models_toml), device="cpu", precision="fp32")
    expected = studio.generate("tiny-dcgan", seed=2)[0].image
    loaded = studio.load("tiny-dcgan")

    def broken(*args, **kwargs):
        raise RuntimeError("inductor: no C++ compiler")

    loaded.compiled = broken
    with caplog.at_level(logging.WARNING, logger="gan_studio.models"):
        got = studio.generate("tiny-dcgan", seed=2)[0].image
    assert got.tobytes() == expected.tobytes()
    assert loaded.compiled is None
    assert "compiled tiny-dcgan failed (RuntimeError: inductor: no C++ compiler); running it eagerly" in caplog.text


def test_an_input_the_eager_model_refuses_too_keeps_the_compiled_model(models_toml):
    loaded = Studio(models_file=str(models_toml), device="cpu", precision="fp32").load("tiny-dcgan")

    def strict(*args, **kwargs):
        raise ValueError("bad input")

    loaded.compiled = strict
    with pytest.raises(ValueError, match="z must have shape"), loaded.inference():
        loaded.forward(torch.zeros(1, 3, 5, 5))  # wrong shape for the eager module too
    assert loaded.compiled is strict


# ---- warm-up ---------------------------------------------------------------------------------------
def test_warm_up_loads_the_default_model_of_each_job_and_reports_failures():
    studio = Studio(device="cpu")
    defaults = studio.default_models()
    tasks = [load_registry().get(m).task.value for m in defaults]
    assert tasks == ["unconditional", "translation", "multidomain", "colorization"]
    done = studio.warm_up()
    assert set(done) == set(defaults) and all(isinstance(s, float) for s in done.values())
    assert {key[0] for key in studio.cache.keys()} == set(defaults)
    bad = studio.warm_up(["no-such-model"])
    assert bad["no-such-model"].startswith("UnknownModelError: unknown model 'no-such-model'")


def test_app_help_lists_the_runtime_options():
    done = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for option in ("--precision", "--channels-last", "--compile", "--threads", "--warmup"):
        assert option in done.stdout


def test_channels_last_converts_4d_tensors_and_leaves_others():
    """A model with a 5-D table (the colorizer's per-head priors) still runs channels-last."""
    import torch

    from gan_studio.contract import Contract, Task
    from gan_studio.runtime import prepare_module

    module = torch.nn.Conv2d(3, 4, 3)
    module.register_buffer("table", torch.zeros(2, 3, 4, 5, 6))
    out, _ = prepare_module(module, Contract(task=Task.TRANSLATION, in_channels=3), channels_last=True,
                            compile=False, name="m")
    assert out.weight.is_contiguous(memory_format=torch.channels_last)
    assert not out.weight.is_contiguous() and out.get_buffer("table").is_contiguous()
