"""DDColor (piddnad/DDColor, Apache-2.0) in the published layout: the reference's keys and numbers.

``tests/data/ddcolor_reference.safetensors`` holds numbers derived by running the reference
``DDColor`` (``ddcolor/model.py`` with ``basicsr/archs/ddcolor_arch_utils``, fetched from
github.com/piddnad/DDColor at 2adb63f; run in /tmp, not in this repository) on CPU in eval mode at a
reduced config (``REDUCED``: the ConvNeXt-T encoder, 8 colour queries, 4 decoder layers, so the
queries visit the three scales and wrap around) with the weights of :func:`seeded_state_dict` (made
from the keys and shapes alone, so the same weights are made here): its outputs for a batch of two
64 px grey images and one 64×96 image, and the sum of the absolute weights (to catch a change in the
recipe). ``tests/data/ddcolor_layouts.json`` lists the reference's keys and shapes at the published
DDColor-L and DDColor-T configs (``PUBLISHED``), in the reference's order.

Also here: a DDColor folder (its own ``config.json`` + ``pytorch_model.bin``, as on the Hub) served
by the tests' Hub, from the catalogue and typed as a repo id, loaded strictly and run through
``Studio.colorize``; the studio's colorize against the reference's ``ColorizationPipeline``
(``tests/data/ddcolor_pipeline_reference.png``); the classifier head old checkpoints carry; and, with
``RUN_ONLINE=1``, the real DDColor-T.
"""

from __future__ import annotations

import copy
import json
import os
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_publishing import publish_source, torch_bytes
from PIL import Image

from gan_studio.architectures import ARCHITECTURES, load_model_folder, recognise_config
from gan_studio.architectures.ddcolor import UNUSED_HEAD_KEYS, DDColorGenerator, drop_unused_head
from gan_studio.errors import CheckpointError
from gan_studio.registry import Registry, spec_from_folder
from gan_studio.studio import Studio

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = DATA / "ddcolor_reference.safetensors"
LAYOUTS = DATA / "ddcolor_layouts.json"
# The published config.json of piddnad/ddcolor_{paper,modelscope,artistic} (paper_tiny: convnext-t).
PUBLISHED = {"encoder_name": "convnext-l", "decoder_name": "MultiScaleColorDecoder", "input_size": [512, 512],
             "num_output_channels": 2, "last_norm": "Spectral", "do_normalize": False, "num_queries": 100,
             "num_scales": 3, "dec_layers": 9}
REDUCED = {**PUBLISHED, "encoder_name": "convnext-t", "input_size": [64, 64], "num_queries": 8, "dec_layers": 4}
DDCOLOR_IDS = ["piddnad/ddcolor_paper", "piddnad/ddcolor_modelscope", "piddnad/ddcolor_artistic",
               "piddnad/ddcolor_paper_tiny"]

pytestmark = pytest.mark.usefixtures("one_thread")


