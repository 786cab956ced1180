"""The Hub catalogue, verified without internet.

For every published layout in the catalogue's "Hub catalogue" section, a module with exactly the
published structure (tests/reference_huggan.py, tests/reference_biggan.py, tests/reference_layouts.py)
gets seeded random weights and is published into the 127.0.0.1 test Hub under the catalogue's repo
id, pinned revision, file name and file format (``torch.save`` pickles, as on the Hub). The
catalogue entry — with smaller constructor kwargs where the real network is big — is then loaded
the way the studio loads it (download, weights-only unpickling, conversion, strict loading) and
must give the reference module's numbers, directly and through the pipelines. The real-size
kwargs of every entry are checked key for key and shape for shape against the reference module at
the published config, built on the meta device (no memory).

Also here: any Hub repo by id (our own ``config.json`` format loads; a foreign layout under a named
architecture fails with the missing/unexpected keys), the Lornatang StarGAN key mapping, and the
BigGAN truncation statistics.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hub_publishing import publish_source, torch_bytes
from PIL import Image

from gan_studio import weights
from gan_studio.architectures import build_architecture
from gan_studio.architectures.biggan import BigGANBatchNorm, imagenet_class_names
from gan_studio.convert import build_and_load, convert_state_dict, detect_architecture
from gan_studio.errors import CheckpointError
from gan_studio.image_io import center_crop, pil_to_tensor, resize, tensor_to_pil
from gan_studio.models import build_generator
from gan_studio.pipelines.generation import draw_latent
from gan_studio.registry import ModelSpec, Registry, load_registry
from gan_studio.studio import Studio

try:
    from reference_biggan import RefBigGAN, RefBigGANConfig, randomize_biggan
    from reference_huggan import RefHugGANResNet, RefHugGANUNet, RefLornatangStarGAN
    from reference_layouts import HugGANDCGAN, RefResnetGenerator, randomize, reference_norm_layer
except ImportError:  # tests/ imported as a package
    from tests.reference_biggan import RefBigGAN, RefBigGANConfig, randomize_biggan
    from tests.reference_huggan import RefHugGANResNet, RefHugGANUNet, RefLornatangStarGAN
    from tests.reference_layouts import HugGANDCGAN, RefResnetGenerator, randomize, reference_norm_layer

PIX2PIX_IDS = ["huggan/pix2pix-facades-demo", "huggan/pix2pix-night2day", "huggan/pix2pix-edge2shoes",
               "huggan/pix2pix-maps"]
CYCLEGAN_ID = "huggan/sim2real_cyclegan"
DCGAN_ID = "huggan/dcgan-mnist"
BIGGAN_ID = "osanseviero/BigGAN-deep-128"
STARGAN_ID = "goodfellowliu/StarGAN-PyTorch"
HUB_IDS = PIX2PIX_IDS + [CYCLEGAN_ID, DCGAN_ID, BIGGAN_ID, STARGAN_ID]

# osanseviero/BigGAN-deep-128 config.json as published (pytorch-pretrained-BigGAN's BigGANConfig).
PUBLISHED_BIGGAN_128_CONFIG = {
    "attention_layer_position": 8, "channel_width": 128, "class_embed_dim": 128, "eps": 0.0001,
    "layers": [[False, 16, 16], [True, 16, 16], [False, 16, 16], [True, 16, 8], [False, 8, 8],
               [True, 8, 4], [False, 4, 4], [True, 4, 2], [False, 2, 2], [True, 2, 1]],
    "n_stats": 51, "num_classes": 1000, "output_dim": 128, "z_dim": 128,
}
# A reduced BigGAN-deep with the same layout: 32 px, attention before block 3, 10 classes.
SMALL_BIGGAN_CONFIG = {
    "attention_layer_position": 3, "channel_width": 4, "class_embed_dim": 8, "eps": 0.0001,
    "layers": [[False, 16, 16], [True, 16, 8], [True, 8, 4], [False, 4, 2], [True, 2, 1]],
    "n_stats": 51, "num_classes": 10, "output_dim": 32, "z_dim": 8,
}
STARGAN_ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


# tiny models: one thread is faster and leaves the other core free (fixture in conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


def with_kwargs(spec: ModelSpec, **kwargs) -> ModelSpec:
    """The catalogue entry with other constructor kwargs (same repo, revision, files, labels, …)."""
    return replace(spec, kwargs={**spec.kwargs, **kwargs})


def gradient_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width)[None, :, None]
    y = np.linspace(0, 255, height)[:, None, None]
    base = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2)
    noisy = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(noisy, "RGB")


class _TouchOnUnpickle:
    """Unpickling this creates a file: stands for code hidden in a pickle."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def meta_shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------- the entries themselves


