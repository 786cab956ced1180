"""The FFHQ 512 px StyleGAN2 network pickle of the Hub catalogue, verified without internet.

``DragGan/DragGan-Models:stylegan2-ffhq-512`` is NVIDIA's ``stylegan2-ffhq-512x512.pkl`` (a network
pickle) mirrored by DragGAN. As in tests/test_hub_stylegan3.py's anime-pickle test, a pickle in
NVIDIA's structure (tests/network_pickles.py: ``G``, ``D``, ``G_ema``, ``training_set_kwargs``) is
published into the 127.0.0.1 test Hub under the entry's repo id, pinned revision and exact file name,
and loaded by catalogue id the way the studio loads it. Its ``G_ema`` is the ``skip16`` reference
network of tests/data/stylegan2_nvidia_reference.safetensors (numbers made by NVIDIA's
stylegan2-ada-pytorch, see tests/test_stylegan2.py), so the loaded entry must give NVIDIA's images.
The entry's real-size kwargs are checked on the meta device against the size the Hub lists.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_publishing import publish_source, reference_state_dict
from network_pickles import persistent, write_network_pickle
from safetensors.torch import load_file
from test_hub_stylegan3 import stylegan2_discriminator_bytes
from test_stylegan2 import CASES

from gan_studio.architectures import StyleGAN2Generator
from gan_studio.contract import Task
from gan_studio.image_io import tensor_to_pil
from gan_studio.models import build_generator
from gan_studio.pipelines.generation import draw_latent
from gan_studio.registry import Registry
from gan_studio.studio import Studio

REFERENCE = Path(__file__).resolve().parent / "data" / "stylegan2_nvidia_reference.safetensors"
FFHQ = "DragGan/DragGan-Models:stylegan2-ffhq-512"
CASE = "skip16"
ATOL = 1e-5

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    return load_file(str(REFERENCE))


# --------------------------------------------------------------------------- the entry itself


def test_entry_is_pinned_licensed_and_described(catalogue):
    spec = catalogue.get(FFHQ)
    assert spec.builtin and spec.architecture == "stylegan2" and spec.task == Task.UNCONDITIONAL
    assert spec.image_size == spec.kwargs["img_resolution"] == 512
    assert spec.source.is_hub and spec.source.repo_id == "DragGan/DragGan-Models"
    assert spec.source.files == ("stylegan2-ffhq-512x512.pkl",) and spec.source.key == "G_ema"
    assert re.fullmatch(r"[0-9a-f]{40}", spec.source.revision or "")
    # NVIDIA's StyleGAN2 weights (and FFHQ): non-commercial
    assert "non-commercial use only" in spec.description
    assert "nvidia" in spec.license and "non-commercial" in spec.license


def test_id_resolves_through_the_registry_without_the_hub(catalogue):
    assert catalogue.resolve(FFHQ).id == FFHQ


def test_cli_lists_the_entry(capsys):
    from gan_studio.cli import main

    assert main(["models", "--json"]) == 0
    assert FFHQ in {row["id"] for row in json.loads(capsys.readouterr().out)}


def test_the_online_check_downloads_the_entry():
    try:
        from test_online import _hub_sources
    except ImportError:  # tests/ imported as a package
        from tests.test_online import _hub_sources
    assert (FFHQ, None) in _hub_sources()


def test_real_size_kwargs_give_the_listed_pickle_size(catalogue):
    """G + G_ema (the entry's kwargs, float32) + NVIDIA's resnet D at the same widths is the 364 MB the
    Hub lists for the pickle; channel_base 16384 (the other width NVIDIA uses below 1024 px) would not be."""
    spec = catalogue.get(FFHQ)

    def g_bytes(kwargs: dict) -> int:
        with torch.device("meta"):
            state = StyleGAN2Generator(**kwargs).state_dict()
        return sum(v.numel() * v.element_size() for v in state.values())

    kwargs = spec.kwargs
    assert kwargs["mapping_kwargs"] == {"num_layers": 8}
    assert (kwargs["synthesis_kwargs"]["channel_base"], kwargs["synthesis_kwargs"]["channel_max"]) == (32768, 512)
    total = 2 * g_bytes(kwargs) + stylegan2_discriminator_bytes(512, 32768, 512)
    assert total / 1e6 == pytest.approx(364, rel=0.003)
    half = json.loads(json.dumps(kwargs))
    half["synthesis_kwargs"]["channel_base"] = 16384
    assert abs((2 * g_bytes(half) + stylegan2_discriminator_bytes(512, 16384, 512)) / 1e6 - 364) > 40


# ---- the network pickle: G_ema read without running code, NVIDIA's numbers ------------------------


def ffhq_pickle(reference: dict[str, torch.Tensor], tmp_path: Path) -> bytes:
    """A network pickle in NVIDIA's structure: G (the raw generator, different weights), D, G_ema (the
    skip16 reference network with its init kwargs), training_set_kwargs; module_src never runs."""
    def generator(shift: float) -> StyleGAN2Generator:
        G = StyleGAN2Generator(**CASES[CASE]).eval()
        G.load_state_dict({k: v + shift if v.is_floating_point() and "resample_filter" not in k else v
                           for k, v in reference_state_dict(reference, CASE).items()})
        return G

    src = "# training/networks.py would be here; the studio never runs it\n"
    discriminator = torch.nn.Module()
    discriminator.register_parameter("weight", torch.nn.Parameter(torch.zeros(2, 3)))
    path = write_network_pickle(tmp_path / "stylegan2-ffhq-512x512.pkl", {
        "G": persistent(generator(0.5), module_src=src, init_kwargs=CASES[CASE]),
        "D": persistent(discriminator, module_src=src, init_kwargs={"c_dim": 0, "img_resolution": 16}),
        "G_ema": persistent(generator(0.0), module_src=src, init_kwargs=CASES[CASE]),
        "training_set_kwargs": {"resolution": 16, "use_labels": False},
    })
    return path.read_bytes()


def test_entry_downloads_the_pickle_and_gives_nvidias_images(hub_server, catalogue, reference, tmp_path):
    """The entry as catalogued (real-size kwargs): the pickle's own init kwargs build the network."""
    spec = catalogue.get(FFHQ)
    commit = publish_source(hub_server, spec, {spec.source.files[0]: ffhq_pickle(reference, tmp_path),
                                               "README.md": b"---\nlicense: other\n---\n"})
    module, architecture, kwargs, revision = build_generator(spec)
    assert (architecture, revision) == ("stylegan2", commit)
    assert kwargs == CASES[CASE] != spec.kwargs  # the pickle's record, not the entry's
    assert isinstance(module, StyleGAN2Generator) and module.contract.native_size == 16
    z = reference[f"{CASE}/z"]
    with torch.no_grad():  # G_ema, not the raw G
        torch.testing.assert_close(module(z, truncation=1.0, noise_mode="const"), reference[f"{CASE}/img_const"],
                                   atol=ATOL, rtol=0)
        torch.testing.assert_close(module(z, truncation=0.6, truncation_cutoff=2, noise_mode="none"),
                                   reference[f"{CASE}/img_trunc"], atol=ATOL, rtol=0)
    assert hub_server.requests("GET", f"/{spec.source.repo_id}/resolve/{spec.source.revision}/{spec.source.files[0]}"), \
        hub_server.request_log


def test_entry_generates_through_the_studio(hub_server, catalogue, reference, tmp_path):
    spec = catalogue.get(FFHQ)
    commit = publish_source(hub_server, spec, {spec.source.files[0]: ffhq_pickle(reference, tmp_path)})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    result = studio.generate(spec.id, seed=5, n=1, truncation=0.7)[0]
    module = studio.load(spec.id).module
    with torch.no_grad():
        expected = tensor_to_pil(module(draw_latent(5, 16)[None], truncation=0.7))[0]
    assert result.image.size == (16, 16) and result.params["revision"] == commit
    assert result.params["model"] == FFHQ and result.params["architecture"] == "stylegan2"
    assert np.abs(np.asarray(result.image, dtype=int) - np.asarray(expected, dtype=int)).max() <= 1
