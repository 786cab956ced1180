"""FastGAN in the HugGAN few-shot layout: the same keys and numbers as HugGAN's code, seeded noise.

``tests/data/fastgan_reference.safetensors`` holds reference numbers derived by running the
``Generator`` of the HugGAN FastGAN repos (``huggan/fastgan-few-shot-*``: ``models.py`` +
``layers.py``, MIT; transcribed locally, not in this repository) on CPU in eval mode, with its
channel table shrunk to what ngf 8 gives (nz 8, nc 3, 1024 px; the code has no size option): its
state dict under its own keys, z (2 latents) and, for noise drawn after ``torch.manual_seed(77)`` and
for the noise injections' weights set to 0, the 1024 px image sampled every 32nd pixel, the 128 px
image every 4th pixel and per-channel sums over the whole images (the full images would not fit the
file). Weights, batch-norm statistics and noise strengths lie on a 1/64 grid and are stored as int8
(value = k / 64); the spectral-norm ``u``/``v`` vectors are stored as they were.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from gan_studio.architectures import ARCHITECTURES, FastGANGenerator

REFERENCE = Path(__file__).resolve().parent / "data" / "fastgan_reference.safetensors"
REFERENCE_KWARGS = {"nz": 8, "ngf": 8, "nc": 3, "im_size": 1024}
TINY = {"nz": 8, "ngf": 4, "nc": 3, "im_size": 256}


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(REFERENCE))


def reference_state_dict(reference: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k[3:]: v.float() / 64 if v.dtype == torch.int8 else v for k, v in reference.items() if k.startswith("sd/")}


@pytest.fixture(scope="module")
def reference_generator(reference: dict[str, torch.Tensor]) -> FastGANGenerator:
    G = FastGANGenerator(**REFERENCE_KWARGS).eval()
    G.load_state_dict(reference_state_dict(reference), strict=True)
    return G


def test_same_keys_and_same_numbers_as_huggans_code(reference: dict[str, torch.Tensor],
                                                    reference_generator: FastGANGenerator) -> None:
    G = reference_generator
    assert set(G.state_dict()) == set(reference_state_dict(reference))
    assert "_init._layers.0._conv.weight_orig" in G.state_dict() and "_out_1024.0._conv.weight_v" in G.state_dict()
    z = reference["z"]
    with torch.no_grad():
        torch.manual_seed(77)
        random = G.images(z, noise_mode="random")
        none = G.images(z, noise_mode="none")
    for tag, (big, small) in (("random", random), ("none", none)):
        assert big.shape == (2, 3, 1024, 1024) and small.shape == (2, 3, 128, 128)
        torch.testing.assert_close(big[:, :, ::32, ::32], reference[f"{tag}/big_sub"], atol=1e-5, rtol=0)
        torch.testing.assert_close(small[:, :, ::4, ::4], reference[f"{tag}/small_sub"], atol=1e-5, rtol=0)
        torch.testing.assert_close(big.double().sum(dim=(2, 3)), reference[f"{tag}/big_sum"], atol=1e-2, rtol=0)
        torch.testing.assert_close(big.double().abs().sum(dim=(2, 3)), reference[f"{tag}/big_abs_sum"],
                                   atol=1e-2, rtol=0)
        torch.testing.assert_close(small.double().sum(dim=(2, 3)), reference[f"{tag}/small_sum"], atol=1e-3, rtol=0)
    assert not torch.allclose(random[0], none[0])  # the noise really changes the image


def test_the_contract_and_the_noise() -> None:
    G = FastGANGenerator(**TINY).eval()
    contract = G.contract
    assert (contract.latent_dim, contract.native_size, contract.out_channels) == (8, 256, 3)
    assert contract.truncation == "trick" and contract.stochastic and not contract.compile
    assert not contract.channels_last
    quiet = FastGANGenerator(**TINY, inference_noise="none").contract
    assert not quiet.stochastic and quiet.compile
    assert ARCHITECTURES["fastgan"] is FastGANGenerator
    with torch.no_grad():
        for m in G.modules():  # noise strengths are 0 at init: make them matter
            if hasattr(m, "_weight"):
                m._weight.fill_(0.5)
        z = torch.randn(2, 8)
        torch.manual_seed(0)
        a = G(z)
        torch.manual_seed(0)
        b = G(z[:, :, None, None])
        c = G(z, noise_mode="none")
        assert torch.equal(G(z, noise_mode="none"), c)
    assert a.shape == (2, 3, 256, 256) and a.abs().max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="unknown noise_mode 'loud'; choose one of: random, none"):
        G(z, noise_mode="loud")
    with pytest.raises(ValueError, match=r"z must have shape \(N, 8\) or \(N, 8, 1, 1\)"):
        G(torch.randn(2, 7))
    with pytest.raises(ValueError, match="im_size must be one of"):
        FastGANGenerator(im_size=128)
    with pytest.raises(ValueError, match="ngf 4 leaves no channels at 1024 px"):
        FastGANGenerator(ngf=4, im_size=1024)


def test_the_published_config_has_the_published_size() -> None:
    G = FastGANGenerator()  # huggan/fastgan-few-shot-*: nz 256, 1024 px; pytorch_model.bin is 117 MB
    sd = G.state_dict()
    assert len(sd) == 142
    assert sum(t.numel() for t in sd.values() if t.is_floating_point()) * 4 == pytest.approx(117.0e6, rel=1e-3)
    assert tuple(sd["_init._layers.0._conv.weight_orig"].shape) == (256, 2048, 4, 4)
    assert FastGANGenerator(**TINY).state_dict().keys().isdisjoint({"_upsample_512._layers.1._conv.weight_orig",
                                                                     "_sle_512._layers.1._conv.weight_orig"})


def test_a_huggan_folder_generates_through_the_studio(reference: dict[str, torch.Tensor], tmp_path: Path) -> None:
    from gan_studio.studio import Studio

    folder = tmp_path / "fastgan-few-shot-tiny"
    folder.mkdir()
    G = FastGANGenerator(**TINY)
    with torch.no_grad():
        for m in G.modules():
            if hasattr(m, "_weight"):
                m._weight.fill_(0.5)
    state = {k: v.clone() for k, v in G.state_dict().items()}  # plain tensors, as the HugGAN repos hold them
    torch.save(state, folder / "pytorch_model.bin")
    assert not (folder / "config.json").exists()
    toml = tmp_path / "models.toml"
    toml.write_text('[[model]]\nid = "fastgan-tiny"\ntask = "unconditional"\narchitecture = "fastgan"\npath = "fastgan-few-shot-tiny"\n'
                    'kwargs = { nz = 8, ngf = 4, nc = 3, im_size = 256 }\n', encoding="utf-8")
    start = time.perf_counter()
    studio = Studio(device="cpu", models_file=str(toml), precision="fp32", channels_last="off")
    first = studio.generate("fastgan-tiny", seed=5, n=2)
    again = studio.generate("fastgan-tiny", seed=5, n=2)
    one = studio.generate("fastgan-tiny", seed=6, n=1)[0]  # the second image of the first call, on its own
    assert time.perf_counter() - start < 20
    assert [r.image.size for r in first] == [(256, 256), (256, 256)]
    assert [r.image.tobytes() for r in first] == [r.image.tobytes() for r in again]
    assert one.image.tobytes() == first[1].image.tobytes()  # an image depends on its seed alone
    assert first[0].image.tobytes() != first[1].image.tobytes()
    assert first[0].params["architecture"] == "fastgan"
    # the noise is seeded, not absent: the same latent with another noise seed differs
    loaded = studio.load("fastgan-tiny")
    from gan_studio.pipelines.generation import draw_latent

    z = draw_latent(5, 8, None)[None]
    with torch.no_grad():
        torch.manual_seed(5)
        seeded = loaded.module(z)
        torch.manual_seed(6)
        other = loaded.module(z)
    assert not torch.equal(seeded, other)
