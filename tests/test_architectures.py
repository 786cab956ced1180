"""Architectures: registry, presets, published layouts key for key, and the reference's numbers.

Every equivalence test builds the reference-structured module (tests/reference_layouts.py) with
random weights and random norm statistics, moves its state dict through ``convert_state_dict``
and ``load_strict`` into our class, and compares outputs under the reference's inference
behaviour.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_studio.architectures import (
    ARCHITECTURE_PRESETS,
    ARCHITECTURES,
    ColorizationUNet,
    ConditionalDCGANGenerator,
    DCGANGenerator,
    ResnetGenerator,
    StarGANGenerator,
    UnetGenerator,
    accepted_kwargs,
    build_architecture,
    resolve_architecture,
)
from gan_studio.convert import convert_state_dict
from gan_studio.errors import UnknownArchitectureError
from gan_studio.weights import load_strict

try:
    from reference_layouts import (
        RefResnetGenerator,
        RefStarGANGenerator,
        RefUnetGenerator,
        TutorialDCGAN,
        randomize,
        reference_norm_layer,
    )
except ImportError:  # tests/ imported as a package
    from tests.reference_layouts import (
        RefResnetGenerator,
        RefStarGANGenerator,
        RefUnetGenerator,
        TutorialDCGAN,
        randomize,
        reference_norm_layer,
    )


# tiny models: one thread is faster and leaves the other core free (fixture in conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


def transplant(ref: nn.Module, architecture: str, kwargs: dict) -> nn.Module:
    """Reference weights -> our architecture, the way the studio loads them; returned in eval()."""
    ours = build_architecture(architecture, kwargs)
    sd = convert_state_dict(ref.state_dict(), architecture, kwargs, source="reference")
    load_strict(ours, sd, source="reference")
    return ours.eval()


def meta_shapes(module_factory) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        module = module_factory()
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def norm_buffers(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items() if "running" in k or "num_batches" in k}


# --------------------------------------------------------------------------- registry


def test_registry_is_the_documented_table():
    """docs/architecture.md documents every architecture (and nothing that isn't one)."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = doc.split("## Architectures", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
    assert documented == set(ARCHITECTURES)
    for name, cls in {
        "dcgan": DCGANGenerator,
        "conditional_dcgan": ConditionalDCGANGenerator,
        "cyclegan_resnet": ResnetGenerator,
        "pix2pix_unet": UnetGenerator,
        "stargan": StarGANGenerator,
        "colorization_unet": ColorizationUNet,
    }.items():
        assert ARCHITECTURES[name] is cls
    assert ARCHITECTURE_PRESETS == {
        "resnet_6blocks": ("cyclegan_resnet", {"n_blocks": 6}),
        "resnet_9blocks": ("cyclegan_resnet", {"n_blocks": 9}),
        "unet_128": ("pix2pix_unet", {"num_downs": 7}),
        "unet_256": ("pix2pix_unet", {"num_downs": 8}),
    }


def test_documented_constructor_defaults():
    assert accepted_kwargs("dcgan") == {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64}
    assert accepted_kwargs("conditional_dcgan") == {
        "nz": 100, "ngf": 64, "nc": 1, "image_size": 32, "num_classes": 10, "embed_dim": 50,
    }
    assert accepted_kwargs("cyclegan_resnet") == {
        "input_nc": 3, "output_nc": 3, "ngf": 64, "n_blocks": 9, "norm": "instance", "use_dropout": False,
    }
    assert accepted_kwargs("pix2pix_unet") == {
        "input_nc": 3, "output_nc": 3, "num_downs": 8, "ngf": 64, "norm": "batch", "use_dropout": True,
        "inference_norm": "batch_stats", "inference_dropout": True,
    }
    assert accepted_kwargs("stargan") == {"conv_dim": 64, "c_dim": 5, "repeat_num": 6, "inference_norm": "instance_stats"}
    assert accepted_kwargs("colorization_unet") == {"base_channels": 32, "depth": 4, "bin_size": 0, "temperature": 1.0,
                                                    "heads": 1, "head_priors": None}
    assert accepted_kwargs("unet_128")["num_downs"] == 7


def test_resolve_architecture_expands_presets_and_user_kwargs_win():
    assert resolve_architecture("resnet_6blocks", None) == ("cyclegan_resnet", {"n_blocks": 6})
    assert resolve_architecture("unet_256", {"ngf": 8}) == ("pix2pix_unet", {"num_downs": 8, "ngf": 8})
    assert resolve_architecture("unet_128", {"num_downs": 6}) == ("pix2pix_unet", {"num_downs": 6})
    assert resolve_architecture("dcgan", {"nz": 16}) == ("dcgan", {"nz": 16})
    model = build_architecture("resnet_6blocks", {"ngf": 4})
    assert isinstance(model, ResnetGenerator) and model.n_blocks == 6 and model.ngf == 4


def test_unknown_architecture_lists_valid_names_including_presets():
    with pytest.raises(UnknownArchitectureError) as info:
        build_architecture("resnet_12blocks")
    message = str(info.value)
    assert "'resnet_12blocks'" in message
    for name in [*ARCHITECTURES, *ARCHITECTURE_PRESETS]:
        assert name in message


def test_unknown_kwarg_is_named_with_the_accepted_ones():
    with pytest.raises(UnknownArchitectureError) as info:
        build_architecture("dcgan", {"nz": 8, "latent_dim": 100})
    message = str(info.value)
    assert "'latent_dim'" in message
    for name in ("nz", "ngf", "nc", "image_size"):
        assert name in message


@pytest.mark.parametrize(
    ("name", "kwargs", "needle"),
    [
        ("dcgan", {"image_size": 48}, "48"),
        ("cyclegan_resnet", {"norm": "group"}, "'group'"),
        ("pix2pix_unet", {"inference_norm": "eval"}, "'eval'"),
        ("pix2pix_unet", {"num_downs": 4}, "num_downs"),
        ("stargan", {"inference_norm": "batch_stats"}, "'batch_stats'"),
        ("colorization_unet", {"depth": 0}, "depth"),
        ("colorization_unet", {"bin_size": 111}, "bin_size"),
        ("colorization_unet", {"bin_size": 20, "temperature": 0}, "temperature"),
        ("dcgan", {"ngf": "64"}, "ngf"),
    ],
)
def test_bad_kwarg_values_raise_a_named_error(name, kwargs, needle):
    with pytest.raises(UnknownArchitectureError, match=needle):
        build_architecture(name, kwargs)


# --------------------------------------------------------------------------- published layouts, full size


@pytest.mark.parametrize(
    ("reference", "architecture", "kwargs"),
    [
        (lambda: TutorialDCGAN(), "dcgan", {}),
        (lambda: RefResnetGenerator(3, 3, 64, reference_norm_layer("instance"), False, 9), "resnet_9blocks", {}),
        (lambda: RefResnetGenerator(3, 3, 64, reference_norm_layer("instance"), False, 6), "resnet_6blocks", {}),
        (lambda: RefResnetGenerator(3, 3, 64, reference_norm_layer("instance"), True, 9), "resnet_9blocks", {"use_dropout": True}),
        (lambda: RefResnetGenerator(3, 3, 64, reference_norm_layer("batch"), False, 9), "resnet_9blocks", {"norm": "batch"}),
        (lambda: RefResnetGenerator(1, 3, 64, reference_norm_layer("none"), False, 6), "resnet_6blocks", {"norm": "none", "input_nc": 1}),
        (lambda: RefUnetGenerator(3, 3, 8, 64, reference_norm_layer("batch"), True), "unet_256", {}),
        (lambda: RefUnetGenerator(3, 3, 7, 64, reference_norm_layer("batch"), True), "unet_128", {}),
        (lambda: RefUnetGenerator(3, 3, 8, 64, reference_norm_layer("instance"), False), "unet_256", {"norm": "instance", "use_dropout": False}),
        (lambda: RefStarGANGenerator(64, 5, 6), "stargan", {}),
    ],
)
def test_full_size_keys_and_shapes_match_the_reference(reference, architecture, kwargs):
    expected = meta_shapes(reference)
    got = meta_shapes(lambda: build_architecture(architecture, kwargs))
    assert sorted(got) == sorted(expected)
    assert got == expected


def test_published_key_names():
    resnet = meta_shapes(lambda: build_architecture("resnet_9blocks"))
    for key in ("model.1.weight", "model.4.weight", "model.7.weight", "model.10.conv_block.1.weight",
                "model.18.conv_block.5.bias", "model.19.weight", "model.22.weight", "model.26.weight"):
        assert key in resnet
    assert resnet["model.19.weight"] == (256, 128, 3, 3)  # ConvTranspose2d: (in, out, k, k)
    assert not any("running" in k for k in resnet)  # InstanceNorm without running stats
    dropout = meta_shapes(lambda: build_architecture("resnet_9blocks", {"use_dropout": True}))
    assert "model.10.conv_block.6.weight" in dropout and "model.10.conv_block.5.weight" not in dropout
    unet = meta_shapes(lambda: build_architecture("unet_256"))
    assert unet["model.model.0.weight"] == (64, 3, 4, 4) and "model.model.1.model.2.running_mean" in unet
    stargan = meta_shapes(lambda: build_architecture("stargan"))
    assert stargan["main.0.weight"] == (64, 8, 7, 7)
    assert {"main.9.main.0.weight", "main.14.main.4.running_var", "main.21.weight"} <= set(stargan)
    dcgan = meta_shapes(lambda: build_architecture("dcgan"))
    assert [k for k in dcgan if k.endswith(".weight") and len(dcgan[k]) == 4] == [f"main.{i}.weight" for i in (0, 3, 6, 9, 12)]


# --------------------------------------------------------------------------- DCGAN


@pytest.mark.parametrize("image_size", [8, 16, 32, 64, 128])
def test_dcgan_shapes_and_keys_per_size(image_size):
    torch.manual_seed(0)
    g = randomize(DCGANGenerator(nz=8, ngf=4, nc=3, image_size=image_size), seed=image_size).eval()
    n_hidden = image_size.bit_length() - 3
    convs = [k for k, v in g.state_dict().items() if k.endswith(".weight") and v.ndim == 4]
    assert convs == [f"main.{3 * i}.weight" for i in range(n_hidden + 1)]
    assert g.main[0].out_channels == 4 * image_size // 8 and g.main[3 * (n_hidden - 1)].out_channels == 4
    with torch.no_grad():
        out = g(torch.randn(2, 8))
    assert out.shape == (2, 3, image_size, image_size)
    assert out.abs().max() <= 1 and out.std() > 0.05


def test_dcgan_accepts_flat_and_4d_latents_and_rejects_others():
    torch.manual_seed(0)
    g = randomize(DCGANGenerator(nz=6, ngf=4, nc=1, image_size=16), 1).eval()
    z = torch.randn(3, 6)
    with torch.no_grad():
        torch.testing.assert_close(g(z), g(z[:, :, None, None]), rtol=0, atol=0)
    for bad in (torch.randn(3, 7), torch.randn(3, 6, 2, 2), torch.randn(6)):
        with pytest.raises(ValueError, match=r"\(N, 6\)"):
            g(bad)


def test_dcgan_matches_the_tutorial_generator():
    ref = randomize(TutorialDCGAN(nz=8, ngf=4, nc=3), seed=1).eval()
    ours = transplant(ref, "dcgan", {"nz": 8, "ngf": 4, "nc": 3, "image_size": 64})
    z = torch.randn(2, 8, 1, 1, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = ref(z), ours(z.flatten(1))
    assert expected.std() > 0.05  # not saturated / constant
    torch.testing.assert_close(got, expected)


# --------------------------------------------------------------------------- conditional DCGAN


def test_conditional_dcgan_layout_shapes_and_labels():
    torch.manual_seed(0)
    g = randomize(ConditionalDCGANGenerator(nz=6, ngf=4, nc=1, image_size=16, num_classes=3, embed_dim=5), 3).eval()
    sd = g.state_dict()
    assert sd["embed.weight"].shape == (3, 5)
    assert sd["main.0.weight"].shape == (6 + 5, 4 * 2, 4, 4)
    assert set(sd) == {"embed.weight"} | {k for k in sd if k.startswith("main.")}
    z = torch.randn(3, 6)
    with torch.no_grad():
        out = g(z, torch.tensor([0, 1, 2]))
        same_z = g(z[:1].expand(3, -1), torch.tensor([0, 1, 2]))
        flat_vs_4d = g(z[:, :, None, None], torch.tensor([0, 1, 2]))
    assert out.shape == (3, 1, 16, 16)
    torch.testing.assert_close(flat_vs_4d, out, rtol=0, atol=0)
    # the label changes the image for a fixed z
    assert (same_z[0] - same_z[1]).abs().max() > 1e-3 and (same_z[1] - same_z[2]).abs().max() > 1e-3


@pytest.mark.parametrize(("labels", "needle"), [([0, 3], "label 3"), ([-1, 0], "label -1")])
def test_conditional_dcgan_rejects_out_of_range_labels(labels, needle):
    g = ConditionalDCGANGenerator(nz=4, ngf=4, image_size=8, num_classes=3, embed_dim=2).eval()
    with pytest.raises(ValueError, match=needle) as info:
        g(torch.randn(2, 4), torch.tensor(labels))
    assert "num_classes=3" in str(info.value)


def test_conditional_dcgan_rejects_bad_label_tensors():
    g = ConditionalDCGANGenerator(nz=4, ngf=4, image_size=8, num_classes=3, embed_dim=2).eval()
    with pytest.raises(ValueError, match="integers"):
        g(torch.randn(2, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="2 labels for a batch of 3"):
        g(torch.randn(3, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        g(torch.randn(2, 4), torch.tensor([[0], [1]]))


# --------------------------------------------------------------------------- CycleGAN ResNet


@pytest.mark.parametrize(
    ("norm", "use_dropout", "n_blocks"),
    [("instance", False, 2), ("instance", True, 3), ("batch", False, 2), ("batch", True, 1), ("none", False, 2)],
)
def test_resnet_matches_the_reference_in_eval(norm, use_dropout, n_blocks):
    ref = RefResnetGenerator(3, 2, 4, reference_norm_layer(norm), use_dropout, n_blocks)
    ref = randomize(ref, seed=4).eval()
    kwargs = {"input_nc": 3, "output_nc": 2, "ngf": 4, "n_blocks": n_blocks, "norm": norm, "use_dropout": use_dropout}
    ours = transplant(ref, "cyclegan_resnet", kwargs)
    assert set(ours.state_dict()) == set(ref.state_dict())
    x = torch.rand(2, 3, 20, 24, generator=torch.Generator().manual_seed(5)) * 2 - 1
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert got.shape == (2, 2, 20, 24) and expected.std() > 0.05
    torch.testing.assert_close(got, expected)


def test_resnet_instance_norm_uses_each_images_own_statistics():
    ref = randomize(RefResnetGenerator(3, 3, 4, reference_norm_layer("instance"), False, 1), seed=6).eval()
    ours = transplant(ref, "cyclegan_resnet", {"ngf": 4, "n_blocks": 1})
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(7)) * 2 - 1
    with torch.no_grad():
        batch = ours(x)
        alone = ours(x[1:])
        ours.train()
        in_train = ours(x)
    torch.testing.assert_close(alone, batch[1:])  # no batch coupling
    torch.testing.assert_close(in_train, batch)  # train and eval agree


# --------------------------------------------------------------------------- pix2pix U-Net

UNET_TINY = {"input_nc": 3, "output_nc": 3, "num_downs": 5, "ngf": 4}


def _tiny_reference_unet(norm: str = "batch", use_dropout: bool = True, num_downs: int = 6) -> RefUnetGenerator:
    return randomize(RefUnetGenerator(3, 3, num_downs, 4, reference_norm_layer(norm), use_dropout), seed=8)


def test_unet_matches_reference_test_py_batch_stats_and_seeded_dropout():
    ref = _tiny_reference_unet(num_downs=6)  # one middle level with dropout
    kwargs = {**UNET_TINY, "num_downs": 6}
    ours = transplant(ref, "pix2pix_unet", kwargs)
    stored = norm_buffers(ours)
    ref.train()  # the reference test.py never calls eval(): batch statistics and live dropout
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(9)) * 2 - 1
    outputs = {}
    with torch.no_grad():
        for seed in (11, 12):
            torch.manual_seed(seed)
            expected = ref(x)
            torch.manual_seed(seed)
            got = ours(x)
            assert expected.std() > 0.05
            torch.testing.assert_close(got, expected)
            outputs[seed] = got
    assert not ours.training
    # dropout really is active in eval(), and seeded
    assert (outputs[11] - outputs[12]).abs().max() > 1e-3
    # the stored statistics were never touched (the reference's train() call did update its own)
    for key, value in norm_buffers(ours).items():
        torch.testing.assert_close(value, stored[key], rtol=0, atol=0, msg=key)
    assert not torch.equal(ref.state_dict()["model.model.1.model.2.running_mean"], stored["model.model.1.model.2.running_mean"])


def test_unet_batch_stats_couple_the_batch_like_the_reference():
    ref = _tiny_reference_unet(use_dropout=False, num_downs=5).train()
    ours = transplant(ref, "pix2pix_unet", {**UNET_TINY, "use_dropout": False})
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(13)) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))
        torch.testing.assert_close(ours(x[:2]), ref(x[:2]))
        assert (ours(x)[:2] - ours(x[:2])).abs().max() > 1e-4  # batch statistics, as the reference


