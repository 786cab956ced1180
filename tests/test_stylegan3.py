"""StyleGAN3 in NVIDIA's layout: the same keys and numbers as NVIDIA's code, the input transform, pickles.

``tests/data/stylegan3_nvidia_reference.safetensors`` holds reference numbers derived by running
NVIDIA's stylegan3 ``training/networks_stylegan3.py`` (on CPU, the reference ``_filtered_lrelu_ref``
path, ``force_fp32=True``) on two small randomly initialised generators, -T (``t32``: conv_kernel 3,
32 px, a layer that upsamples ×4) and -R (``r16``: conv_kernel 1, radial filters, class-conditional),
with random biases, ``magnitude_ema`` and ``w_avg``: their state dicts (NVIDIA's keys, ``{case}/sd/…``),
latents (and labels), and the images for ψ = 1, for ψ = 0.6 on the first 2 ws, and for ψ = 1 with
``synthesis.input.transform`` set as ``gen_images.py --translate=0.1,-0.05 --rotate=15`` sets it
(``{case}/transform``). No NVIDIA code is in the repository; the networks are rebuilt here by the
studio's own module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from network_pickles import persistent, write_network_pickle

from gan_studio.architectures import ARCHITECTURES, StyleGAN2Generator, StyleGAN3Generator, build_architecture
from gan_studio.errors import UnknownArchitectureError

REFERENCE = Path(__file__).resolve().parent / "data" / "stylegan3_nvidia_reference.safetensors"
CASES: dict[str, dict[str, Any]] = {
    "t32": {"z_dim": 12, "c_dim": 0, "w_dim": 16, "img_resolution": 32, "img_channels": 3,
            "mapping_kwargs": {"num_layers": 2}, "channel_base": 512, "channel_max": 16, "num_layers": 4,
            "num_critical": 2, "conv_clamp": 256, "magnitude_ema_beta": 0.99, "num_fp16_res": 4},
    "r16": {"z_dim": 8, "c_dim": 3, "w_dim": 12, "img_resolution": 16, "img_channels": 3,
            "mapping_kwargs": {"num_layers": 3}, "channel_base": 1024, "channel_max": 24, "conv_kernel": 1,
            "use_radial_filters": True, "num_layers": 5, "num_critical": 2, "margin_size": 6, "output_scale": 0.5,
            "conv_clamp": None, "num_fp16_res": 0},
}


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(REFERENCE))


def state_dict_of(reference: dict[str, torch.Tensor], case: str) -> dict[str, torch.Tensor]:
    prefix = f"{case}/sd/"
    return {k[len(prefix):]: v for k, v in reference.items() if k.startswith(prefix)}


def reference_generator(reference: dict[str, torch.Tensor], case: str) -> StyleGAN3Generator:
    G = StyleGAN3Generator(**CASES[case]).eval()
    G.load_state_dict(state_dict_of(reference, case), strict=True)
    return G


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_keys_and_same_numbers_as_nvidias_code(reference: dict[str, torch.Tensor], case: str) -> None:
    fresh = StyleGAN3Generator(**CASES[case])
    nvidia = state_dict_of(reference, case)
    assert set(fresh.state_dict()) == set(nvidia)
    # the layer geometry and the filters designed here are NVIDIA's (scipy's firwin, jinc × Kaiser)
    for key, value in fresh.state_dict().items():
        assert value.shape == nvidia[key].shape, key
        if key.endswith("_filter"):
            torch.testing.assert_close(value, nvidia[key], atol=1e-7, rtol=0)
    G = reference_generator(reference, case)
    z, labels = reference[f"{case}/z"], reference.get(f"{case}/labels")
    with torch.no_grad():
        plain = G(z, labels, truncation=1.0)
        truncated = G(z, labels, truncation=0.6, truncation_cutoff=2)
        moved = G(z, labels, transform=reference[f"{case}/transform"])
    torch.testing.assert_close(plain, reference[f"{case}/img"], atol=1e-5, rtol=0)
    torch.testing.assert_close(truncated, reference[f"{case}/img_trunc"], atol=1e-5, rtol=0)
    torch.testing.assert_close(moved, reference[f"{case}/img_transform"], atol=1e-5, rtol=0)
    # the matrix gen_images.py --translate=0.1,-0.05 --rotate=15 writes into the buffer
    torch.testing.assert_close(StyleGAN3Generator.input_transform(translate=(0.1, -0.05), rotate=15),
                               reference[f"{case}/transform"], atol=1e-7, rtol=0)
    assert (plain - truncated).abs().max() > 0.1 and (plain - moved).abs().max() > 0.1  # the settings really differ
    assert torch.equal(G.synthesis.input.transform, torch.eye(3))  # the call left the stored buffer alone


def test_the_input_transform_translates_and_rotates(reference: dict[str, torch.Tensor]) -> None:
    G = reference_generator(reference, "t32")
    z = reference["t32/z"]
    before = {k: v.clone() for k, v in G.state_dict().items()}
    m = 4  # the border the shifted-in content stays away from
    with torch.no_grad():
        img = G(z)
        assert torch.equal(G(z, transform=G.input_transform(rotate=0)), img)  # the identity is exact
        # one transform per sample: none; 1 px right (+x); 3 px down (+y), a whole number of output pixels
        moved = G(z, transform=torch.stack([G.input_transform(), G.input_transform(translate=(1 / 32, 0)),
                                            G.input_transform(translate=(0, 3 / 32))]))
    torch.testing.assert_close(moved[0], img[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(moved[1, :, m:-m, m + 1:-m], img[1, :, m:-m, m:-m - 1], atol=1e-4, rtol=0)
    torch.testing.assert_close(moved[2, :, m + 3:-m, m:-m], img[2, :, m:-m - 3, m:-m], atol=1e-4, rtol=0)
    assert (moved[1, :, m:-m, m:-m - 1] - img[1, :, m:-m, m + 1:-m]).abs().mean() > 0.01  # not the other way
    after = G.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing stored changed
    # -R is rotation-equivariant: +90° turns the image a quarter counter-clockwise
    R = reference_generator(reference, "r16")
    z, labels = reference["r16/z"], reference["r16/labels"]
    with torch.no_grad():
        img = R(z, labels)
        turned = R(z, labels, transform=R.input_transform(rotate=90))
    torch.testing.assert_close(turned, torch.rot90(img, 1, dims=(2, 3)), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match=r"transform must be a \[3, 3\] or \[N, 3, 3\] matrix, got shape \[2, 3\]"):
        G(reference["t32/z"], transform=torch.eye(2, 3))


def test_the_contract_and_the_controls(reference: dict[str, torch.Tensor]) -> None:
    G = reference_generator(reference, "t32")
    contract = G.contract
    assert (contract.task.value, contract.latent_dim, contract.num_classes, contract.truncation,
            contract.native_size, contract.out_channels) == ("unconditional", 12, 0, "w", 32, 3)
    conditional = reference_generator(reference, "r16").contract
    assert (conditional.task.value, conditional.num_classes, conditional.native_size) == ("conditional", 3, 16)
    assert ARCHITECTURES["stylegan3"] is StyleGAN3Generator and G.config == {**G.config, **CASES["t32"]}
    z = reference["t32/z"]
    with torch.no_grad():
        # no noise inputs: accepted and ignored
        torch.testing.assert_close(G(z, noise_mode="random"), reference["t32/img"], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="unknown noise_mode 'loud'; choose one of: const, random, none"):
        G(z, noise_mode="loud")
    with pytest.raises(ValueError, match="unconditional .c_dim=0.; it takes no labels"):
        G(z, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="class-conditional \\(3 classes\\); pass labels"):
        reference_generator(reference, "r16")(reference["r16/z"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mapping_kwargs": {"layers": 2}}, r"mapping_kwargs has unknown keys \['layers'\]; known: num_layers"),
    ({"img_resolution": 24}, "img_resolution must be a power of two >= 4, got 24"),
    ({"num_layers": 2, "num_critical": 2}, "num_critical must be smaller than num_layers \\(2\\), got 2"),
    ({"conv_kernel": 0}, "conv_kernel must be an int >= 1, got 0"),
    ({"conv_clamp": -1}, "conv_clamp must be a positive number, got -1"),
    ({"use_radial_filters": "yes"}, "use_radial_filters must be true or false, got 'yes'"),
    ({"first_stopband": 1.0}, "transition bands are empty"),
    ({"output_scale": 0}, "output_scale must be a positive number, got 0"),
])
def test_bad_kwargs_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StyleGAN3Generator(**{**CASES["t32"], **kwargs})


def test_unknown_kwargs_are_refused_by_name() -> None:
    with pytest.raises(UnknownArchitectureError, match="'stylegan3' does not take 'channels', 'kernel'"):
        build_architecture("stylegan3", {**CASES["t32"], "channels": 3, "kernel": 3})
    with pytest.raises(TypeError, match="unexpected keyword argument 'synthesis_kwargs'"):
        StyleGAN3Generator(synthesis_kwargs={"channel_base": 512})  # type: ignore[call-arg]  # NVIDIA's are flat


# ---- network pickles --------------------------------------------------------------------------------
def nvidia_pickle(reference: dict[str, torch.Tensor], case: str, path: Path) -> Path:
    G = reference_generator(reference, case)
    src = "# networks_stylegan3.py would be here; the studio never runs it\n"
    return write_network_pickle(path, {"G_ema": persistent(G, module_src=src, init_kwargs=CASES[case]),
                                       "training_set_kwargs": {"resolution": CASES[case]["img_resolution"]}})


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_network_pickle_becomes_the_same_generator(reference: dict[str, torch.Tensor], case: str,
                                                      tmp_path: Path) -> None:
    from gan_studio.convert import from_network_pickle
    from gan_studio.network_pickle import read_network_pickle

    path = nvidia_pickle(reference, case, tmp_path / f"{case}.pkl")
    pkl = read_network_pickle(path)
    assert {"SynthesisInput", "SynthesisLayer", "SynthesisNetwork", "MappingNetwork"} <= pkl.submodule_classes
    assert not StyleGAN2Generator.recognises_network_pickle(pkl.class_name, pkl.submodule_classes)
    assert not StyleGAN3Generator.recognises_network_pickle("Generator", {"SynthesisBlock", "SynthesisLayer"})
    module, architecture, kwargs = from_network_pickle(path)
    assert architecture == "stylegan3" and kwargs == CASES[case]
    with torch.no_grad():
        out = module(reference[f"{case}/z"], reference.get(f"{case}/labels"))
    torch.testing.assert_close(out, reference[f"{case}/img"], atol=1e-5, rtol=0)


def test_convert_turns_a_network_pickle_into_a_studio_folder(reference: dict[str, torch.Tensor],
                                                             tmp_path: Path) -> None:
    from gan_studio.cli import main
    from gan_studio.studio import Studio

    src = nvidia_pickle(reference, "t32", tmp_path / "network-snapshot.pkl")
    out = tmp_path / "converted"
    assert main(["convert", str(src), str(out)]) == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "non-commercial" in card and "stylegan3" in card
    again = ARCHITECTURES["stylegan3"].from_pretrained(out)
    assert set(again.state_dict()) == set(state_dict_of(reference, "t32"))
    with torch.no_grad():
        torch.testing.assert_close(again(reference["t32/z"]), reference["t32/img"], atol=1e-5, rtol=0)
    images = Studio(device="cpu").generate(str(out), seed=1, n=1, truncation=0.7)
    assert [r.image.size for r in images] == [(32, 32)]
    assert images[0].params["truncation"] == 0.7 and images[0].params["architecture"] == "stylegan3"
