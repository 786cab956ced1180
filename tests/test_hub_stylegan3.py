"""The StyleGAN3 entries of the Hub catalogue, verified without internet.

As in tests/test_hub_stylegan.py, each entry's file is published into the 127.0.0.1 test Hub under
the entry's repo id, pinned revision and exact file name, in the entry's own file format, and loaded
by catalogue id the way the studio loads it. The published weights are the reference networks of
tests/data/stylegan3_nvidia_reference.safetensors (numbers made by NVIDIA's networks_stylegan3, see
tests/test_stylegan3.py), so a loaded entry must give NVIDIA's images:

* PyTorch-StudioGAN's ``model=G_ema-….pth`` = ``torch.save({"state_dict": G_ema.state_dict(), …})``:
  -T with the ``t32`` case, -R with the ``r16`` case (conv_kernel 1, radial filters);
* akiyamasho's ``stylegan3-anime-face-gen.pkl``: an NVIDIA-structured network pickle
  (tests/network_pickles.py) whose ``G_ema`` is the ``t32`` network.

Those networks are small, so the StudioGAN entries are loaded with the reference's kwargs; a network
pickle carries its own init kwargs, which the studio uses whatever the entry says. The entries'
real-size kwargs are checked key for key and shape for shape on the meta device against the layout
NVIDIA's SynthesisNetwork gives the configuration each file was trained with (written out below from
NVIDIA's geometry), and against the file sizes the Hub lists.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
import torch
from hub_publishing import publish_source, reference_state_dict, torch_bytes
from network_pickles import persistent, write_network_pickle
from safetensors.torch import load_file
from test_stylegan3 import CASES

from gan_studio.architectures import StyleGAN3Generator
from gan_studio.contract import Task
from gan_studio.image_io import tensor_to_pil
from gan_studio.models import build_generator
from gan_studio.pipelines.generation import draw_latent
from gan_studio.registry import Registry, load_registry
from gan_studio.studio import Studio

REFERENCE = Path(__file__).resolve().parent / "data" / "stylegan3_nvidia_reference.safetensors"
STUDIOGAN_T = "Mingguksky/PyTorch-StudioGAN:stylegan3-t-afhqv2-512"
STUDIOGAN_R = "Mingguksky/PyTorch-StudioGAN:stylegan3-r-afhqv2-512"
ANIME = "akiyamasho/stylegan3-anime-faces-generator"
NEW_IDS = [STUDIOGAN_T, STUDIOGAN_R, ANIME]
ATOL = 1e-5

# CASES: the reference cases of tests/test_stylegan3.py (NVIDIA's init kwargs of the two networks).
ENTRY_CASE = {STUDIOGAN_T: "t32", STUDIOGAN_R: "r16"}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    return load_file(str(REFERENCE))


def shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in state.items()}


def nbytes(state: dict[str, torch.Tensor]) -> int:
    return sum(v.numel() * v.element_size() for v in state.values())


# --------------------------------------------------------------------------- the entries themselves


def test_entries_are_pinned_licensed_and_described(catalogue):
    for model_id in NEW_IDS:
        spec = catalogue.get(model_id)
        assert spec.builtin and spec.description and spec.architecture == "stylegan3", model_id
        assert spec.task == Task.UNCONDITIONAL and spec.image_size == spec.kwargs["img_resolution"], model_id
        assert spec.source.is_hub and len(spec.source.files) == 1, model_id
        assert re.fullmatch(r"[0-9a-f]{40}", spec.source.revision or ""), model_id
        # NVIDIA's StyleGAN3 code and networks (and AFHQv2): non-commercial
        assert "non-commercial use only" in spec.description, model_id
        assert "NVIDIA" in spec.license and "non-commercial" in spec.license, model_id
    folder = "studiogan_official_ckpt/AFHQ-V2-512-uncond-tailored/"
    assert catalogue.get(STUDIOGAN_T).source.files == (
        folder + "AFHQ_V2_uncond-StyleGAN3-t-paper-train-2022_03_16_15_45_11/model=G_ema-best-weights-step=420000.pth",)
    assert catalogue.get(STUDIOGAN_R).source.files == (
        folder + "AFHQ_V2_uncond-StyleGAN3-r-paper-train-2022_03_13_15_47_04/model=G_ema-best-weights-step=350000.pth",)
    assert catalogue.get(STUDIOGAN_T).source.key == catalogue.get(STUDIOGAN_R).source.key == "state_dict"
    anime = catalogue.get(ANIME).source
    assert anime.files == ("stylegan3-anime-face-gen.pkl",) and anime.key == "G_ema"


def test_ids_resolve_through_the_registry_without_the_hub(catalogue):
    for model_id in NEW_IDS:
        assert catalogue.resolve(model_id).id == model_id


def test_cli_lists_the_new_entries(capsys):
    from gan_studio.cli import main

    assert main(["models", "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    for model_id in NEW_IDS:
        assert model_id in rows


def test_the_online_check_downloads_every_new_entry():
    try:
        from test_online import _hub_sources
    except ImportError:  # tests/ imported as a package
        from tests.test_online import _hub_sources
    sources = _hub_sources()
    for model_id in NEW_IDS:
        assert (model_id, None) in sources, model_id


# ---- real-size kwargs against the published layouts (meta device) ------------------------------


def nvidia_layout(*, z_dim: int, w_dim: int, c_dim: int, img_resolution: int, img_channels: int = 3,
                  mapping_layers: int, channel_base: int, channel_max: int, conv_kernel: int = 3,
                  radial: bool = False, num_layers: int = 14, num_critical: int = 2, margin_size: int = 10,
                  filter_size: int = 6, lrelu_upsampling: int = 2) -> dict[str, tuple[int, ...]]:
    """Every state-dict key of NVIDIA's ``networks_stylegan3.Generator`` with its shape, written from
    NVIDIA's SynthesisNetwork geometry (default first_cutoff 2, first_stopband 2**2.1,
    last_stopband_rel 2**0.3) and its modules' parameters and buffers (a 1-tap filter is None)."""
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * 2 ** 0.3
    exponents = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)
    cutoffs = 2 * (last_cutoff / 2) ** exponents
    stopbands = 2 ** 2.1 * (last_stopband / 2 ** 2.1) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    sizes = rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels
    out: dict[str, tuple[int, ...]] = {"mapping.w_avg": (w_dim,)}
    features = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * mapping_layers
    for i in range(mapping_layers):
        out[f"mapping.fc{i}.weight"], out[f"mapping.fc{i}.bias"] = (features[i + 1], features[i]), (features[i + 1],)
    if c_dim:
        out["mapping.embed.weight"], out["mapping.embed.bias"] = (w_dim, c_dim), (w_dim,)
    c0 = int(channels[0])
    out.update({"synthesis.input.weight": (c0, c0), "synthesis.input.affine.weight": (4, w_dim),
                "synthesis.input.affine.bias": (4,), "synthesis.input.transform": (3, 3),
                "synthesis.input.freqs": (c0, 2), "synthesis.input.phases": (c0,)})
    for idx in range(num_layers + 1):
        prev = max(idx - 1, 0)
        torgb, critical = idx == num_layers, idx >= num_layers - num_critical
        cin, cout = int(channels[prev]), int(channels[idx])
        tmp_rate = max(rates[prev], rates[idx]) * (1 if torgb else lrelu_upsampling)
        up, down = int(np.rint(tmp_rate / rates[prev])), int(np.rint(tmp_rate / rates[idx]))
        up_taps = filter_size * up if up > 1 and not torgb else 1
        down_taps = filter_size * down if down > 1 and not torgb else 1
        k = 1 if torgb else conv_kernel
        name = f"synthesis.L{idx}_{int(sizes[idx])}_{cout}"
        out.update({f"{name}.affine.weight": (cin, w_dim), f"{name}.affine.bias": (cin,),
                    f"{name}.weight": (cout, cin, k, k), f"{name}.bias": (cout,), f"{name}.magnitude_ema": ()})
        if up_taps > 1:
            out[f"{name}.up_filter"] = (up_taps,)
        if down_taps > 1:
            out[f"{name}.down_filter"] = (down_taps, down_taps) if radial and not critical else (down_taps,)
    return out