def test_catalogue_lists_the_hub_entries_pinned_and_described(catalogue):
    unpinned = []
    for model_id in HUB_IDS:
        spec = catalogue.get(model_id)
        assert spec.builtin and spec.license and spec.description and spec.image_size > 0
        for name, source in ([(None, spec.source)] + list(spec.variants.items())):
            assert source.is_hub and source.files
            if not (source.revision and re.fullmatch(r"[0-9a-f]{40}", source.revision)):
                unpinned.append((model_id, name))
    # The one source whose commit could not be read from its model page (docs/catalogue.md).
    assert unpinned == [(CYCLEGAN_ID, "real2sim")]


def test_cli_models_lists_the_hub_catalogue(capsys):
    from gan_studio.cli import main

    assert main(["models", "--json"]) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    for model_id in HUB_IDS:
        assert model_id in rows
    assert rows[BIGGAN_ID]["task"] == "conditional" and len(rows[BIGGAN_ID]["labels"]) == 1000
    assert rows[STARGAN_ID]["labels"] == list(STARGAN_ATTRS)
    assert rows[CYCLEGAN_ID]["variants"] == ["sim2real", "real2sim"]
    assert rows["huggan/pix2pix-maps"]["source"].startswith("hub:huggan/pix2pix-maps@29b247f1")


def test_biggan_labels_are_the_imagenet_classes(catalogue):
    spec = catalogue.get(BIGGAN_ID)
    names = imagenet_class_names()
    assert spec.labels == names and len(names) == 1000
    assert names[1] == "goldfish" and names[207] == "golden retriever" and names[999] == "toilet tissue"


def _reference_at_published_config(model_id: str) -> torch.nn.Module:
    factories = {
        "huggan_pix2pix_unet": lambda: RefHugGANUNet(3, 3),
        "huggan_cyclegan_resnet": lambda: RefHugGANResNet((3, 256, 256), 9),
        "dcgan": lambda: HugGANDCGAN(num_channels=3, latent_dim=100, hidden_size=64),
        "biggan_deep": lambda: RefBigGAN(RefBigGANConfig(**PUBLISHED_BIGGAN_128_CONFIG)),
        "stargan": lambda: RefLornatangStarGAN(c_dim=5, in_channels=3, out_channels=3, channels=64, num_rcb=6),
    }
    return factories[load_registry().get(model_id).architecture]()


@pytest.mark.parametrize("model_id", HUB_IDS)
def test_real_size_kwargs_match_the_published_layout(catalogue, model_id):
    """The catalogue's own kwargs build, key for key and shape for shape, what the publisher saved."""
    spec = catalogue.get(model_id)
    with torch.device("meta"):
        ours = build_architecture(spec.architecture, spec.kwargs)
        reference = _reference_at_published_config(model_id)
    published = convert_state_dict(reference.state_dict(), spec.architecture, spec.kwargs, source="meta")
    assert meta_shapes(ours) == {k: tuple(v.shape) for k, v in published.items()}
    if model_id == BIGGAN_ID:
        assert spec.kwargs == PUBLISHED_BIGGAN_128_CONFIG
        assert sum(p.numel() for p in ours.parameters()) > 50_000_000


# --------------------------------------------------------------------------- HugGAN pix2pix U-Net