def test_unet_running_stats_without_dropout_matches_reference_eval():
    ref = _tiny_reference_unet(num_downs=6).eval()
    kwargs = {**UNET_TINY, "num_downs": 6, "inference_norm": "running_stats", "inference_dropout": False}
    ours = transplant(ref, "pix2pix_unet", kwargs)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(14)) * 2 - 1
    with torch.no_grad():
        expected = ref(x)
        torch.manual_seed(0)
        first = ours(x)
        torch.manual_seed(1)
        second = ours(x)
    torch.testing.assert_close(first, expected)
    torch.testing.assert_close(second, first, rtol=0, atol=0)  # deterministic: no dropout


def test_unet_instance_norm_variant_matches_reference():
    ref = _tiny_reference_unet(norm="instance", use_dropout=False, num_downs=5).eval()
    ours = transplant(ref, "pix2pix_unet", {**UNET_TINY, "norm": "instance", "use_dropout": False})
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(15)) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x))


def test_unet_train_mode_is_plain_pytorch():
    ours = build_architecture("pix2pix_unet", {**UNET_TINY, "use_dropout": False}).train()
    before = norm_buffers(ours)
    with torch.no_grad():
        ours(torch.randn(2, 3, 32, 32))
    after = norm_buffers(ours)
    assert int(after["model.model.1.model.2.num_batches_tracked"]) == int(before["model.model.1.model.2.num_batches_tracked"]) + 1