def layout_bytes(layout: dict[str, tuple[int, ...]]) -> int:
    return 4 * sum(int(np.prod(shape)) for shape in layout.values())  # float32


def meta_state(kwargs: dict[str, Any]) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return StyleGAN3Generator(**kwargs).state_dict()


def test_the_written_out_layout_is_nvidias_for_the_reference_networks(reference):
    """The layout function above reproduces the reference networks' keys and shapes exactly (the
    state dicts NVIDIA's code produced), for -T and for -R with radial filters and labels."""
    for case, kw in CASES.items():
        layout = nvidia_layout(z_dim=kw["z_dim"], w_dim=kw["w_dim"], c_dim=kw["c_dim"],
                               img_resolution=kw["img_resolution"], mapping_layers=kw["mapping_kwargs"]["num_layers"],
                               channel_base=kw["channel_base"], channel_max=kw["channel_max"],
                               conv_kernel=kw.get("conv_kernel", 3), radial=kw.get("use_radial_filters", False),
                               num_layers=kw["num_layers"], num_critical=kw["num_critical"],
                               margin_size=kw.get("margin_size", 10))
        assert layout == shapes(reference_state_dict(reference, case)), case


@pytest.mark.parametrize(("model_id", "cfg", "hub_mb"), [(STUDIOGAN_T, "stylegan3-t", 99.5),
                                                         (STUDIOGAN_R, "stylegan3-r", 66.7)])