@pytest.mark.parametrize("model_id", PIX2PIX_IDS)
def test_huggan_pix2pix_entry_downloads_loads_and_matches(hub_server, catalogue, model_id):
    spec = with_kwargs(catalogue.get(model_id), ngf=4)
    seed = PIX2PIX_IDS.index(model_id)
    reference = randomize(RefHugGANUNet(3, 3, width=4), seed=10 + seed).eval()
    commit = publish_source(hub_server, spec, {
        "pytorch_model.bin": torch_bytes(reference.state_dict()),
        "README.md": b"---\nlicense: mit\ntags: [huggan, gan]\n---\n",
    })
    module, architecture, kwargs, revision = build_generator(spec)
    assert (architecture, revision) == ("huggan_pix2pix_unet", commit)
    assert not module.training and not kwargs["inference_dropout"]
    x = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x), rtol=0, atol=1e-6)
    requested = hub_server.requests("GET", f"/{spec.source.repo_id}/resolve/{spec.source.revision}/pytorch_model.bin")
    assert requested, hub_server.request_log


def test_huggan_pix2pix_dropout_is_explicit_and_seeded(hub_server, catalogue):
    """inference_dropout=True is the reference in train() mode (dropout on), seeded: same seed, same image."""
    spec = with_kwargs(catalogue.get(PIX2PIX_IDS[0]), ngf=4, inference_dropout=True)
    reference = randomize(RefHugGANUNet(3, 3, width=4), seed=21)
    publish_source(hub_server, spec, {"pytorch_model.bin": torch_bytes(reference.state_dict())})
    module, *_ = build_generator(spec)
    x = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(5)) * 2 - 1
    with torch.no_grad():
        reference.train()
        torch.manual_seed(1234)
        expected = reference(x)
        torch.manual_seed(1234)
        ours = module(x)
        torch.manual_seed(99)
        other = module(x)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)
    assert (ours - other).abs().max() > 1e-3  # the dropout really acts


def test_huggan_pix2pix_translate_pipeline_end_to_end(hub_server, catalogue):
    spec = with_kwargs(catalogue.get("huggan/pix2pix-edge2shoes"), ngf=4)
    reference = randomize(RefHugGANUNet(3, 3, width=4), seed=31).eval()
    commit = publish_source(hub_server, spec, {"pytorch_model.bin": torch_bytes(reference.state_dict())})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    image = gradient_image(256, 256, seed=2)
    result = studio.translate(spec.id, image, seed=4)
    with torch.no_grad():
        expected = tensor_to_pil(reference(pil_to_tensor(image)))[0]
    assert result.image.size == (256, 256)
    assert np.array_equal(np.asarray(result.image), np.asarray(expected))
    assert result.params["model"] == spec.id and result.params["revision"] == commit


def test_huggan_pix2pix_translates_a_non_square_photo(hub_server, catalogue):
    spec = with_kwargs(catalogue.get("huggan/pix2pix-maps"), ngf=4)
    reference = randomize(RefHugGANUNet(3, 3, width=4), seed=32).eval()
    publish_source(hub_server, spec, {"pytorch_model.bin": torch_bytes(reference.state_dict())})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    result = studio.translate(spec.id, gradient_image(300, 200), seed=0)
    assert result.image.size == (300, 200)


# --------------------------------------------------------------------------- HugGAN CycleGAN ResNet


def test_huggan_cyclegan_entry_both_directions(hub_server, catalogue):
    spec = with_kwargs(catalogue.get(CYCLEGAN_ID), num_residual_blocks=2, ngf=4)
    references = {}
    for i, direction in enumerate(("sim2real", "real2sim")):
        references[direction] = randomize(RefHugGANResNet((3, 32, 32), 2, width=4), seed=40 + i).eval()
        publish_source(hub_server, spec, {"pytorch_model.bin": torch_bytes(references[direction].state_dict())},
                       variant=direction)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    outputs = {}
    for direction, reference in references.items():
        module, architecture, _, _ = build_generator(spec, direction)
        assert architecture == "huggan_cyclegan_resnet"
        with torch.no_grad():
            outputs[direction] = module(x)
            torch.testing.assert_close(outputs[direction], reference(x), rtol=0, atol=1e-6)
    assert (outputs["sim2real"] - outputs["real2sim"]).abs().max() > 1e-2  # two different files

    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    image = gradient_image(48, 32, seed=3)
    result = studio.translate(spec.id, image, direction="real2sim", working_size=32)
    with torch.no_grad():
        expected = tensor_to_pil(references["real2sim"](pil_to_tensor(resize(image, (48, 32)))))[0]
    assert np.array_equal(np.asarray(result.image), np.asarray(expected))
    assert result.params["variant"] == "real2sim"
    assert hub_server.requests("GET", "/Chris1/real2sim-512/resolve/main/pytorch_model.bin")


