"""rosinality/stylegan2-pytorch checkpoints load into StyleGAN2Generator (NVIDIA's layout) with the same images.

Reference numbers (tests/data/stylegan2_rosinality_reference.safetensors) were made by running
rosinality's own ``model.py`` ``Generator`` on CPU (its pure-PyTorch ``upfirdn2d_native`` /
``fused_leaky_relu`` paths), none of its code is in this repository. To keep the file small, the
two generators (``s16``: size 16, style_dim 16, n_mlp 2; ``s32``: size 32, style_dim 16, n_mlp 3)
were built with their channel table shrunk to {4: 16, 8: 16, 16: 8, 32: 4} (a patch to the local
copy only; rosinality's widths are 512 up to 32 px); noise strengths and biases were randomised,
``latent_avg`` is ``mean_latent(64)``, images are ``G([z], randomize_noise=False)`` (the stored
``noises.noise_k``) at truncation 1 and at 0.7 around ``latent_avg``. The file's metadata also
holds the key -> shape lists of full-width layouts (size 64 cm 1, size 128 cm 2, size 64 cm 4).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from gan_studio.architectures.stylegan2 import StyleGAN2Generator, setup_filter
from gan_studio.cli import main
from gan_studio.convert import (
    build_and_load,
    convert_state_dict,
    detect_architecture,
    guess_kwargs,
    guess_rosinality_config,
    rosinality_to_nvidia,
)
from gan_studio.errors import CheckpointError
from gan_studio.weights import load_strict, load_weight_file

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCE = Path(__file__).parent / "data" / "stylegan2_rosinality_reference.safetensors"
ATOL = 1e-5


def _reference() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(REFERENCE), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())


TENSORS, META = _reference()


def _g_ema(name: str) -> dict[str, torch.Tensor]:
    prefix = f"{name}/g_ema/"
    return {k[len(prefix):]: v.clone() for k, v in TENSORS.items() if k.startswith(prefix)}


def _images(module: StyleGAN2Generator, name: str, psi: float) -> torch.Tensor:
    with torch.no_grad():
        return module.eval()(TENSORS[f"{name}/z"], truncation=psi, noise_mode="const")


@pytest.mark.parametrize("name", ["s16", "s32"])
def test_converted_generator_gives_rosinality_images(name):
    state, kwargs = rosinality_to_nvidia(_g_ema(name), TENSORS[f"{name}/latent_avg"], source=name)
    config = json.loads(META[name])
    assert kwargs["img_resolution"] == config["size"] and kwargs["z_dim"] == kwargs["w_dim"] == config["style_dim"]
    assert kwargs["mapping_kwargs"] == {"num_layers": config["n_mlp"]}
    assert kwargs["synthesis_kwargs"] == {"channel_base": 128, "channel_max": 16, "conv_clamp": None,
                                          "architecture": "skip"}
    module = StyleGAN2Generator(**kwargs)
    load_strict(module, state, source=name)  # the key map is complete: strict, nothing missing or left over
    for psi, key in ((1.0, "img_psi1"), (0.7, "img_psi07")):
        torch.testing.assert_close(_images(module, name, psi), TENSORS[f"{name}/{key}"], atol=ATOL, rtol=0)


def test_every_rosinality_key_is_used_and_extra_ones_are_reported():
    sd = _g_ema("s16")
    state, _ = rosinality_to_nvidia(sd, TENSORS["s16/latent_avg"], source="s16")
    # PixelNorm and the blur kernels carry no NVIDIA tensor of their own (resample_filter is rebuilt from the
    # kernels' taps); every other rosinality tensor becomes exactly one NVIDIA tensor, plus w_avg from latent_avg
    kernels = [k for k in sd if k.endswith("kernel")]
    assert len([k for k in state if not k.endswith(("resample_filter", "w_avg"))]) == len(sd) - len(kernels)
    torch.testing.assert_close(state["synthesis.b8.conv0.noise_const"], sd["noises.noise_1"][0, 0], atol=0, rtol=0)
    torch.testing.assert_close(state["synthesis.b16.conv1.noise_const"], sd["noises.noise_4"][0, 0], atol=0, rtol=0)
    sd["style.1.extra"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"unexpected keys \(1\): style\.1\.extra"):
        rosinality_to_nvidia(sd, source="extra.pt")


def test_convert_state_dict_and_detection_recognise_the_layout():
    sd = _g_ema("s32")
    assert detect_architecture(sd) == "stylegan2"
    assert detect_architecture({f"module.{k}": v for k, v in sd.items()}) == "stylegan2"
    guessed = guess_kwargs(sd, "stylegan2")
    assert guessed == {"z_dim": 16, "w_dim": 16, "img_resolution": 32, "mapping_kwargs": {"num_layers": 3},
                       "synthesis_kwargs": {"channel_base": 128, "channel_max": 16, "conv_clamp": None,
                                            "architecture": "skip"}}
    state = convert_state_dict(sd, "stylegan2", guessed, extras={"latent_avg": TENSORS["s32/latent_avg"]})
    module = StyleGAN2Generator(**guessed)
    load_strict(module, state, source="s32")
    torch.testing.assert_close(_images(module, "s32", 0.7), TENSORS["s32/img_psi07"], atol=ATOL, rtol=0)
    # through build_and_load with no kwargs at all: the config comes from the weights
    module = build_and_load(sd, "stylegan2", {}, extras={"latent_avg": TENSORS["s32/latent_avg"]})
    assert module.config["img_resolution"] == 32
    torch.testing.assert_close(_images(module, "s32", 1.0), TENSORS["s32/img_psi1"], atol=ATOL, rtol=0)


def _meta_layout(name: str) -> dict[str, torch.Tensor]:
    """A full-width rosinality state dict with no memory (meta tensors); the blur kernels are real."""
    shapes = json.loads(META[name])
    kernel = setup_filter([1, 3, 3, 1]) * 4
    return {k: kernel.clone() if k.endswith("kernel") else torch.empty(s, device="meta") for k, s in shapes.items()}


@pytest.mark.parametrize(("name", "size", "cm", "channel_base"), [
    ("layout_64_cm1", 64, 1, 16384),
    ("layout_128_cm2", 128, 2, 32768),
])
def test_real_rosinality_widths_map_to_nvidia_channel_base(name, size, cm, channel_base):
    sd = _meta_layout(name)
    guess = guess_rosinality_config(sd)
    assert (guess["size"], guess["style_dim"], guess["n_mlp"], guess["channel_multiplier"]) == (size, 512, 8, cm)
    state, kwargs = rosinality_to_nvidia(sd, torch.zeros(512), source=name)
    assert kwargs["synthesis_kwargs"]["channel_base"] == channel_base
    assert kwargs["synthesis_kwargs"]["channel_max"] == 512
    with torch.device("meta"):
        own = StyleGAN2Generator(**kwargs).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in own.items()}


def test_widths_without_an_nvidia_equivalent_are_refused():
    # channel_multiplier 4 at 64 px: 1024 channels after 512 at 32 px; min(base // res, max) cannot rise
    with pytest.raises(CheckpointError, match=r"no NVIDIA equivalent"):
        rosinality_to_nvidia(_meta_layout("layout_64_cm4"), torch.zeros(512), source="cm4.pt")


def test_a_missing_key_is_named(tmp_path):
    sd = _g_ema("s16")
    del sd["convs.1.noise.weight"]
    sd["to_rgbs.0.bias"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as info:
        build_and_load(sd, "stylegan2", {}, source="broken.pt")
    message = str(info.value)
    assert "broken.pt: rosinality StyleGAN2 layout (size=16, style_dim=16, n_mlp=2" in message
    assert "missing keys (1): convs.1.noise.weight" in message
    assert "shape mismatches (1): to_rgbs.0.bias: checkpoint (3,) vs expected (1, 3, 1, 1)" in message


def test_without_latent_avg_w_avg_is_the_seeded_mean_of_the_mapping(caplog):
    sd = _g_ema("s16")
    with caplog.at_level(logging.WARNING, logger="gan_studio.convert"):
        state, kwargs = rosinality_to_nvidia(sd, source="train.pt")
    assert "no latent_avg" in caplog.text
    again, _ = rosinality_to_nvidia(sd, source="train.pt")
    torch.testing.assert_close(state["mapping.w_avg"], again["mapping.w_avg"], atol=0, rtol=0)
    module = StyleGAN2Generator(**kwargs)
    load_strict(module, state, source="train.pt")
    with torch.no_grad():
        w = module.mapping(torch.randn(4096, 16, generator=torch.Generator().manual_seed(0)), None)[:, 0]
    torch.testing.assert_close(state["mapping.w_avg"], w.mean(0))
    torch.testing.assert_close(_images(module, "s16", 1.0), TENSORS["s16/img_psi1"], atol=ATOL, rtol=0)


def _training_checkpoint(path: Path, **extra) -> Path:
    sd = _g_ema("s16")
    args = argparse.Namespace(size=16, latent=16, n_mlp=2, channel_multiplier=2, lr=0.002, path="/data/lmdb",
                              augment=False, r1=10.0)
    torch.save({"g": sd, "d": {"convs.0.0.weight": torch.zeros(2, 3, 1, 1)}, "g_ema": sd,
                "latent_avg": TENSORS["s16/latent_avg"], "g_optim": {"state": {}, "param_groups": []},
                "args": args, "ada_aug_p": 0.0, **extra}, path)
    return path


def test_a_training_checkpoint_with_args_converts_through_the_cli(tmp_path):
    src = _training_checkpoint(tmp_path / "000100.pt")
    out = tmp_path / "converted"
    assert main(["convert", str(src), str(out), "--architecture", "stylegan2", "--key", "g_ema"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["img_resolution"] == 16 and config["synthesis_kwargs"]["channel_base"] == 128
    assert config["_gan_studio"]["architecture"] == "stylegan2"
    module = StyleGAN2Generator.from_pretrained(out)
    torch.testing.assert_close(module.mapping.w_avg, TENSORS["s16/latent_avg"], atol=0, rtol=0)
    for psi, key in ((1.0, "img_psi1"), (0.7, "img_psi07")):
        torch.testing.assert_close(_images(module, "s16", psi), TENSORS[f"s16/{key}"], atol=ATOL, rtol=0)
    # the Namespace came back as a plain attribute bag, and was allowed for that one call only
    assert load_weight_file(src)["args"].size == 16
    assert argparse.Namespace not in torch.serialization.get_safe_globals()


class _NotWeights:
    """An arbitrary class next to the weights: the weights-only unpickler must refuse it."""

    ran = False

    def __setstate__(self, state):
        type(self).ran = True


def test_nothing_but_the_namespace_is_unpickled(tmp_path, capsys):
    src = _training_checkpoint(tmp_path / "hostile.pt", extra=_NotWeights())
    with pytest.raises(CheckpointError, match="refused"):
        load_weight_file(src)
    assert main(["convert", str(src), str(tmp_path / "out"), "--architecture", "stylegan2", "--key", "g_ema"]) != 0
    assert "hostile.pt: refused" in capsys.readouterr().err
    assert not _NotWeights.ran
    assert not (tmp_path / "out" / "model.safetensors").exists()
