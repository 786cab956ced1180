"""The StyleGAN-family entries of the Hub catalogue, verified without internet.

As in tests/test_hub_catalogue.py, each entry's file is published into the 127.0.0.1 test Hub under
the entry's repo id, pinned revision and file name, in the entry's file format, and loaded by
catalogue id the way the studio loads it (download, weights-only unpickling, nesting key,
conversion, strict loading). Where reference numbers made by the upstream code exist in tests/data,
the published weights are those, so the loaded entry must give the upstream code's images:

* rosinality StyleGAN2 (``{"g_ema": …, "latent_avg": …}`` training checkpoints, StyleGAN-NADA's
  ``{"g_ema": …}``): tests/data/stylegan2_rosinality_reference.safetensors (rosinality's own model.py);
* NVIDIA-named ``{"state_dict": …}`` (PyTorch-StudioGAN): tests/data/stylegan2_nvidia_reference.safetensors;
* genforce ProGAN / StyleGAN v1 (``generator_smooth`` next to ``generator``): tests/data/genforce_reference.safetensors;
* HugGAN FastGAN (plain ``pytorch_model.bin``): tests/data/fastgan_reference.safetensors.

Those generators are small, so each entry is loaded with the reference's (smaller) kwargs; the
entries' own real-size kwargs are checked key for key and shape for shape against the published
layout on the meta device (no memory).
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
import torch
from hub_publishing import publish_source, torch_bytes
from safetensors import safe_open
from safetensors.torch import load_file

from gan_studio.architectures import build_architecture
from gan_studio.architectures.stylegan2 import StyleGAN2Generator, setup_filter
from gan_studio.contract import Task
from gan_studio.convert import guess_rosinality_config, rosinality_to_nvidia
from gan_studio.image_io import tensor_to_pil
from gan_studio.models import build_generator
from gan_studio.pipelines.generation import draw_latent
from gan_studio.registry import ModelSpec, Registry
from gan_studio.studio import Studio

DATA = Path(__file__).resolve().parent / "data"
ROSINALITY_IDS = [
    "ZeqiangLai/StyleGAN2:ffhq-1024", "ZeqiangLai/StyleGAN2:church-256", "ZeqiangLai/StyleGAN2:cat-256",
    "ZeqiangLai/StyleGAN2:horse-256", "ZeqiangLai/StyleGAN2:afhqcat-512", "ZeqiangLai/StyleGAN2:afhqdog-512",
    "ZeqiangLai/StyleGAN2:afhqwild-512", "ZeqiangLai/StyleGAN2:metfaces-1024",
]
NADA_ID = "rinong/stylegan-nada-models:anime"  # {"g_ema": …} only, no latent_avg
STUDIOGAN_ID = "Mingguksky/PyTorch-StudioGAN:stylegan2-afhqv2-256"
PGGAN_ID = "huggan/pggan-celebahq-1024"
STYLEGAN1_ID = "huggan/stylegan_animeface512"
FASTGAN_IDS = ["huggan/fastgan-few-shot-aurora", "huggan/fastgan-few-shot-shells",
               "huggan/fastgan-few-shot-fauvism-still-life"]
STYLEGAN2_IDS = ROSINALITY_IDS + [NADA_ID, STUDIOGAN_ID]
NEW_IDS = STYLEGAN2_IDS + [PGGAN_ID, STYLEGAN1_ID] + FASTGAN_IDS
NVIDIA_DERIVED = STYLEGAN2_IDS + [PGGAN_ID, STYLEGAN1_ID]
ATOL = 1e-5

pytestmark = pytest.mark.usefixtures("one_thread")


def with_kwargs(spec: ModelSpec, **kwargs) -> ModelSpec:
    return replace(spec, kwargs={**spec.kwargs, **kwargs})


def shapes(state: dict) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


# --------------------------------------------------------------------------- the entries themselves


def test_entries_are_pinned_licensed_and_described(catalogue):
    for model_id in NEW_IDS:
        spec = catalogue.get(model_id)
        assert spec.builtin and spec.description and spec.image_size > 0, model_id
        assert spec.source.is_hub and len(spec.source.files) == 1, model_id
        assert re.fullmatch(r"[0-9a-f]{40}", spec.source.revision or ""), model_id
        assert spec.task == (Task.CONDITIONAL if model_id == STUDIOGAN_ID else Task.UNCONDITIONAL)
    for model_id in NVIDIA_DERIVED:  # NVIDIA's weights (or fine-tunes of them): non-commercial
        spec = catalogue.get(model_id)
        assert "non-commercial use only" in spec.description, model_id
        assert "nc" in spec.license.lower() or "non-commercial" in spec.license, model_id
    assert catalogue.get(STUDIOGAN_ID).labels == ("cat", "dog", "wild")
    assert catalogue.get(ROSINALITY_IDS[0]).source.files == ("stylegan2-ffhq-config-f.pt",)
    assert {catalogue.get(i).source.files[0] for i in ROSINALITY_IDS[4:]} == {
        "ada/afhqcat.pt", "ada/afhqdog.pt", "ada/afhqwild.pt", "ada/metfaces.pt"}


def test_ids_resolve_through_the_registry_without_the_hub(catalogue):
    """``repo:name`` ids are catalogue ids: resolve() finds them without asking any Hub."""
    for model_id in NEW_IDS:
        assert catalogue.resolve(model_id).id == model_id


def test_cli_lists_the_new_entries(capsys):
    from gan_studio.cli import main

    assert main(["models", "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    for model_id in NEW_IDS:
        assert model_id in rows
    assert rows[STUDIOGAN_ID]["labels"] == ["cat", "dog", "wild"]


def test_the_online_check_downloads_every_new_entry():
    """tests/test_online.py (RUN_ONLINE=1) runs every built-in Hub source; the new ids are among them."""
    try:
        from test_online import _hub_sources
    except ImportError:  # tests/ imported as a package
        from tests.test_online import _hub_sources
    sources = _hub_sources()
    for model_id in NEW_IDS:
        assert (model_id, None) in sources, model_id


# ---- real-size kwargs against the published layouts (meta device) ------------------------------


def rosinality_layout(size: int, n_mlp: int = 8, style_dim: int = 512, cm: int = 2) -> dict[str, torch.Tensor]:
    """Every key of rosinality's ``Generator(size, style_dim, n_mlp, channel_multiplier=cm)`` with its
    shape (meta tensors; the blur kernels real), written from rosinality's model.py structure."""
    channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm,
                1024: 16 * cm}
    kernel = setup_filter([1, 3, 3, 1]) * 4
    sd: dict[str, torch.Tensor] = {}

    def meta(key: str, *shape: int) -> None:
        sd[key] = torch.empty(shape, device="meta")

    for i in range(1, n_mlp + 1):
        meta(f"style.{i}.weight", style_dim, style_dim)
        meta(f"style.{i}.bias", style_dim)
    meta("input.input", 1, channels[4], 4, 4)

    def styled(prefix: str, cin: int, cout: int, up: bool) -> None:
        meta(f"{prefix}.conv.weight", 1, cout, cin, 3, 3)
        meta(f"{prefix}.conv.modulation.weight", cin, style_dim)
        meta(f"{prefix}.conv.modulation.bias", cin)
        if up:
            sd[f"{prefix}.conv.blur.kernel"] = kernel.clone()
        meta(f"{prefix}.noise.weight", 1)
        meta(f"{prefix}.activate.bias", cout)

    def to_rgb(prefix: str, cin: int, up: bool) -> None:
        meta(f"{prefix}.conv.weight", 1, 3, cin, 1, 1)
        meta(f"{prefix}.conv.modulation.weight", cin, style_dim)
        meta(f"{prefix}.conv.modulation.bias", cin)
        meta(f"{prefix}.bias", 1, 3, 1, 1)
        if up:
            sd[f"{prefix}.upsample.kernel"] = kernel.clone()

    styled("conv1", channels[4], channels[4], False)
    to_rgb("to_rgb1", channels[4], False)
    log_size = int(np.log2(size))
    meta("noises.noise_0", 1, 1, 4, 4)
    for layer in range(1, (log_size - 2) * 2 + 1):
        res = 2 ** ((layer + 5) // 2)
        meta(f"noises.noise_{layer}", 1, 1, res, res)
    for i, res in enumerate(2 ** k for k in range(3, log_size + 1)):
        styled(f"convs.{2 * i}", channels[res // 2], channels[res], True)
        styled(f"convs.{2 * i + 1}", channels[res], channels[res], False)
        to_rgb(f"to_rgbs.{i}", channels[res], True)
    return sd


@pytest.mark.parametrize("model_id", ROSINALITY_IDS + [NADA_ID])
def test_rosinality_entries_real_size_kwargs_match_the_layout(catalogue, model_id):
    """The config-f/ADA rosinality layout at the entry's size converts to exactly the module its kwargs build."""
    spec = catalogue.get(model_id)
    size = spec.kwargs["img_resolution"]
    assert size == spec.image_size
    published = rosinality_layout(size)
    guess = guess_rosinality_config(published)
    assert (guess["size"], guess["style_dim"], guess["n_mlp"], guess["channel_multiplier"]) == (size, 512, 8, 2)
    state, derived = rosinality_to_nvidia(published, torch.zeros(512), source=model_id)
    # what the converter reads off the weights is what the entry says (given kwargs override derived ones)
    for key, value in spec.kwargs.items():
        if isinstance(value, dict):
            assert {k: derived[key].get(k) for k in value} == value, (model_id, key)
        else:
            assert derived[key] == value, (model_id, key)
    assert derived["synthesis_kwargs"]["conv_clamp"] is None and "conv_clamp" not in spec.kwargs["synthesis_kwargs"]
    with torch.device("meta"):
        ours = build_architecture(spec.architecture, spec.kwargs)
    assert shapes(ours.state_dict()) == shapes(state)


def test_studiogan_entry_real_size_kwargs_match_studiogans_generator(catalogue):
    """StudioGAN builds NVIDIA's Generator(z 512, c_dim=num_classes, w 512, 256 px, mapping 8 layers,
    channel_base 16384 below 512 px, channel_max 512): the entry's kwargs are that, key for key."""
    spec = catalogue.get(STUDIOGAN_ID)
    with torch.device("meta"):
        ours = build_architecture(spec.architecture, spec.kwargs).state_dict()
        published = StyleGAN2Generator(z_dim=512, c_dim=3, w_dim=512, img_resolution=256, img_channels=3,
                                       mapping_kwargs={"num_layers": 8},
                                       synthesis_kwargs={"channel_base": 16384, "channel_max": 512}).state_dict()
    assert shapes(ours) == shapes(published)
    assert tuple(ours["mapping.embed.weight"].shape) == (512, 3)
    assert tuple(ours["synthesis.b256.conv1.weight"].shape) == (64, 64, 3, 3)  # min(16384 // 256, 512)
    # ~25 M float32 parameters: the 101 MB G_ema file
    assert sum(v.numel() for k, v in ours.items() if not k.endswith(("resample_filter", "noise_const"))) * 4 \
        == pytest.approx(101e6, rel=0.05)


def test_genforce_entries_real_size_kwargs_match_the_published_keys(catalogue):
    """Key names and counts of huggan/pggan-celebahq-1024 and huggan/stylegan_animeface512 (genforce)."""
    with torch.device("meta"):
        pg = build_architecture("pggan", catalogue.get(PGGAN_ID).kwargs).state_dict()
        sg = build_architecture("stylegan1", catalogue.get(STYLEGAN1_ID).kwargs).state_dict()
    assert set(pg) == {"lod"} | {f"layer{i}.{p}" for i in range(18) for p in ("weight", "bias")} | {
        f"output{i}.{p}" for i in range(9) for p in ("weight", "bias")}
    assert tuple(pg["layer0.weight"].shape) == (512, 512, 4, 4) and tuple(pg["output8.weight"].shape) == (3, 16, 1, 1)
    # 92.3 MB pytorch_model.bin
    assert sum(v.numel() for v in pg.values()) * 4 == pytest.approx(92.3e6, rel=0.02)
    assert {k for k in sg if k.startswith("mapping.")} == {f"mapping.dense{i}.{p}" for i in range(8)
                                                          for p in ("weight", "bias")}
    assert "truncation.w_avg" in sg and "synthesis.lod" in sg and "synthesis.layer15.style.weight" in sg
    assert tuple(sg["synthesis.layer14.weight"].shape) == (32, 64, 3, 3)
    assert len(sg) == 2 * 8 + 1 + 1 + 16 * 6 + 7 + 2 * 8
    # 108 MB pytorch_model.bin (noise buffers included)
    assert sum(v.numel() for v in sg.values()) * 4 == pytest.approx(108e6, rel=0.05)


@pytest.mark.parametrize("model_id", FASTGAN_IDS)
def test_fastgan_entries_real_size_kwargs_match_the_published_size(catalogue, model_id):
    spec = catalogue.get(model_id)
    with torch.device("meta"):
        sd = build_architecture(spec.architecture, spec.kwargs).state_dict()
    assert len(sd) == 142 and tuple(sd["_init._layers.0._conv.weight_orig"].shape) == (256, 2048, 4, 4)
    assert sum(v.numel() for v in sd.values() if v.is_floating_point()) * 4 == pytest.approx(117.0e6, rel=1e-3)


# ---- rosinality StyleGAN2: the published file format, rosinality's own numbers --------------------
ROSI_REFERENCE = DATA / "stylegan2_rosinality_reference.safetensors"


@pytest.fixture(scope="module")
def rosinality_reference() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(ROSI_REFERENCE), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())


def rosinality_g_ema(reference: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = f"{name}/g_ema/"
    return {k[len(prefix):]: v.clone() for k, v in reference.items() if k.startswith(prefix)}


# s32: rosinality Generator(32, 16, n_mlp=3) with its channel table shrunk to {4: 16, 8: 16, 16: 8, 32: 4}
S32_KWARGS = {"z_dim": 16, "c_dim": 0, "w_dim": 16, "img_resolution": 32, "img_channels": 3,
              "mapping_kwargs": {"num_layers": 3},
              "synthesis_kwargs": {"channel_base": 128, "channel_max": 16, "architecture": "skip"}}


def rosinality_file(reference: dict[str, torch.Tensor], *, latent_avg: bool) -> bytes:
    """A checkpoint as rosinality's convert_weight.py / train.py write it (train.py adds args, g, d, optimisers)."""
    sd = rosinality_g_ema(reference, "s32")
    if not latent_avg:  # StyleGAN-NADA: the fine-tuned g_ema alone
        return torch_bytes({"g_ema": sd})
    args = argparse.Namespace(size=32, latent=16, n_mlp=3, channel_multiplier=2, iter=800000)
    return torch_bytes({"g": {k: v + 1 for k, v in sd.items()}, "d": {"convs.0.0.weight": torch.zeros(2, 3, 1, 1)},
                        "g_ema": sd, "latent_avg": reference["s32/latent_avg"], "args": args})


@pytest.mark.parametrize("model_id", ROSINALITY_IDS + [NADA_ID])
def test_rosinality_entry_downloads_loads_and_gives_rosinalitys_images(hub_server, catalogue, rosinality_reference,
                                                                       model_id):
    tensors, _ = rosinality_reference
    spec = replace(catalogue.get(model_id), kwargs=json.loads(json.dumps(S32_KWARGS)))
    has_avg = model_id != NADA_ID
    commit = publish_source(hub_server, spec, {spec.source.files[0]: rosinality_file(tensors, latent_avg=has_avg)})
    module, architecture, kwargs, revision = build_generator(spec)
    assert (architecture, revision) == ("stylegan2", commit)
    assert kwargs["synthesis_kwargs"]["conv_clamp"] is None  # derived from the weights, not overridden
    with torch.no_grad():
        z = tensors["s32/z"]
        torch.testing.assert_close(module(z, truncation=1.0, noise_mode="const"), tensors["s32/img_psi1"],
                                   atol=ATOL, rtol=0)
        if has_avg:  # the truncation centre is the checkpoint's latent_avg
            torch.testing.assert_close(module(z, truncation=0.7, noise_mode="const"), tensors["s32/img_psi07"],
                                       atol=ATOL, rtol=0)
            torch.testing.assert_close(module.mapping.w_avg, tensors["s32/latent_avg"], atol=0, rtol=0)
    path = f"/{spec.source.repo_id}/resolve/{spec.source.revision}/{spec.source.files[0]}"
    assert hub_server.requests("GET", path), hub_server.request_log


def test_rosinality_entry_generates_through_the_studio(hub_server, catalogue, rosinality_reference):
    tensors, _ = rosinality_reference
    spec = replace(catalogue.get("ZeqiangLai/StyleGAN2:church-256"), kwargs=json.loads(json.dumps(S32_KWARGS)))
    commit = publish_source(hub_server, spec, {spec.source.files[0]: rosinality_file(tensors, latent_avg=True)})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    results = studio.generate(spec.id, seed=3, n=2, truncation=0.7)
    module = studio.load(spec.id).module
    z = torch.stack([draw_latent(3, 16), draw_latent(4, 16)])
    with torch.no_grad():
        expected = tensor_to_pil(module(z, truncation=0.7))
    for result, image in zip(results, expected):
        assert result.image.size == (32, 32) and result.params["revision"] == commit
        assert result.params["model"] == spec.id
        assert np.abs(np.asarray(result.image, dtype=int) - np.asarray(image, dtype=int)).max() <= 1


# ---- PyTorch-StudioGAN: {"state_dict": …} with NVIDIA's names, NVIDIA's own numbers ---------------
NVIDIA_REFERENCE = DATA / "stylegan2_nvidia_reference.safetensors"
COND8 = {"z_dim": 8, "c_dim": 4, "w_dim": 12, "img_resolution": 8, "img_channels": 3,
         "mapping_kwargs": {"num_layers": 3},
         "synthesis_kwargs": {"channel_base": 64, "channel_max": 16, "conv_clamp": None, "architecture": "resnet"}}


def test_studiogan_entry_loads_the_state_dict_key_with_nvidias_numbers(hub_server, catalogue):
    """The conditional reference case of tests/test_stylegan2.py, saved the way StudioGAN saves G_ema."""
    ref = load_file(str(NVIDIA_REFERENCE))
    sd = {k[len("cond_resnet8/sd/"):]: v for k, v in ref.items() if k.startswith("cond_resnet8/sd/")}
    spec = replace(catalogue.get(STUDIOGAN_ID), kwargs=json.loads(json.dumps(COND8)))
    publish_source(hub_server, spec, {spec.source.files[0]: torch_bytes({"state_dict": sd, "step": 192000})})
    module, architecture, _, _ = build_generator(spec)
    assert architecture == "stylegan2" and module.contract.num_classes == 4
    with torch.no_grad():
        out = module(ref["cond_resnet8/z"], torch.tensor([0, 3, 1]), truncation=1.0, noise_mode="const")
    torch.testing.assert_close(out, ref["cond_resnet8/img_const"], atol=ATOL, rtol=0)
    assert "=" in spec.source.files[0]  # the published name, '=' and all, reaches the Hub (URL-quoted)
    assert hub_server.requests("GET", f"/{spec.source.repo_id}/resolve/{spec.source.revision}/"
                                      f"{quote(spec.source.files[0])}"), hub_server.request_log


def test_studiogan_entry_generates_a_named_class(hub_server, catalogue):
    kwargs = {"z_dim": 8, "c_dim": 3, "w_dim": 8, "img_resolution": 16, "img_channels": 3,
              "mapping_kwargs": {"num_layers": 2}, "synthesis_kwargs": {"channel_base": 128, "channel_max": 16}}
    spec = replace(catalogue.get(STUDIOGAN_ID), kwargs=kwargs)
    torch.manual_seed(5)
    published = StyleGAN2Generator(**kwargs).eval()
    with torch.no_grad():
        for name, value in published.named_parameters():
            if name.endswith(("bias", "noise_strength")):
                value.normal_(0, 0.5)
    publish_source(hub_server, spec, {spec.source.files[0]: torch_bytes({"state_dict": published.state_dict()})})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    dogs = studio.generate(spec.id, seed=1, n=2, label="dog")
    wild = studio.generate(spec.id, seed=1, n=1, label="wild")[0]
    z = torch.stack([draw_latent(1, 8), draw_latent(2, 8)])
    with torch.no_grad():
        expected = tensor_to_pil(published(z, torch.tensor([1, 1])))
    for result, image in zip(dogs, expected):
        assert result.image.size == (16, 16) and result.params["label"] == "dog"
        assert np.abs(np.asarray(result.image, dtype=int) - np.asarray(image, dtype=int)).max() <= 1
    assert wild.image.tobytes() != dogs[0].image.tobytes()  # the class really conditions the image


# ---- genforce ProGAN and StyleGAN v1: generator_smooth next to generator, genforce's numbers -------
GENFORCE_REFERENCE = DATA / "genforce_reference.safetensors"


def genforce_case(reference: dict[str, torch.Tensor], case: str) -> dict[str, torch.Tensor]:
    prefix = f"{case}/sd/"
    return {k[len(prefix):]: v for k, v in reference.items() if k.startswith(prefix)}


@pytest.mark.parametrize(("model_id", "case"), [(PGGAN_ID, "pg16"), (STYLEGAN1_ID, "sg16")])
def test_genforce_entry_downloads_loads_and_gives_genforces_images(hub_server, catalogue, model_id, case):
    from safetensors import safe_open as open_safetensors

    reference = load_file(str(GENFORCE_REFERENCE))
    with open_safetensors(str(GENFORCE_REFERENCE), "pt") as f:
        config = json.loads(f.metadata()["pggan" if model_id == PGGAN_ID else "stylegan1"])[case]
    spec = replace(catalogue.get(model_id), kwargs=config)
    smooth = genforce_case(reference, case)
    raw = {k: v + 1 if v.is_floating_point() and not k.endswith("lod") else v for k, v in smooth.items()}
    commit = publish_source(hub_server, spec, {"pytorch_model.bin": torch_bytes({"generator": raw,
                                                                                 "generator_smooth": smooth})})
    module, architecture, _, revision = build_generator(spec)
    assert (architecture, revision) == (spec.architecture, commit)
    with torch.no_grad():  # the moving-average generator, not the raw one
        torch.testing.assert_close(module(reference[f"{case}/z"]), reference[f"{case}/img"], atol=ATOL, rtol=0)
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    result = studio.generate(spec.id, seed=2, n=1)[0]
    assert result.image.size == (16, 16) and result.params["architecture"] == spec.architecture


def test_genforce_entry_takes_a_bare_state_dict_too(hub_server, catalogue):
    """The entries name no nesting key: a file holding the generator's tensors directly loads as well."""
    reference = load_file(str(GENFORCE_REFERENCE))
    with safe_open(str(GENFORCE_REFERENCE), "pt") as f:
        config = json.loads(f.metadata()["pggan"])["pg16"]
    spec = replace(catalogue.get(PGGAN_ID), kwargs=config)
    assert spec.source.key is None
    publish_source(hub_server, spec, {"pytorch_model.bin": torch_bytes(genforce_case(reference, "pg16"))})
    module, *_ = build_generator(spec)
    with torch.no_grad():
        torch.testing.assert_close(module(reference["pg16/z"]), reference["pg16/img"], atol=ATOL, rtol=0)


# ---- HugGAN FastGAN: plain pytorch_model.bin, HugGAN's numbers -----------------------------------
FASTGAN_REFERENCE = DATA / "fastgan_reference.safetensors"
FASTGAN_REFERENCE_KWARGS = {"nz": 8, "ngf": 8, "nc": 3, "im_size": 1024}


@pytest.mark.parametrize("model_id", FASTGAN_IDS)
def test_fastgan_entry_downloads_loads_and_gives_huggans_images(hub_server, catalogue, model_id):
    reference = load_file(str(FASTGAN_REFERENCE))
    state = {k[3:]: v.float() / 64 if v.dtype == torch.int8 else v for k, v in reference.items()
             if k.startswith("sd/")}
    spec = with_kwargs(catalogue.get(model_id), **FASTGAN_REFERENCE_KWARGS)
    commit = publish_source(hub_server, spec, {"pytorch_model.bin": torch_bytes(state),
                                               "discriminator.bin": torch_bytes({"x": torch.zeros(1)})})
    module, architecture, _, revision = build_generator(spec)
    assert (architecture, revision) == ("fastgan", commit)
    with torch.no_grad():
        big, small = module.images(reference["z"], noise_mode="none")
    torch.testing.assert_close(big[:, :, ::32, ::32], reference["none/big_sub"], atol=ATOL, rtol=0)
    torch.testing.assert_close(small[:, :, ::4, ::4], reference["none/small_sub"], atol=ATOL, rtol=0)