# --------------------------------------------------------------------------- HugGAN DCGAN (real size)


def test_huggan_dcgan_mnist_entry_at_real_size(hub_server, catalogue):
    spec = catalogue.get(DCGAN_ID)  # the real config: 3.6 M parameters, cheap enough
    reference = randomize(HugGANDCGAN(num_channels=3, latent_dim=100, hidden_size=64), seed=50).eval()
    assert all(k.startswith("model.") for k in reference.state_dict())
    publish_source(hub_server, spec, {"pytorch_model.bin": torch_bytes(reference.state_dict())})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    results = studio.generate(DCGAN_ID, seed=7, n=2)
    z = torch.stack([draw_latent(7, 100), draw_latent(8, 100)])[:, :, None, None]
    with torch.no_grad():  # from_pretrained() puts the HugGAN model in eval(): BatchNorm running statistics
        expected = reference(z)
        ours = studio.load(DCGAN_ID).module(z)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)
    for result, image in zip(results, tensor_to_pil(expected)):
        assert result.image.size == (64, 64)
        assert np.abs(np.asarray(result.image, dtype=int) - np.asarray(image, dtype=int)).max() <= 1


# --------------------------------------------------------------------------- BigGAN-deep


def test_biggan_entry_reduced_config_downloads_loads_and_matches(hub_server, catalogue):
    spec = replace(catalogue.get(BIGGAN_ID), kwargs=dict(SMALL_BIGGAN_CONFIG),
                   labels=imagenet_class_names()[:10])
    reference = randomize_biggan(RefBigGAN(RefBigGANConfig(**SMALL_BIGGAN_CONFIG)), seed=60).eval()
    publish_source(hub_server, spec, {
        "config.json": json.dumps(SMALL_BIGGAN_CONFIG).encode(),
        "pytorch_model.bin": torch_bytes(reference.state_dict()),
    })
    module, architecture, _, _ = build_generator(spec)
    assert architecture == "biggan_deep" and module.contract.takes_truncation_input
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1)).clamp(-1, 1)
    labels = torch.tensor([0, 4, 9])
    with torch.no_grad():
        for truncation in (1.0, 0.4, 0.37):
            expected = reference(z, F.one_hot(labels, 10).float(), truncation)
            torch.testing.assert_close(module(z, labels, truncation=truncation), expected, rtol=0, atol=1e-5)
        assert (module(z, labels, truncation=1.0) - module(z, labels, truncation=0.4)).abs().max() > 1e-3
        with pytest.raises(ValueError, match="truncation"):
            module(z, labels, truncation=0.0)
        with pytest.raises(ValueError, match="0 … 9"):
            module(z, torch.tensor([0, 1, 10]))

    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    results = studio.generate(BIGGAN_ID, seed=3, n=2, label="goldfish", truncation=0.5)
    # BigGAN's reference draws z = truncation * truncnorm(-2, 2) and passes the truncation on
    z = torch.stack([draw_latent(3, 8, 2.0), draw_latent(4, 8, 2.0)]) * 0.5
    with torch.no_grad():
        expected = tensor_to_pil(reference(z, F.one_hot(torch.tensor([1, 1]), 10).float(), 0.5))
    for result, image in zip(results, expected):
        assert result.image.size == (32, 32) and result.params["label"] == "goldfish"
        assert result.params["truncation"] == 0.5
        assert np.abs(np.asarray(result.image, dtype=int) - np.asarray(image, dtype=int)).max() <= 1