def seeded_state_dict(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Seeded weights for a DDColor state dict from its keys and shapes alone (each key seeds its own
    generator with its CRC-32): conv/linear/embedding weights ~ N(0, 1/fan_in), biases ~ N(0, 0.02²),
    norm scales and layer scales in [0.5, 1), BatchNorm statistics plausible, spectral-norm ``u``/``v``
    the unit vectors of one power step (so σ = |W v| > 0), ``mean``/``std`` ImageNet's."""
    out: dict[str, torch.Tensor] = {}
    for key, shape in shapes.items():
        gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
        leaf = key.rsplit(".", 1)[-1]
        if key == "mean":
            out[key] = torch.tensor([0.485, 0.456, 0.406]).view(shape)
        elif key == "std":
            out[key] = torch.tensor([0.229, 0.224, 0.225]).view(shape)
        elif leaf == "num_batches_tracked":
            out[key] = torch.tensor(1000, dtype=torch.long)
        elif leaf == "running_mean":
            out[key] = torch.randn(shape, generator=gen) * 0.1
        elif leaf == "running_var":
            out[key] = torch.rand(shape, generator=gen) * 0.5 + 0.75
        elif leaf in ("weight_u", "weight_v"):
            continue  # below, from weight_orig
        elif len(shape) == 1 and (leaf in ("weight", "gamma")):
            out[key] = torch.rand(shape, generator=gen) * 0.5 + 0.5
        elif len(shape) == 1:  # biases
            out[key] = torch.randn(shape, generator=gen) * 0.02
        else:
            fan_in = int(np.prod(shape[1:]))
            out[key] = torch.randn(shape, generator=gen) / fan_in**0.5
    for key in shapes:
        if key.endswith(".weight_v"):
            prefix = key[: -len("weight_v")]
            w = out[prefix + "weight_orig"].flatten(1)
            gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
            v = torch.nn.functional.normalize(torch.randn(w.shape[1], generator=gen), dim=0)
            out[key] = v
            out[prefix + "weight_u"] = torch.nn.functional.normalize(w @ v, dim=0)
    return {k: out[k] for k in shapes}


def seeded_ddcolor(config: dict) -> DDColorGenerator:
    with torch.device("meta"):  # no initialisation of weights that are replaced anyway
        G = DDColorGenerator(**config).eval()
    G.load_state_dict(seeded_state_dict({k: tuple(v.shape) for k, v in G.state_dict().items()}), strict=True,
                      assign=True)
    return G


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(REFERENCE))


@pytest.fixture(scope="module")
def reduced() -> DDColorGenerator:
    return seeded_ddcolor(REDUCED)


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


# ---- the layout and the numbers ---------------------------------------------------------------
@pytest.mark.parametrize("encoder", ["convnext-l", "convnext-t"])
def test_the_published_configs_have_the_references_keys_and_shapes(encoder: str) -> None:
    layout = json.loads(LAYOUTS.read_text(encoding="utf-8"))["layouts"][encoder]
    with torch.device("meta"):
        G = DDColorGenerator(**{**PUBLISHED, "encoder_name": encoder})
    assert _shapes(G) == {key: tuple(shape) for key, shape in layout}
    numbers = sum(int(np.prod(shape)) for _, shape in layout)
    # float32 sizes of the published files: DDColor-L 912 MB, DDColor-T 220 MB
    assert numbers == {"convnext-l": 227_921_864, "convnext-t": 55_051_016}[encoder]


def test_the_catalogue_entries_are_the_published_configs(catalogue) -> None:
    for model_id in DDCOLOR_IDS:
        spec = catalogue.get(model_id)
        encoder = "convnext-t" if model_id.endswith("_tiny") else "convnext-l"
        assert spec.architecture == "ddcolor" and spec.task.value == "colorization" and spec.source.repo_id == model_id
        assert spec.kwargs == {**PUBLISHED, "encoder_name": encoder}
        assert spec.license == "apache-2.0" and spec.image_size == 512 and "MB download" in spec.description
        assert spec.builtin and not spec.source.files  # the architecture names the files (hub_files)
    # pinned where a commit was found (docs/catalogue.md, "DDColor"); paper and paper_tiny follow main
    pinned = {i for i in DDCOLOR_IDS if re.fullmatch(r"[0-9a-f]{40}", catalogue.get(i).source.revision or "")}
    assert pinned == {"piddnad/ddcolor_modelscope", "piddnad/ddcolor_artistic"}