def test_studiogan_entry_real_size_kwargs_match_studiogans_generator(catalogue, model_id, cfg, hub_mb):
    """StudioGAN's src/models/model.py builds NVIDIA's Generator for these runs with z 512, w 512,
    c_dim 0 (g_cond_mtd W/O), 512 px, mapping 2 layers (the yaml's mapping_network), channel_base
    32768 and channel_max 512, both doubled with conv_kernel 1 and radial filters for -r. The entry's
    kwargs build exactly that layout, whose float32 tensors are the size of the G_ema file on the Hub."""
    spec = catalogue.get(model_id)
    radial = cfg == "stylegan3-r"
    published = nvidia_layout(z_dim=512, w_dim=512, c_dim=0, img_resolution=512, mapping_layers=2,
                              channel_base=32768 * (2 if radial else 1), channel_max=512 * (2 if radial else 1),
                              conv_kernel=1 if radial else 3, radial=radial)
    ours = meta_state(spec.kwargs)
    assert shapes(ours) == published
    assert layout_bytes(published) == pytest.approx(hub_mb * 1e6, rel=0.005)
    names = [k.split(".")[1] for k in ours if k.endswith(".magnitude_ema")]
    width = 2 if radial else 1
    assert names[0] == f"L0_36_{512 * width}" and names[-2:] == [f"L13_512_{64 * width}", "L14_512_3"]
    assert tuple(ours[f"synthesis.L0_36_{512 * width}.weight"].shape)[2:] == ((1, 1) if radial else (3, 3))