def test_biggan_statistics_are_weighted_as_the_reference_does():
    bn = BigGANBatchNorm(2, conditional=False, n_stats=51)
    bn.running_means.copy_(torch.arange(51.0)[:, None].expand(51, 2))
    mean = lambda t: float(bn.statistics(t)[0][0])  # noqa: E731
    assert mean(1.0) == 50.0 and mean(0.5) == 25.0
    # 0.365 / 0.02 = 18.25: the reference weighs index 18 by 0.25 and 19 by 0.75 (not linear interpolation)
    assert mean(0.365) == pytest.approx(18 * 0.25 + 19 * 0.75)
    # In floating point 0.14 / (1 / 50) = 7.000000000000001: the reference then uses index 8 (t = 0.16),
    # and 0.58 -> 28.999999999999996 uses index 28 (t = 0.56). We reproduce that, as published.
    assert mean(0.14) == pytest.approx(8.0, abs=1e-9)
    assert mean(0.58) == pytest.approx(28.0, abs=1e-9)
    assert mean(0.4) == 20.0


# --------------------------------------------------------------------------- StarGAN (Lornatang layout)


def test_lornatang_stargan_keys_convert_to_the_reference_layout():
    """convert.py's Lornatang mapping: same numbers as Lornatang's own module, under its eval() (running stats)."""
    reference = randomize(RefLornatangStarGAN(5, 3, 3, channels=4, num_rcb=2), seed=70).eval()
    kwargs = {"conv_dim": 4, "c_dim": 5, "repeat_num": 2, "inference_norm": "running_stats"}
    converted = convert_state_dict(reference.state_dict(), "stargan", kwargs)
    assert "main.0.weight" in converted and "main.9.main.4.running_var" in converted
    assert "main.11.weight" in converted and "main.17.weight" in converted  # up_sampling.0 and last_layer.0 (R=2)
    assert detect_architecture(reference.state_dict()) == "stargan"
    module = build_and_load(reference.state_dict(), "stargan", kwargs, source="lornatang").eval()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    c = torch.tensor([[1.0, 0, 0, 1, 0], [0, 0, 1, 0, 1]])
    with torch.no_grad():
        torch.testing.assert_close(module(x, c), reference(x, c), rtol=0, atol=1e-6)


def test_stargan_entry_downloads_loads_and_translates(hub_server, catalogue):
    spec = with_kwargs(catalogue.get(STARGAN_ID), conv_dim=4, repeat_num=2)
    reference = randomize(RefLornatangStarGAN(5, 3, 3, channels=4, num_rcb=2), seed=71).eval()
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-4, betas=(0.5, 0.999))
    checkpoint = {"epoch": 200, "state_dict": reference.state_dict(), "optim_state_dict": optimizer.state_dict()}
    publish_source(hub_server, spec, {"g_celeba-128x128.pth.tar": torch_bytes(checkpoint)})
    studio = Studio(registry=Registry([spec]), device="cpu", half=False)
    face = gradient_image(178, 218, seed=7)  # a CelebA-sized portrait
    result = studio.translate_attributes(STARGAN_ID, face, ["Blond_Hair", "Young"])
    x = pil_to_tensor(resize(center_crop(face, 178), (128, 128)))
    with torch.no_grad():
        expected = tensor_to_pil(reference(x, torch.tensor([[0.0, 1, 0, 0, 1]])))[0]
    assert result.image.size == (128, 128)
    assert np.abs(np.asarray(result.image, dtype=int) - np.asarray(expected, dtype=int)).max() <= 1
    with pytest.raises(ValueError, match="exclude each other"):
        studio.translate_attributes(STARGAN_ID, face, ["Black_Hair", "Blond_Hair"])


# --------------------------------------------------------------------------- any Hub repo by id


