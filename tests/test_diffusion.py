"""The diffusion baseline: diffusers folders through the registry, the steps control, the committed
``digits-diffusion`` checkpoint, GAN-vs-diffusion comparison, and diffusers repos from the (test) Hub.

Tiny seeded diffusers ``UNet2DModel`` folders (8 channels, 8–32 px) keep this fast.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from gan_studio.errors import CheckpointError, WrongTaskError  # noqa: E402
from gan_studio.registry import REPO_ROOT, Task, load_registry, spec_from_folder  # noqa: E402
from gan_studio.studio import Studio  # noqa: E402

CHECKPOINT = REPO_ROOT / "checkpoints" / "digits-diffusion"
DIGITS_CLASSIFIER = REPO_ROOT / "checkpoints" / "_evaluators" / "digits" / "model.safetensors"


# tiny models: one thread is faster and leaves the other core free (fixture in conftest.py)
pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_unet(*, size: int = 8, classes: int = 0, seed: int = 0):
    """A seeded random ``UNet2DModel`` (8 channels); ``classes`` > 0 adds a class embedding."""
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    unet = UNet2DModel(
        sample_size=size, in_channels=1, out_channels=1, block_out_channels=(8, 8), layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4, num_class_embeds=classes or None,
    )
    with torch.no_grad():  # a random but non-trivial denoiser
        for p in unet.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(seed)) * 0.05)
    return unet.eval()


def save_tiny(folder: Path, *, size: int = 8, classes: int = 0, meta: dict | None = None, seed: int = 0) -> Path:
    """A diffusers folder (flat layout): config.json (+ ``_gan_studio``), safetensors, scheduler config."""
    from diffusers import DDPMScheduler

    tiny_unet(size=size, classes=classes, seed=seed).save_pretrained(str(folder), safe_serialization=True)
    DDPMScheduler(num_train_timesteps=100, prediction_type="epsilon").save_pretrained(str(folder))
    if meta is not None:
        config = json.loads((folder / "config.json").read_text())
        config["_gan_studio"] = meta
        (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def studio() -> Studio:
    return Studio(device="cpu")


@pytest.fixture(scope="module")
def tiny_cond(tmp_path_factory) -> Path:
    meta = {"task": "conditional", "labels": ["a", "b", "c"], "default_steps": 4, "description": "tiny"}
    return save_tiny(tmp_path_factory.mktemp("diff") / "tiny-cond", classes=3, meta=meta)


def _bytes(results) -> list[bytes]:
    return [r.image.tobytes() for r in results]


# ---- local diffusers folders ---------------------------------------------------------------------
def test_diffusers_folder_resolves_to_a_conditional_diffusion_spec(tiny_cond):
    spec = spec_from_folder(tiny_cond)
    assert (spec.task, spec.architecture) == (Task.CONDITIONAL, "diffusion")
    assert spec.labels == ("a", "b", "c") and spec.image_size == 8 and spec.channels == 1
    assert spec.kwargs["num_class_embeds"] == 3 and "_class_name" not in spec.kwargs


def test_generation_is_deterministic_per_seed_and_sized(studio, tiny_cond):
    model = str(tiny_cond)
    four = studio.generate(model, seed=10, n=4, label="b", batch_size=3)
    assert [r.image.size for r in four] == [(8, 8)] * 4 and four[0].image.mode == "L"
    assert [r.params["seed"] for r in four] == [10, 11, 12, 13]
    assert {r.params["steps"] for r in four} == {4}  # the folder's default_steps
    assert {r.params["architecture"] for r in four} == {"diffusion"}
    # image i = seed + i, whatever the batch: seed 12 alone gives the third image's bytes
    alone = studio.generate(model, seed=12, n=1, label="b")
    assert _bytes(alone)[0] == _bytes(four)[2]
    assert _bytes(studio.generate(model, seed=10, n=4, label="b", batch_size=4)) == _bytes(four)
    assert len(set(_bytes(four))) == 4  # different seeds, different images
    other_class = studio.generate(model, seed=10, n=1, label="c")
    assert _bytes(other_class)[0] != _bytes(four)[0]


def test_steps_change_the_output_and_are_recorded(studio, tiny_cond):
    model = str(tiny_cond)
    two = studio.generate(model, seed=3, n=1, label=0, steps=2)
    six = studio.generate(model, seed=3, n=1, label=0, steps=6)
    assert two[0].params["steps"] == 2 and six[0].params["steps"] == 6
    assert _bytes(two) != _bytes(six)
    assert _bytes(studio.generate(model, seed=3, n=1, label=0, steps=2)) == _bytes(two)
    from gan_studio.cli import reproduce_command

    assert "--steps 6" in reproduce_command(six[0].params)


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps must be a whole number between 1 and 1000, got 0"),
    ({"steps": 2.5}, "got 2.5"),
    ({"truncation": 0.7}, "truncation"),
    ({"label": "zebra"}, "choose one of: a, b, c"),
])
def test_bad_diffusion_arguments_name_the_value(studio, tiny_cond, kwargs, match):
    args = {"seed": 0, "n": 1, "label": "a", **kwargs}
    with pytest.raises(ValueError, match=match):
        studio.generate(str(tiny_cond), **args)


def test_steps_on_a_gan_is_refused(tmp_path, studio):
    from tiny_models import make_model

    folder = make_model(tmp_path, "tiny-cgan")
    with pytest.raises(ValueError, match="one forward pass; steps"):
        studio.generate(str(folder), seed=0, n=1, label="cat", steps=10)


def test_weights_load_strictly_and_from_safetensors_only(tmp_path):
    from safetensors.torch import load_file, save_file

    from gan_studio.architectures.diffusion import load_diffusion_folder

    folder = save_tiny(tmp_path / "pruned")
    weights = folder / "diffusion_pytorch_model.safetensors"
    state = load_file(str(weights))
    dropped = sorted(state)[0]
    save_file({k: v for k, v in state.items() if k != dropped}, str(weights))
    with pytest.raises(CheckpointError, match="missing_keys"):
        load_diffusion_folder(folder)

    pickled = save_tiny(tmp_path / "pickled")
    torch.save(load_file(str(pickled / "diffusion_pytorch_model.safetensors")), pickled / "diffusion_pytorch_model.bin")
    (pickled / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="safetensors only"):
        load_diffusion_folder(pickled)


# ---- the committed checkpoint --------------------------------------------------------------------
def test_catalogue_serves_digits_diffusion_as_a_conditional_generator():
    spec = load_registry().get("digits-diffusion")
    assert (spec.task, spec.architecture, spec.builtin) == (Task.CONDITIONAL, "diffusion", True)
    if (CHECKPOINT / "config.json").is_file():
        assert spec.labels == tuple(str(i) for i in range(10)) and spec.image_size == 32


@pytest.mark.skipif(not (CHECKPOINT / "diffusion_pytorch_model.safetensors").is_file(),
                    reason="checkpoints/digits-diffusion is not trained yet "
                           "(python -m gan_studio train digits-diffusion --out checkpoints/digits-diffusion)")
@pytest.mark.skipif(not DIGITS_CLASSIFIER.is_file(), reason="the digit classifier is not trained yet")
def test_committed_checkpoint_draws_the_requested_digits(studio):
    from gan_studio.evaluation.classifiers import load_evaluator, predict
    from gan_studio.image_io import pil_to_tensor

    clf, _ = load_evaluator("digits")
    hits = 0
    for digit in range(10):
        result = studio.generate("digits-diffusion", seed=100 + digit, n=1, label=str(digit))[0]
        assert result.image.size == (32, 32) and result.params["steps"] == 25
        hits += int(predict(clf, pil_to_tensor(result.image, channels=1)).argmax(1).item() == digit)
    assert hits >= 8, f"only {hits}/10 samples classified as the requested digit"


# ---- comparison -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digit_shaped_pair(tmp_path_factory) -> tuple[Path, Path]:
    """A random conditional GAN and a random conditional diffusion model, both 1×32×32 with 10 classes."""
    from gan_studio.architectures import build_architecture
    from gan_studio.weights import save_model_folder

    root = tmp_path_factory.mktemp("pair")
    kwargs = {"nz": 8, "ngf": 4, "nc": 1, "image_size": 32, "num_classes": 10, "embed_dim": 4}
    labels = [str(i) for i in range(10)]
    torch.manual_seed(0)
    gan = save_model_folder(build_architecture("conditional_dcgan", kwargs).eval(), root / "gan",
                            architecture="conditional_dcgan", kwargs=kwargs,
                            meta={"task": "conditional", "labels": labels, "image_size": 32, "channels": 1})
    diff = save_tiny(root / "diffusion", size=32, classes=10,
                     meta={"task": "conditional", "labels": labels, "default_steps": 2})
    return gan, diff


def test_compare_gives_both_models_the_same_class_and_seeds_with_timings(studio, digit_shaped_pair):
    from gan_studio.compare import compare, format_comparison

    gan, diff = map(str, digit_shaped_pair)
    c = compare(studio, gan=gan, diffusion=diff, label=3, seed=5, n=3, steps=3, repeats=2, eval_samples=0)
    assert c.seeds == [5, 6, 7] and c.label == "3"
    for side in c.sides:
        assert [r.params["seed"] for r in side.results] == [5, 6, 7]
        assert {r.params["label"] for r in side.results} == {"3"}
        assert len(side.timings) == 2 and all(t > 0 for t in side.timings)
        # timings are rounded to the microsecond
        assert side.seconds_per_image == pytest.approx(statistics.median(side.timings), rel=1e-3, abs=1e-6)
    assert c.gan.steps is None and c.gan.evaluations_per_image == 1
    assert c.diffusion.steps == 3 and c.diffusion.evaluations_per_image == 3
    assert {r.params["steps"] for r in c.diffusion.results} == {3}
    # the images are the studio's own: the same call gives the same bytes
    again = studio.generate(diff, seed=5, n=3, label=3, steps=3)
    assert _bytes(again) == _bytes(c.diffusion.results)
    text = format_comparison(c)
    assert "time per image" in text and gan in text and diff in text
    with pytest.raises(WrongTaskError, match="not a diffusion model"):
        compare(studio, gan=gan, diffusion=gan, n=1, repeats=1, eval_samples=0)


@pytest.mark.skipif(not DIGITS_CLASSIFIER.is_file(), reason="the digit classifier is not trained yet")
def test_compare_metrics_come_from_the_evaluation_module(studio, digit_shaped_pair):
    from gan_studio.compare import compare
    from gan_studio.evaluation import evaluate

    gan, diff = map(str, digit_shaped_pair)
    c = compare(studio, gan=gan, diffusion=diff, label=1, n=2, steps=2, repeats=1, eval_samples=20, eval_seed=4)
    for side in c.sides:
        m = side.metrics
        assert m["n_samples"] == 20 and m["task"] == "conditional"
        assert sum(m["class_histogram"]) == 20
        assert m["classes_present"] == sum(1 for v in m["class_histogram"] if v > 0)
        assert 0.0 <= m["class_accuracy"] <= 1.0 and m["nn_median_sample_to_train"] > 0
        assert set(m["bars"]) == {"class_accuracy", "classifier_heldout_accuracy"}
        assert m["within_class_distance_train"] > 10  # the training digits' own spread (≈ 16)
        assert m["within_class_diversity_ratio"] == pytest.approx(
            m["within_class_distance"] / m["within_class_distance_train"], abs=1e-4)
    assert c.diffusion.metrics["steps"] == 2 and c.gan.metrics["steps"] is None
    # the GAN's numbers equal the evaluation module's own run on the same folder
    reference = evaluate(gan, n_samples=20, seed=4)
    for key in ("class_accuracy", "per_class_accuracy", "class_entropy_nats", "confident_share"):
        assert c.gan.metrics[key] == reference[key], key
    rows = {row[0]: row[1:] for row in c.table()}
    assert "requested-class accuracy" in rows and any(k.startswith("time per image") for k in rows)


def test_within_class_distance_is_zero_for_copies_and_the_pair_distance_otherwise():
    from gan_studio.compare import within_class_distance

    a, b = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    labels = torch.tensor([0, 0, 1, 1, 2])
    images = torch.cat([a, a, a, b, b])
    # class 0: two copies (0), class 1: a vs b (distance 4), class 2: one image (skipped)
    assert within_class_distance(images, labels, 3) == pytest.approx(2.0)
    assert within_class_distance(torch.cat([a, a]), torch.tensor([0, 0]), 1) == 0.0


def test_cli_generate_steps_and_compare(tmp_path, digit_shaped_pair, capsys):
    from gan_studio.cli import main
    from gan_studio.metadata import read_metadata

    gan, diff = map(str, digit_shaped_pair)
    out = tmp_path / "d.png"
    assert main(["generate", "--model", diff, "--device", "cpu", "--seed", "2", "--label", "4", "--steps", "3",
                 "-o", str(out)]) == 0
    assert read_metadata(out)["steps"] == 3
    assert main(["compare", "--gan", gan, "--diffusion", diff, "--device", "cpu", "-n", "3", "--steps", "2",
                 "--repeats", "1", "--eval-n", "0", "-o", str(tmp_path / "c.png")]) == 0
    text = capsys.readouterr().out
    assert "time per image" in text and "network evaluations per image" in text
    from PIL import Image

    with Image.open(tmp_path / "c.png") as grid:
        assert grid.size[0] > grid.size[1] > 64  # two rows of three 32 px images
    assert main(["generate", "--model", gan, "--device", "cpu", "--steps", "3", "-o", str(tmp_path / "g.png")]) == 2
    assert "one forward pass" in capsys.readouterr().err


# ---- diffusers repos from the Hub ------------------------------------------------------------------
def _publish_tiny(hub_server, repo_id: str, tmp_path: Path, *, safetensors: bool = True) -> str:
    folder = save_tiny(tmp_path / repo_id.replace("/", "--"), size=8, seed=3)  # unconditional, no _gan_studio block
    files = {name: (folder / name).read_bytes() for name in ("config.json", "scheduler_config.json")}
    weights = folder / "diffusion_pytorch_model.safetensors"
    if safetensors:
        files["diffusion_pytorch_model.safetensors"] = weights.read_bytes()
    else:
        from safetensors.torch import load_file

        bin_path = folder / "diffusion_pytorch_model.bin"
        torch.save(load_file(str(weights)), bin_path)
        files["diffusion_pytorch_model.bin"] = bin_path.read_bytes()
    files["model_index.json"] = json.dumps({"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"],
                                            "scheduler": ["diffusers", "DDPMScheduler"]}).encode()
    return hub_server.publish(repo_id, files)


def test_hub_diffusers_repo_loads_by_id(hub_server, tmp_path):
    commit = _publish_tiny(hub_server, "google/ddpm-cifar10-32", tmp_path)
    studio = Studio(device="cpu")
    spec = studio.spec("google/ddpm-cifar10-32")
    assert (spec.task, spec.architecture, spec.image_size) == (Task.UNCONDITIONAL, "diffusion", 8)
    first = studio.generate("google/ddpm-cifar10-32", seed=7, n=2, steps=3)
    assert [r.image.size for r in first] == [(8, 8), (8, 8)]
    assert first[0].params["revision"] == commit and first[0].params["task"] == "unconditional"
    again = Studio(device="cpu").generate("google/ddpm-cifar10-32", seed=7, n=2, steps=3)
    assert _bytes(again) == _bytes(first)
    with pytest.raises(ValueError, match="unconditional; it takes no class"):
        studio.generate("google/ddpm-cifar10-32", seed=7, n=1, label="3")


def test_hub_diffusers_repo_without_safetensors_is_refused(hub_server, tmp_path):
    _publish_tiny(hub_server, "someone/ddpm-pickled", tmp_path, safetensors=False)
    with pytest.raises(CheckpointError, match="safetensors only"):
        Studio(device="cpu").generate("someone/ddpm-pickled", seed=0, n=1)


# ---- the Compare view, launched for real -------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")
def test_compare_view_endpoint(tmp_path, digit_shaped_pair, monkeypatch):
    gr = pytest.importorskip("gradio")
    from functools import partial

    from gradio_client import Client

    from gan_studio.compare import compare
    from gan_studio.registry import Registry, read_catalogue
    from gan_studio.ui.compare import build_compare_tab
    from gan_studio.ui.session import ModelAccess, OutputStore

    try:
        from ui_fixtures import free_port
    except ImportError:  # pragma: no cover
        from tests.ui_fixtures import free_port

    for k, v in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "NO_PROXY": "127.0.0.1,localhost",
                 "no_proxy": "127.0.0.1,localhost", "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}.items():
        monkeypatch.setenv(k, v)
    gan, diff = digit_shaped_pair
    toml = tmp_path / "models.toml"
    toml.write_text(f'[[model]]\nid = "tiny-gan"\npath = "{gan}"\n\n[[model]]\nid = "tiny-diffusion"\npath = "{diff}"\n')
    studio = Studio(device="cpu", registry=Registry(read_catalogue(toml)))
    with gr.Blocks() as demo:
        with gr.Tab("Compare"):
            tab = build_compare_tab(access=ModelAccess(studio), store=OutputStore(tmp_path / "out"),
                                    compare=partial(compare, studio))
    assert tab.gan.value == "tiny-gan" and tab.diffusion.value == "tiny-diffusion"
    demo.queue()
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, analytics_enabled=False, verbose=False, download_files=str(tmp_path / "dl"))
        gan_items, diff_items, gan_md, diff_md, table, summary = client.predict(
            "tiny-gan", "tiny-diffusion", "7", 11, 3, 2, 0, api_name="/compare")
        assert len(gan_items) == len(diff_items) == 3
        assert [item["caption"] for item in diff_items] == ["seed 11 · class 7", "seed 12 · class 7", "seed 13 · class 7"]
        assert "ms per image" in gan_md and "2 steps" in diff_md
        assert summary["seeds"] == [11, 12, 13] and summary["diffusion"]["steps"] == 2
        assert table["headers"] == ["", "tiny-gan", "tiny-diffusion"]
        assert any(row[0].startswith("time per image") for row in table["data"])
        from gradio_client.exceptions import AppError

        with pytest.raises(AppError, match="not a diffusion model"):
            client.predict("tiny-gan", "tiny-gan", "7", 0, 1, 2, 0, api_name="/compare")
    finally:
        demo.close()