def test_same_numbers_as_the_reference_code(reference: dict[str, torch.Tensor], reduced: DDColorGenerator) -> None:
    weights = reduced.state_dict()
    total = sum(float(v.double().abs().sum()) for v in weights.values())
    assert total == pytest.approx(float(reference["weights_abs_sum"]), rel=1e-9)  # the recipe made the same weights
    with torch.no_grad():
        out_x = reduced(reference["x"].repeat(1, 3, 1, 1))
        out_y = reduced(reference["y"].repeat(1, 3, 1, 1))
    assert out_x.shape == (2, 2, 64, 64) and out_y.shape == (1, 2, 64, 96)
    # measured: at most 1.3e-6 apart (float32 rounding; outputs up to |2.3|)
    torch.testing.assert_close(out_x, reference["out_x"], atol=1e-5, rtol=0)
    torch.testing.assert_close(out_y, reference["out_y"], atol=1e-5, rtol=0)


def test_the_contract_says_grey_rgb_in_lab_ab_out_square_multiples_of_32(reduced: DDColorGenerator) -> None:
    c = reduced.contract
    assert (c.task.value, c.in_channels, c.out_channels, c.colour_input, c.colour_output, c.ab_scale) == (
        "colorization", 3, 2, "grey_rgb", "ab", 1.0)
    assert c.square_input and c.size_multiple == 32 and c.native_size == 64
    assert DDColorGenerator.architecture in ARCHITECTURES
    with pytest.raises(ValueError, match="multiples of 32, got \\(64, 48\\)"):
        reduced(torch.rand(1, 3, 64, 48))