def test_unet_rejects_sizes_that_are_not_multiples():
    ours = build_architecture("pix2pix_unet", UNET_TINY).eval()
    with pytest.raises(ValueError, match="multiple of 32"):
        ours(torch.randn(1, 3, 48, 32))


# --------------------------------------------------------------------------- StarGAN


def _tiny_reference_stargan() -> RefStarGANGenerator:
    return randomize(RefStarGANGenerator(conv_dim=4, c_dim=3, repeat_num=2), seed=16)


def test_stargan_matches_reference_test_without_eval():
    ref = _tiny_reference_stargan()
    ours = transplant(ref, "stargan", {"conv_dim": 4, "c_dim": 3, "repeat_num": 2})
    stored = norm_buffers(ours)
    ref.train()  # the reference test() runs G without eval()
    gen = torch.Generator().manual_seed(17)
    x = torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1
    c = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    with torch.no_grad():
        expected, got = ref(x, c), ours(x, c)
    assert expected.std() > 0.05
    torch.testing.assert_close(got, expected)
    for key, value in norm_buffers(ours).items():
        torch.testing.assert_close(value, stored[key], rtol=0, atol=0, msg=key)
    with torch.no_grad():  # instance statistics: an image's result does not depend on its batch
        torch.testing.assert_close(ours(x[1:], c[1:]), got[1:])
        changed = ours(x, c.flip(0))
    assert (changed - got).abs().max() > 1e-3  # the domain vector matters