def stylegan2_discriminator_bytes(resolution: int, channel_base: int = 32768, channel_max: int = 512) -> int:
    """float32 bytes of NVIDIA's StyleGAN2 Discriminator (resnet, mbstd 1 channel, c_dim 0), which
    stylegan3's train.py pairs with every generator: fromrgb, conv0, conv1, skip per block, the epilogue."""
    def ch(res: int) -> int:
        return min(channel_base // res, channel_max)
    n, res = 4 * ch(resolution), resolution  # fromrgb (3 → C, 1×1, bias)
    while res > 4:
        tmp, out = ch(res), ch(res // 2)
        n += (tmp * tmp * 9 + tmp) + (out * tmp * 9 + out) + out * tmp + 16  # conv0, conv1, skip, resample_filter
        res //= 2
    c = ch(4)
    n += (c * (c + 1) * 9 + c) + (c * c * 16 + c) + (c + 1)  # epilogue conv, fc, out
    return 4 * n


def test_anime_entry_kwargs_are_what_nvidias_train_py_records():
    """train.py --cfg=stylegan3-t --gpus=1 --batch=8 --gamma=0.5 (the model card) records in G_ema's
    init kwargs: z 512, w 512, mapping 2 layers, channel_base 32768, channel_max 512,
    magnitude_ema_beta 0.5 ** (batch / 20k), and the dataset's c_dim, resolution and channels."""
    spec = load_registry().get(ANIME)
    recorded = {"z_dim": 512, "w_dim": 512, "mapping_kwargs": {"num_layers": 2}, "channel_base": 32768,
                "channel_max": 512, "magnitude_ema_beta": 0.5 ** (8 / (20 * 1e3)), "c_dim": 0,
                "img_resolution": 128, "img_channels": 3}
    assert spec.kwargs == recorded
    published = nvidia_layout(z_dim=512, w_dim=512, c_dim=0, img_resolution=128, mapping_layers=2,
                              channel_base=32768, channel_max=512)
    assert shapes(meta_state(spec.kwargs)) == published


def test_the_anime_pickle_size_says_128_px():
    """The model card gives no resolution: G + G_ema + D in float32 is 376 MB (the Hub's size of the
    pickle) at 128 px only; 64 px and 256 px would be 408 MB and 343 MB."""
    def pickle_mb(res: int) -> float:
        g = nvidia_layout(z_dim=512, w_dim=512, c_dim=0, img_resolution=res, mapping_layers=2,
                          channel_base=32768, channel_max=512)
        return (2 * layout_bytes(g) + stylegan2_discriminator_bytes(res)) / 1e6
    assert pickle_mb(128) == pytest.approx(376, rel=0.003)
    assert abs(pickle_mb(64) - 376) > 25 and abs(pickle_mb(256) - 376) > 25
    # the same arithmetic gives the StudioGAN -t G_ema (no D) its listed 99.5 MB at 512 px
    assert layout_bytes(nvidia_layout(z_dim=512, w_dim=512, c_dim=0, img_resolution=512, mapping_layers=2,
                                      channel_base=32768, channel_max=512)) / 1e6 == pytest.approx(99.5, rel=0.002)


# ---- PyTorch-StudioGAN: {"state_dict": …} with NVIDIA's names, NVIDIA's own numbers ---------------


def studiogan_file(reference: dict[str, torch.Tensor], case: str) -> bytes:
    """G_ema as StudioGAN's checkpoint saver writes it: the state dict under "state_dict", with the step."""
    return torch_bytes({"state_dict": reference_state_dict(reference, case), "step": 420000})


@pytest.mark.parametrize("model_id", [STUDIOGAN_T, STUDIOGAN_R])
def test_studiogan_entry_downloads_loads_and_gives_nvidias_images(hub_server, catalogue, reference, model_id):
    case = ENTRY_CASE[model_id]
    spec = replace(catalogue.get(model_id), kwargs=json.loads(json.dumps(CASES[case])))
    name = spec.source.files[0]
    commit = publish_source(hub_server, spec, {name: studiogan_file(reference, case),
                                               name.replace("G_ema", "G"): torch_bytes({"state_dict": {}})})
    module, architecture, kwargs, revision = build_generator(spec)
    assert (architecture, revision) == ("stylegan3", commit) and kwargs == CASES[case]
    z, labels = reference[f"{case}/z"], reference.get(f"{case}/labels")
    with torch.no_grad():
        torch.testing.assert_close(module(z, labels, truncation=1.0), reference[f"{case}/img"], atol=ATOL, rtol=0)
        torch.testing.assert_close(module(z, labels, truncation=0.6, truncation_cutoff=2),
                                   reference[f"{case}/img_trunc"], atol=ATOL, rtol=0)
        torch.testing.assert_close(module(z, labels, transform=reference[f"{case}/transform"]),
                                   reference[f"{case}/img_transform"], atol=ATOL, rtol=0)
    # the published name, '=' and all, reached the Hub URL-quoted, at the pinned revision
    assert hub_server.requests("GET", f"/{spec.source.repo_id}/resolve/{spec.source.revision}/{quote(name)}"), \
        hub_server.request_log


def test_studiogan_entry_generates_through_the_studio(hub_server, catalogue, reference):
    spec = replace(catalogue.get(STUDIOGAN_T), kwargs=json.loads(json.dumps(CASES["t32"])))
    commit = publish_source(hub_server, spec, {spec.source.files[0]: studiogan_file(reference, "t32")})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    results = studio.generate(spec.id, seed=3, n=2, truncation=0.7)
    module = studio.load(spec.id).module
    z = torch.stack([draw_latent(3, 12), draw_latent(4, 12)])
    with torch.no_grad():
        expected = tensor_to_pil(module(z, truncation=0.7))
    for result, image in zip(results, expected):
        assert result.image.size == (32, 32) and result.params["revision"] == commit
        assert result.params["model"] == spec.id and result.params["architecture"] == "stylegan3"
        assert np.abs(np.asarray(result.image, dtype=int) - np.asarray(image, dtype=int)).max() <= 1


# ---- akiyamasho's network pickle: G_ema read without running code, NVIDIA's numbers ---------------


def anime_pickle(reference: dict[str, torch.Tensor], tmp_path: Path) -> bytes:
    """A network pickle in NVIDIA's structure: G (the raw generator, different weights), D, G_ema (the
    t32 reference network with its init kwargs), training_set_kwargs; module_src never runs."""
    def generator(shift: float) -> StyleGAN3Generator:
        G = StyleGAN3Generator(**CASES["t32"]).eval()
        G.load_state_dict({k: v + shift if v.is_floating_point() and not k.endswith("_filter") else v
                           for k, v in reference_state_dict(reference, "t32").items()})
        return G

    src = "# networks_stylegan3.py would be here; the studio never runs it\n"
    discriminator = torch.nn.Module()
    discriminator.register_parameter("weight", torch.nn.Parameter(torch.zeros(2, 3)))
    path = write_network_pickle(tmp_path / "stylegan3-anime-face-gen.pkl", {
        "G": persistent(generator(0.5), module_src=src, init_kwargs=CASES["t32"]),
        "D": persistent(discriminator, module_src=src, init_kwargs={"c_dim": 0, "img_resolution": 32}),
        "G_ema": persistent(generator(0.0), module_src=src, init_kwargs=CASES["t32"]),
        "training_set_kwargs": {"resolution": 32, "use_labels": False},
    })
    return path.read_bytes()


def test_anime_entry_downloads_the_pickle_and_gives_nvidias_images(hub_server, catalogue, reference, tmp_path):
    """The entry as catalogued (real-size kwargs): the pickle's own init kwargs build the network."""
    spec = catalogue.get(ANIME)
    commit = publish_source(hub_server, spec, {spec.source.files[0]: anime_pickle(reference, tmp_path),
                                               "README.md": b"---\nlicense: mit\n---\n"})
    module, architecture, kwargs, revision = build_generator(spec)
    assert (architecture, revision) == ("stylegan3", commit)
    assert kwargs == CASES["t32"] != spec.kwargs  # the pickle's record, not the entry's
    assert isinstance(module, StyleGAN3Generator) and module.contract.native_size == 32
    z = reference["t32/z"]
    with torch.no_grad():  # G_ema, not the raw G
        torch.testing.assert_close(module(z), reference["t32/img"], atol=ATOL, rtol=0)
        torch.testing.assert_close(module(z, truncation=0.6, truncation_cutoff=2), reference["t32/img_trunc"],
                                   atol=ATOL, rtol=0)
    assert hub_server.requests("GET", f"/{spec.source.repo_id}/resolve/{spec.source.revision}/{spec.source.files[0]}"), \
        hub_server.request_log


def test_anime_entry_generates_through_the_studio(hub_server, catalogue, reference, tmp_path):
    spec = catalogue.get(ANIME)
    commit = publish_source(hub_server, spec, {spec.source.files[0]: anime_pickle(reference, tmp_path)})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    result = studio.generate(spec.id, seed=5, n=1, truncation=0.7)[0]
    module = studio.load(spec.id).module
    with torch.no_grad():
        expected = tensor_to_pil(module(draw_latent(5, 12)[None], truncation=0.7))[0]
    assert result.image.size == (32, 32) and result.params["revision"] == commit
    assert result.params["model"] == ANIME and result.params["architecture"] == "stylegan3"
    assert np.abs(np.asarray(result.image, dtype=int) - np.asarray(expected, dtype=int)).max() <= 1