def test_any_hub_repo_in_our_format_loads_by_id(hub_server, tmp_path, catalogue):
    module = randomize(build_architecture("huggan_cyclegan_resnet", {"num_residual_blocks": 1, "ngf": 4}), seed=80)
    folder = weights.save_model_folder(
        module, tmp_path / "repo", architecture="huggan_cyclegan_resnet",
        kwargs={"channels": 3, "num_residual_blocks": 1, "ngf": 4},
        meta={"task": "translation", "image_size": 32, "license": "mit", "description": "a test translator"},
        card="---\nlicense: mit\n---\n",
    )
    commit = hub_server.publish("someone/tiny-translator", {p.name: p for p in folder.iterdir()})
    studio = Studio(registry=load_registry(), device="cpu", half=False)
    spec = studio.spec("someone/tiny-translator")
    assert (spec.architecture, spec.task.value, spec.image_size) == ("huggan_cyclegan_resnet", "translation", 32)
    loaded = studio.load("someone/tiny-translator")
    assert loaded.revision == commit
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), module.eval()(x), rtol=0, atol=1e-6)
    result = studio.translate("someone/tiny-translator", gradient_image(32, 32))
    assert result.image.size == (32, 32) and result.params["model"] == "someone/tiny-translator"


def test_foreign_layout_with_a_named_architecture_fails_listing_the_keys(hub_server):
    """A junyanz-CycleGAN checkpoint loaded as HugGAN's ResNet: no partial load, the keys are named."""
    foreign = RefResnetGenerator(3, 3, 4, reference_norm_layer("instance"), False, 2)
    hub_server.publish("someone/cyclegan-junyanz", {
        "config.json": json.dumps({"channels": 3, "num_residual_blocks": 2, "ngf": 4,
                                   "_gan_studio": {"task": "translation"}}).encode(),
        "pytorch_model.bin": torch_bytes(foreign.state_dict()),
    })
    studio = Studio(registry=load_registry(), device="cpu", half=False)
    spec = studio.spec("someone/cyclegan-junyanz", architecture="huggan_cyclegan_resnet")
    with pytest.raises(CheckpointError) as info:
        studio.load(spec.id)
    message = str(info.value)
    assert "missing keys" in message and "model.10.block.1.weight" in message
    assert "unexpected keys" in message and "model.10.conv_block.1.weight" in message
    assert "looks like architecture 'cyclegan_resnet'" in message


def test_a_huggan_config_loads_with_a_named_architecture(hub_server):
    reference = randomize(RefHugGANResNet((3, 32, 32), 1), seed=81).eval()  # published width 64, 1 block
    hub_server.publish("someone/huggan-cyclegan", {
        "config.json": json.dumps({"input_shape": [3, 32, 32], "num_residual_blocks": 1}).encode(),
        "pytorch_model.bin": torch_bytes(reference.state_dict()),
    })
    studio = Studio(registry=load_registry(), device="cpu", half=False)
    spec = studio.spec("someone/huggan-cyclegan", architecture="huggan_cyclegan_resnet")
    loaded = studio.load(spec.id)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), reference(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (lambda: RefHugGANUNet(3, 3, width=2), "huggan_pix2pix_unet"),
        (lambda: RefHugGANResNet((3, 8, 8), 1, width=2), "huggan_cyclegan_resnet"),
        (lambda: RefBigGAN(RefBigGANConfig(**SMALL_BIGGAN_CONFIG)), "biggan_deep"),
        (lambda: RefLornatangStarGAN(5, 3, 3, channels=2, num_rcb=1), "stargan"),
    ],
)
def test_detect_architecture_knows_the_hub_layouts(factory, expected):
    with torch.device("meta"):
        module = factory()
    assert detect_architecture(module.state_dict()) == expected


def test_weight_files_are_loaded_weights_only(hub_server, catalogue, tmp_path):
    """A pickle that would run code is refused, not executed, even under a catalogue id."""
    spec = with_kwargs(catalogue.get("huggan/pix2pix-night2day"), ngf=4)
    payload = {"state_dict": _TouchOnUnpickle(tmp_path / "pwned")}
    publish_source(hub_server, spec, {"pytorch_model.bin": torch_bytes(payload)})
    with pytest.raises(CheckpointError, match="refused"):
        build_generator(spec)
    assert not (tmp_path / "pwned").exists()