def test_stargan_running_stats_matches_reference_eval():
    ref = _tiny_reference_stargan().eval()
    ours = transplant(ref, "stargan", {"conv_dim": 4, "c_dim": 3, "repeat_num": 2, "inference_norm": "running_stats"})
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(18)) * 2 - 1
    c = torch.tensor([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    with torch.no_grad():
        expected = ref(x, c)
        torch.testing.assert_close(ours(x, c), expected)
        default = transplant(ref, "stargan", {"conv_dim": 4, "c_dim": 3, "repeat_num": 2})(x, c)
    assert (default - expected).abs().max() > 1e-3  # the two inference modes really differ


def test_stargan_rejects_bad_domain_vectors():
    g = build_architecture("stargan", {"conv_dim": 4, "c_dim": 3, "repeat_num": 1}).eval()
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        g(torch.zeros(2, 3, 16, 16), torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        g(torch.zeros(2, 4, 16, 16), torch.zeros(2, 3))


# --------------------------------------------------------------------------- colorization


def test_colorization_unet_contract():
    full = ColorizationUNet()
    assert sum(p.numel() for p in full.parameters()) < 2_000_000
    torch.manual_seed(19)
    g = ColorizationUNet(base_channels=4, depth=3).eval()
    L = torch.rand(2, 1, 16, 24) * 2 - 1
    with torch.no_grad():
        ab = g(L)
        single = g(L[:1])
    assert ab.shape == (2, 2, 16, 24)
    assert ab.abs().max() <= 1 and ab.std() > 1e-3
    torch.testing.assert_close(single, ab[:1])  # GroupNorm: no batch coupling, no running stats
    assert not any("running" in k for k in g.state_dict())
    with pytest.raises(ValueError, match="multiple of 8"):
        g(torch.zeros(1, 1, 12, 16))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        g(torch.zeros(1, 3, 16, 16))


def test_colorization_classification_head_decodes_the_annealed_mean(monkeypatch):
    """The bin head's forward is the (annealed) mean of softmax(logits / T) over the bin centres."""
    import gan_studio.architectures.colorization as C

    torch.manual_seed(21)
    g = ColorizationUNet(base_channels=4, depth=2, bin_size=55).eval()  # centres -110, -55, 0, 55, 110
    assert g.num_bins == 25 and g.head.out_channels == 25
    assert "centres" not in g.state_dict()  # derived from the config, not stored
    L = torch.rand(2, 1, 12, 8) * 2 - 1
    with torch.no_grad():
        logits = g.bin_logits(L)
        p = torch.softmax(logits, 1)
        centres = torch.tensor([[a, b] for a in (-1.0, -0.5, 0.0, 0.5, 1.0) for b in (-1.0, -0.5, 0.0, 0.5, 1.0)])
        expected = torch.einsum("nqhw,qc->nchw", p, centres)
        torch.testing.assert_close(g(L), expected)
        # decoding in bands of rows gives the same numbers
        monkeypatch.setattr(C, "DECODE_CHUNK", 25 * 8 * 2)
        torch.testing.assert_close(g(L), expected)
        # temperature: -> 0 picks the most likely bin, large flattens to the grid's centre (grey)
        spread = torch.randn(1, 25, 3, 3) * 10
        sharp = g.decode(spread, temperature=1e-3)
        torch.testing.assert_close(sharp, centres[spread.argmax(1)].permute(0, 3, 1, 2))
        assert g.decode(logits, temperature=1e4).abs().max() < 1e-3
        hot = ColorizationUNet(base_channels=4, depth=2, bin_size=55, temperature=1e4)
        hot.load_state_dict(g.state_dict(), strict=True)
        assert hot(L).abs().max() < 1e-3
    with pytest.raises(ValueError, match="bin_size > 0"):
        ColorizationUNet(base_channels=4, depth=2).bin_logits(L)


def test_colorization_heads_return_their_minmod_consensus():
    """With several heads the forward keeps, per channel, the value nearest zero if all heads agree in
    sign, and grey (0) where they disagree."""
    ab = torch.stack([torch.tensor([0.3, -0.2]), torch.tensor([0.1, 0.4]), torch.tensor([0.5, 0.1])])
    out = ColorizationUNet.consensus(ab.view(1, 3, 2, 1, 1))
    assert out.flatten().tolist() == pytest.approx([0.1, 0.0])  # a: all positive -> smallest; b: mixed -> 0
    neg = ColorizationUNet.consensus(-ab.abs().view(1, 3, 2, 1, 1))
    assert neg.flatten().tolist() == pytest.approx([-0.1, -0.1])
    torch.manual_seed(22)
    g = ColorizationUNet(base_channels=4, depth=2, bin_size=55, heads=3).eval()
    assert g.head.out_channels == 3 * 25
    L = torch.rand(2, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        per_head = g.decode_heads(g.bin_logits(L))
        torch.testing.assert_close(g(L), ColorizationUNet.consensus(per_head))
        single = ColorizationUNet(base_channels=4, depth=2, bin_size=55)
        single.head.weight.copy_(g.head.weight[25:50])
        single.head.bias.copy_(g.head.bias[25:50])
        for name, p in single.named_parameters():
            if not name.startswith("head."):
                p.copy_(g.state_dict()[name])
        torch.testing.assert_close(single(L), per_head[:, 1])  # head 1 decoded alone
    with pytest.raises(ValueError, match="heads"):
        ColorizationUNet(heads=2)  # several heads need the classification head
    # head priors: subtracted from each head's colour before the consensus; config, not weights
    priors = [[0.1, 0.2], [0.05, -0.1], [0.0, 0.3]]
    gp = ColorizationUNet(base_channels=4, depth=2, bin_size=55, heads=3, head_priors=priors).eval()
    gp.load_state_dict(g.state_dict(), strict=True)
    with torch.no_grad():
        shifted = per_head - torch.tensor(priors).view(1, 3, 2, 1, 1)
        torch.testing.assert_close(gp(L), ColorizationUNet.consensus(shifted))
    for bad in ([[0.1, 0.2]], [[0.1, 0.2, 0.3]] * 3, [[2.0, 0.0]] * 3):
        with pytest.raises(ValueError, match="head_priors"):
            ColorizationUNet(bin_size=55, heads=3, head_priors=bad)


def test_colorization_unet_learns():
    # A few optimiser steps on a fixed target must reduce the loss: gradients reach every layer.
    torch.manual_seed(20)
    g = ColorizationUNet(base_channels=4, depth=2)
    L = torch.rand(4, 1, 16, 16) * 2 - 1
    target = torch.stack([L[:, 0] * 0.5, -L[:, 0] * 0.3], dim=1)
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.l1_loss(g(L), target)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())
    assert losses[-1] < 0.5 * losses[0]
