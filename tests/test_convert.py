"""convert.py: wrapper prefixes, HugGAN DCGAN, legacy norm buffers, mismatch reports, detection."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from gan_studio.architectures import build_architecture
from gan_studio.convert import convert_state_dict, detect_architecture, guess_kwargs, strip_wrapper_prefixes
from gan_studio.errors import CheckpointError, UnknownArchitectureError
from gan_studio.weights import load_strict

try:
    from reference_layouts import (
        HugGANDCGAN,
        RefResnetGenerator,
        RefStarGANGenerator,
        RefUnetGenerator,
        TutorialDCGAN,
        randomize,
        reference_norm_layer,
    )
except ImportError:  # tests/ imported as a package
    from tests.reference_layouts import (
        HugGANDCGAN,
        RefResnetGenerator,
        RefStarGANGenerator,
        RefUnetGenerator,
        TutorialDCGAN,
        randomize,
        reference_norm_layer,
    )

TINY_RESNET = {"input_nc": 3, "output_nc": 3, "ngf": 4, "n_blocks": 2}


# tiny models: one thread is faster and leaves the other core free (fixture in conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


def _ref_resnet(n_blocks: int = 2, *, use_dropout: bool = False, legacy_instance: bool = False) -> RefResnetGenerator:
    norm = reference_norm_layer("instance", legacy_instance=legacy_instance)
    return randomize(RefResnetGenerator(3, 3, 4, norm, use_dropout, n_blocks), seed=30 + n_blocks)


def _load(architecture: str, kwargs: dict, state_dict: dict) -> nn.Module:
    model = build_architecture(architecture, kwargs)
    load_strict(model, state_dict, source="test checkpoint")
    return model.eval()


def _image(seed: int, size: int = 16) -> torch.Tensor:
    return torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# --------------------------------------------------------------------------- wrapper prefixes


def test_dataparallel_prefix_is_stripped():
    ref = _ref_resnet().eval()
    wrapped = nn.DataParallel(ref)  # a real wrapper: keys become module.*
    sd = wrapped.state_dict()
    assert all(k.startswith("module.") for k in sd)
    converted = convert_state_dict(sd, "cyclegan_resnet", TINY_RESNET)
    assert set(converted) == set(ref.state_dict())
    ours = _load("cyclegan_resnet", TINY_RESNET, converted)
    x = _image(31)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))


def test_prefix_is_only_stripped_when_every_key_has_it():
    sd = {"module.a": torch.zeros(1), "b": torch.zeros(1)}
    assert strip_wrapper_prefixes(sd) == sd
    nested = {"module._orig_mod.module.x": torch.zeros(1)}
    assert list(strip_wrapper_prefixes(nested)) == ["x"]


def test_input_dict_is_not_modified():
    ref = _ref_resnet(legacy_instance=True)
    sd = {f"module.{k}": v for k, v in ref.state_dict().items()}
    before = list(sd)
    convert_state_dict(sd, "cyclegan_resnet", TINY_RESNET)
    assert list(sd) == before


# --------------------------------------------------------------------------- HugGAN DCGAN


def test_huggan_dcgan_model_prefix_becomes_main():
    hug = randomize(HugGANDCGAN(num_channels=3, latent_dim=8, hidden_size=4), seed=32).eval()
    sd = hug.state_dict()
    assert all(k.startswith("model.") for k in sd)
    kwargs = {"nz": 8, "ngf": 4, "nc": 3, "image_size": 64}
    converted = convert_state_dict(sd, "dcgan", kwargs, source="huggan")
    assert sorted(converted) == sorted(k.replace("model.", "main.", 1) for k in sd)
    ours = _load("dcgan", kwargs, converted)
    tutorial = TutorialDCGAN(8, 4, 3).eval()
    tutorial.load_state_dict(converted)
    z = torch.randn(3, 8, 1, 1, generator=torch.Generator().manual_seed(33))
    with torch.no_grad():
        expected = hug(z)
        torch.testing.assert_close(ours(z), expected)
        torch.testing.assert_close(tutorial(z), expected)


def test_model_prefix_is_left_alone_for_other_architectures():
    ref = _ref_resnet().eval()  # CycleGAN keys also start with model.
    converted = convert_state_dict(ref.state_dict(), "cyclegan_resnet", TINY_RESNET)
    assert set(converted) == set(ref.state_dict())


# --------------------------------------------------------------------------- legacy norm buffers


def test_old_cyclegan_checkpoint_instance_norm_running_stats_are_dropped(caplog):
    legacy = _ref_resnet(legacy_instance=True)  # the 2018 reference code: InstanceNorm with running stats
    sd = legacy.state_dict()
    n_instance_norms = sum(isinstance(m, nn.InstanceNorm2d) for m in legacy.modules())
    extra = [k for k in sd if k.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")]
    assert len(extra) == 3 * n_instance_norms > 0
    # Without the patch the strict loader refuses, naming the keys.
    with pytest.raises(CheckpointError, match=r"unexpected keys \(27\): model\.10\.conv_block\.2\.num_batches_tracked, model\.10\.conv_block\.2\.running_mean"):
        _load("cyclegan_resnet", TINY_RESNET, sd)
    with caplog.at_level(logging.INFO, logger="gan_studio.convert"):
        converted = convert_state_dict(sd, "resnet_6blocks", {**TINY_RESNET}, source="latest_net_G.pth")
    assert set(sd) - set(converted) == set(extra)
    assert f"dropped {len(extra)} InstanceNorm" in caplog.text and "latest_net_G.pth" in caplog.text
    ours = _load("cyclegan_resnet", TINY_RESNET, converted)
    # Same numbers as today's reference code (InstanceNorm without running stats) in eval().
    current = RefResnetGenerator(3, 3, 4, reference_norm_layer("instance"), False, 2).eval()
    current.load_state_dict(converted)
    x = _image(34)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), current(x))


def test_instance_norm_unet_gets_the_same_patch():
    legacy = randomize(RefUnetGenerator(3, 3, 5, 4, reference_norm_layer("instance", legacy_instance=True), False), 35)
    kwargs = {"num_downs": 5, "ngf": 4, "norm": "instance", "use_dropout": False}
    converted = convert_state_dict(legacy.state_dict(), "pix2pix_unet", kwargs)
    assert not any("running" in k or "num_batches" in k for k in converted)
    _load("pix2pix_unet", kwargs, converted)


def test_batchnorm_running_stats_are_kept():
    ref = randomize(RefUnetGenerator(3, 3, 5, 4, reference_norm_layer("batch"), True), 36)
    kwargs = {"num_downs": 5, "ngf": 4}
    sd = ref.state_dict()
    converted = convert_state_dict(sd, "pix2pix_unet", kwargs)
    assert converted.keys() == sd.keys()
    assert all(converted[k] is v for k, v in sd.items())  # untouched, not copied


def test_stargan_running_stats_are_kept_and_missing_num_batches_tracked_is_added(caplog):
    ref = randomize(RefStarGANGenerator(conv_dim=4, c_dim=2, repeat_num=1), 37)
    kwargs = {"conv_dim": 4, "c_dim": 2, "repeat_num": 1, "inference_norm": "running_stats"}
    full = ref.state_dict()
    assert convert_state_dict(full, "stargan", kwargs).keys() == full.keys()
    # A checkpoint from PyTorch < 0.4.1 has no num_batches_tracked.
    old = {k: v for k, v in full.items() if not k.endswith("num_batches_tracked")}
    with caplog.at_level(logging.INFO, logger="gan_studio.convert"):
        converted = convert_state_dict(old, "stargan", kwargs)
    assert converted.keys() == full.keys()
    assert "num_batches_tracked=0" in caplog.text
    added = [k for k in full if k.endswith("num_batches_tracked")]
    assert all(int(converted[k]) == 0 for k in added) and added
    ours = _load("stargan", kwargs, converted)
    x, c = _image(38), torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    with torch.no_grad():
        torch.testing.assert_close(ours(x, c), ref.eval()(x, c))


# --------------------------------------------------------------------------- nothing else is dropped


def test_unknown_keys_survive_conversion_and_are_reported():
    sd = dict(_ref_resnet().state_dict())
    sd["model.1.extra_buffer"] = torch.zeros(1)
    converted = convert_state_dict(sd, "cyclegan_resnet", TINY_RESNET)
    assert "model.1.extra_buffer" in converted
    with pytest.raises(CheckpointError, match=r"unexpected keys \(1\): model\.1\.extra_buffer"):
        _load("cyclegan_resnet", TINY_RESNET, converted)


def test_resnet_9blocks_checkpoint_into_resnet_6blocks_is_refused_with_a_report():
    sd = convert_state_dict(_ref_resnet(n_blocks=9).state_dict(), "resnet_9blocks", {"ngf": 4})
    converted = convert_state_dict(sd, "resnet_6blocks", {"ngf": 4})
    with pytest.raises(CheckpointError) as info:
        _load("resnet_6blocks", {"ngf": 4}, converted)
    message = str(info.value)
    assert "ResnetGenerator" in message
    assert "missing keys" in message and "model.16.weight" in message  # 6 blocks: upsampling starts at 16
    assert "unexpected keys" in message and "model.18.conv_block.1.weight" in message
    assert "shape mismatches" in message


def test_use_dropout_mismatch_reports_off_by_one_conv_block_keys():
    sd = _ref_resnet(use_dropout=True).state_dict()
    converted = convert_state_dict(sd, "cyclegan_resnet", TINY_RESNET)  # config says no dropout
    with pytest.raises(CheckpointError) as info:
        _load("cyclegan_resnet", TINY_RESNET, converted)
    message = str(info.value)
    assert "missing keys (4): model.10.conv_block.5.bias, model.10.conv_block.5.weight" in message
    assert "unexpected keys (4): model.10.conv_block.6.bias, model.10.conv_block.6.weight" in message
    # and with the right flag it loads
    _load("cyclegan_resnet", {**TINY_RESNET, "use_dropout": True}, convert_state_dict(sd, "cyclegan_resnet", {**TINY_RESNET, "use_dropout": True}))


def test_norm_mismatch_reports_running_stats():
    bn = randomize(RefResnetGenerator(3, 3, 4, reference_norm_layer("batch"), False, 2), 39).state_dict()
    converted = convert_state_dict(bn, "cyclegan_resnet", TINY_RESNET)  # config says instance
    with pytest.raises(CheckpointError, match=r"unexpected keys .*model\.2\.weight"):
        _load("cyclegan_resnet", TINY_RESNET, converted)


def test_unknown_architecture_is_refused():
    with pytest.raises(UnknownArchitectureError, match="choose one of"):
        convert_state_dict({}, "biggan", {})


# --------------------------------------------------------------------------- detection hints


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (lambda: TutorialDCGAN(8, 4, 3), "dcgan"),
        (lambda: HugGANDCGAN(3, 8, 4), "dcgan"),
        (lambda: nn.DataParallel(TutorialDCGAN(8, 4, 3)), "dcgan"),
        (lambda: RefResnetGenerator(3, 3, 4, reference_norm_layer("instance"), False, 2), "cyclegan_resnet"),
        (lambda: RefUnetGenerator(3, 3, 5, 4, reference_norm_layer("batch"), True), "pix2pix_unet"),
        (lambda: RefStarGANGenerator(4, 2, 1), "stargan"),
        (lambda: build_architecture("conditional_dcgan", {"nz": 4, "ngf": 4, "image_size": 8}), "conditional_dcgan"),
        (lambda: build_architecture("colorization_unet", {"base_channels": 4, "depth": 2}), "colorization_unet"),
        (lambda: nn.Linear(3, 3), None),
    ],
)
def test_detect_architecture(factory, expected):
    assert detect_architecture(factory().state_dict()) == expected


def test_guess_kwargs_reads_published_configs():
    with torch.device("meta"):
        resnet = RefResnetGenerator(3, 3, 64, reference_norm_layer("instance"), False, 9).state_dict()
        dropout = RefResnetGenerator(1, 2, 8, reference_norm_layer("batch"), True, 6).state_dict()
        unet = RefUnetGenerator(3, 3, 8, 64, reference_norm_layer("batch"), True).state_dict()
        stargan = RefStarGANGenerator(64, 5, 6).state_dict()
        dcgan = HugGANDCGAN(3, 100, 64).state_dict()
    assert guess_kwargs(resnet, "cyclegan_resnet") == {
        "n_blocks": 9, "ngf": 64, "input_nc": 3, "output_nc": 3, "norm": "instance", "use_dropout": False,
    }
    assert guess_kwargs(dropout, "resnet_6blocks") == {
        "n_blocks": 6, "ngf": 8, "input_nc": 1, "output_nc": 2, "norm": "batch", "use_dropout": True,
    }
    assert guess_kwargs(unet, "pix2pix_unet") == {"ngf": 64, "input_nc": 3, "output_nc": 3, "num_downs": 8, "norm": "batch"}
    assert guess_kwargs(stargan, "stargan") == {"repeat_num": 6, "conv_dim": 64, "c_dim": 5}
    assert guess_kwargs(dcgan, "dcgan") == {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64}
    cond = build_architecture("conditional_dcgan", {"nz": 7, "ngf": 4, "image_size": 16, "num_classes": 4, "embed_dim": 3})
    assert guess_kwargs(cond.state_dict(), "conditional_dcgan") == {
        "nz": 7, "ngf": 4, "nc": 1, "image_size": 16, "num_classes": 4, "embed_dim": 3,
    }