@pytest.mark.parametrize(("change", "message"), [
    ({"encoder_name": "resnet34"}, "unknown encoder_name 'resnet34'; choose one of: convnext-t, convnext-s"),
    ({"decoder_name": "SingleColorDecoder"}, "unsupported decoder_name 'SingleColorDecoder'"),
    ({"last_norm": "Weight"}, "unsupported last_norm 'Weight'; choose one of: Spectral"),
    ({"num_output_channels": 3}, "num_output_channels must be 2"),
    ({"input_size": [500, 500]}, "multiples of 32, got \\[500, 500\\]"),
    ({"do_normalize": True}, "do_normalize=True"),
])
def test_configs_it_cannot_build_are_refused_by_name(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DDColorGenerator(**{**REDUCED, **change})


def test_the_unused_classifier_head_is_the_only_extra_key_tolerated(reduced: DDColorGenerator) -> None:
    state = reduced.state_dict()
    with_head = {**state, UNUSED_HEAD_KEYS[0]: torch.zeros(4, 768), UNUSED_HEAD_KEYS[1]: torch.zeros(4)}
    assert set(drop_unused_head(with_head, encoder_dim=768)) == set(state)
    assert set(drop_unused_head(state, encoder_dim=768)) == set(state)
    with pytest.raises(CheckpointError, match="head_cls.weight has shape \\(4, 1536\\), expected \\(4, 768\\)"):
        drop_unused_head({**state, UNUSED_HEAD_KEYS[0]: torch.zeros(4, 1536)}, encoder_dim=768)


def _ddcolor_folder_files(G: DDColorGenerator, *, extra: dict[str, torch.Tensor] | None = None) -> dict[str, bytes]:
    """A folder as DDColor's PyTorchModelHubMixin repos hold it: DDColor's config.json + pytorch_model.bin
    (here in float16, half the bytes to serve; ``published`` holds values float16 represents exactly)."""
    config = {k: v for k, v in G.config.items() if k not in ("nf", "num_input_channels")}  # as published
    state = {k: v.half() if v.is_floating_point() else v for k, v in {**G.state_dict(), **(extra or {})}.items()}
    return {"config.json": json.dumps(config).encode(), "pytorch_model.bin": torch_bytes(state)}


@pytest.fixture(scope="module")
def published(reduced: DDColorGenerator) -> DDColorGenerator:
    """The reduced model with a strong constant chroma (refine_net's bias: a* + 20, b* − 30, so the
    colour the studio adds shows through 8-bit rounding), its values rounded to float16."""
    G = copy.deepcopy(reduced)
    with torch.no_grad():
        G.refine_net[0][0].bias.copy_(torch.tensor([20.0, -30.0]))
    return G.half().float()


@pytest.fixture(scope="module")
def published_files(published: DDColorGenerator) -> dict[str, bytes]:
    return _ddcolor_folder_files(published)


@pytest.fixture(scope="module")
def published_folder(published_files: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ddcolor")
    for name, data in published_files.items():
        (folder / name).write_bytes(data)
    return folder


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    theirs = b.state_dict()
    for key, value in a.state_dict().items():
        assert torch.equal(theirs[key], value), key


def test_a_ddcolor_folder_is_recognised_and_loaded_strictly(published: DDColorGenerator, published_folder: Path,
                                                           tmp_path: Path) -> None:
    found = recognise_config(PUBLISHED)
    assert found is not None and found[0] == "ddcolor"
    assert found[1]["task"] == "colorization" and found[1]["image_size"] == 512 and found[1]["channels"] == 3
    assert recognise_config({"encoder_name": "convnext-l"}) is None  # no DDColor decoder named
    assert recognise_config({**PUBLISHED, "_gan_studio": {"architecture": "dcgan"}}) is None
    G = load_model_folder(published_folder)
    assert isinstance(G, DDColorGenerator) and G.config["dec_layers"] == 4
    _same_weights(published, G)
    # strict: an unknown key (other than the classifier head) is refused, naming it
    for name, data in _ddcolor_folder_files(published, extra={"decoder.extra.weight": torch.zeros(1)}).items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(CheckpointError, match="unexpected keys \\(1\\): decoder\\.extra\\.weight"):
        load_model_folder(tmp_path)


def test_the_studio_colorizes_like_the_reference_pipeline(published_folder: Path) -> None:
    """tests/data/ddcolor_pipeline_reference.png: the reference's ``ColorizationPipeline(model,
    input_size=64).process`` (OpenCV resize and Lab, nearest-neighbour ab upsampling) on scikit-image's
    astronaut resized to 96×80 (PIL Lanczos), with the ``published`` weights. The studio's own resize
    (Lanczos, 8-bit), Lab (skimage's formulas) and bilinear ab upsampling give nearly the same image
    (measured: mean |Δ| 0.26/255, at most 3/255 per channel)."""
    from skimage import data

    spec = spec_from_folder(published_folder, model_id="ddcolor-reduced")
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    photo = Image.fromarray(data.astronaut()).resize((96, 80), Image.Resampling.LANCZOS)
    ours = np.asarray(studio.colorize(spec.id, photo, working_size=64).image, dtype=float)
    theirs = np.asarray(Image.open(DATA / "ddcolor_pipeline_reference.png").convert("RGB"), dtype=float)
    diff = np.abs(ours - theirs)
    assert ours.shape == theirs.shape == (80, 96, 3)
    assert diff.mean() < 0.5 and diff.max() <= 4


# ---- on the tests' Hub, through the studio ------------------------------------------------------
def _grey_photo() -> Image.Image:
    y, x = np.mgrid[0:48, 0:80]
    grey = (40 + 150 * (x / 79) * (0.6 + 0.4 * np.sin(y / 5))).astype(np.uint8)
    return Image.fromarray(np.stack([grey] * 3, axis=-1))


def _check_colorized(result_image: Image.Image, photo: Image.Image) -> None:
    from skimage.color import rgb2lab

    assert result_image.size == photo.size  # 80×48 in, 80×48 out (the model ran on a 64×64 square)
    lab_in = rgb2lab(np.asarray(photo))
    lab_out = rgb2lab(np.asarray(result_image))
    assert np.abs(lab_out[..., 0] - lab_in[..., 0]).max() < 1.5  # the full-resolution L is kept (8-bit rounding)
    a, b = lab_out[..., 1].mean(), lab_out[..., 2].mean()
    assert 10 < a < 30 and -40 < b < -15  # the model's chroma (bias +20, −30 ± its random part), in Lab units


def test_the_catalogue_entry_served_by_the_hub_loads_strictly_and_colorizes(
        hub_server, catalogue, published: DDColorGenerator, published_files: dict[str, bytes]) -> None:
    # paper_tiny: not pinned. (A pinned entry cannot be served here: the test Hub publishes a pinned
    # revision as a branch of that name with a commit of its own, and a snapshot download files it
    # under the server's commit; file downloads, which the other catalogue tests use, do not care.)
    spec = catalogue.get("piddnad/ddcolor_paper_tiny")
    G = published
    commit = publish_source(hub_server, spec, published_files)
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    loaded = studio.load(spec.id)
    assert loaded.revision == commit and loaded.architecture == "ddcolor"
    _same_weights(G, loaded.module)
    photo = _grey_photo()
    result = studio.colorize(spec.id, photo, working_size=64)
    _check_colorized(result.image, photo)
    # the same as the module run by hand on the grey RGB of the 64×64 square: ab in Lab units, ab_scale 1
    from gan_studio.image_io import merge_lab, resize, split_luminance
    from gan_studio.pipelines.colorization import model_input

    with torch.no_grad():
        ab = G(model_input(split_luminance(resize(photo, (64, 64))), G.contract)) / 110.0
    expected = merge_lab(split_luminance(photo), ab)
    assert np.abs(np.asarray(expected, dtype=int) - np.asarray(result.image, dtype=int)).max() <= 1


def test_a_typed_hub_repo_id_in_ddcolors_format_works_too(hub_server, published: DDColorGenerator,
                                                          tmp_path: Path) -> None:
    head = {UNUSED_HEAD_KEYS[0]: torch.zeros(4, 768), UNUSED_HEAD_KEYS[1]: torch.zeros(4)}  # as training saved it
    files = _ddcolor_folder_files(published, extra=head)
    hub_server.publish("someone/ddcolor-finetune", {**files, "README.md": b"# card\n"})
    studio = Studio(device="cpu", half=False)
    spec = studio.registry.resolve("someone/ddcolor-finetune")
    assert (spec.architecture, spec.task.value, spec.image_size) == ("ddcolor", "colorization", 64)
    photo = _grey_photo()
    _check_colorized(studio.colorize("someone/ddcolor-finetune", photo, working_size=64).image, photo)
    # from_pretrained takes the repo id too, and a save in our format loads back the same
    G = DDColorGenerator.from_pretrained("someone/ddcolor-finetune")
    assert not G.training and G.config == published.config
    again = load_model_folder(G.save_pretrained(tmp_path / "ours"))  # config.json + _gan_studio + safetensors
    assert isinstance(again, DDColorGenerator)
    _same_weights(published, again)


# ---- the real files (RUN_ONLINE=1) ------------------------------------------------------------
@pytest.mark.online
@pytest.mark.skipif(os.environ.get("RUN_ONLINE") != "1",
                    reason="online test: set RUN_ONLINE=1 to download piddnad/ddcolor_paper_tiny (220 MB)")
def test_the_real_ddcolor_tiny_loads_strictly_and_colours_a_photo() -> None:
    from skimage import data
    from skimage.color import rgb2lab

    from gan_studio import hub

    folder = hub.download_snapshot("piddnad/ddcolor_paper_tiny", allow_patterns=list(DDColorGenerator.hub_files()))
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config == {**PUBLISHED, "encoder_name": "convnext-t"}
    G = load_model_folder(folder)  # strict, less only the classifier head if the file has it
    assert isinstance(G, DDColorGenerator)
    photo = Image.fromarray(data.astronaut())
    studio = Studio(device="cpu", half=False)
    result = studio.colorize("piddnad/ddcolor_paper_tiny", photo.convert("L"))
    chroma = np.hypot(*rgb2lab(np.asarray(result.image))[..., 1:].transpose(2, 0, 1))
    assert result.image.size == photo.size and chroma.mean() > 5  # colour, not a grey image
