"""Model loading, the model cache and the pipelines, on tiny seeded models."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from gan_studio import load_generator
from gan_studio.errors import CheckpointError, WrongTaskError
from gan_studio.metadata import read_metadata
from gan_studio.models import ModelCache
from gan_studio.pipelines.generation import draw_latent
from gan_studio.registry import load_registry
from gan_studio.studio import Studio


@pytest.fixture(scope="module")
def studio(models_toml):
    return Studio(models_file=str(models_toml), device="cpu")


def photo(w: int = 40, h: int = 30) -> Image.Image:
    gen = torch.Generator().manual_seed(w * 1000 + h)
    return Image.fromarray((torch.rand(h, w, 3, generator=gen) * 255).to(torch.uint8).numpy(), "RGB")


# ---- load_generator: contracts per task ----------------------------------------------------------
def test_load_generator_contracts(models_toml):
    f = str(models_toml)
    g = load_generator("tiny-dcgan", models_file=f)
    assert not g.training
    z = torch.randn(2, 8)
    assert g(z).shape == (2, 1, 16, 16)
    torch.testing.assert_close(g(z), g(z.view(2, 8, 1, 1)))
    c = load_generator("tiny-cgan", models_file=f)
    assert c(z, torch.tensor([0, 2])).shape == (2, 1, 16, 16)
    t = load_generator("tiny-cyclegan", variant="BtoA", models_file=f)
    assert t(torch.rand(1, 3, 32, 32) * 2 - 1).shape == (1, 3, 32, 32)
    s = load_generator("tiny-stargan", models_file=f)
    assert s(torch.rand(1, 3, 16, 16), torch.tensor([[1.0, 0.0, 1.0]])).shape == (1, 3, 16, 16)
    col = load_generator("tiny-colorizer", models_file=f)
    ab = col(torch.rand(1, 1, 32, 32) * 2 - 1)
    assert ab.shape == (1, 2, 32, 32) and ab.abs().max() <= 1


def test_two_directions_are_different_weights(models_toml):
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    a = load_generator("tiny-cyclegan", variant="AtoB", models_file=str(models_toml))(x)
    b = load_generator("tiny-cyclegan", variant="BtoA", models_file=str(models_toml))(x)
    assert not torch.allclose(a, b)


def test_missing_weights_and_mismatched_weights_fail_clearly(tmp_path):
    from tiny_models import make_model

    folder = make_model(tmp_path, "tiny-dcgan")
    cfg = (folder / "config.json").read_text()
    (folder / "config.json").write_text(cfg.replace('"ngf": 4', '"ngf": 5'))
    with pytest.raises(CheckpointError) as info:
        load_generator(str(folder))
    assert "shape mismatches" in str(info.value) and "main.0.weight" in str(info.value)
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="none of the weight files"):
        load_generator(str(folder))


def test_corrupt_safetensors_names_the_file(tmp_path):
    from tiny_models import make_model

    folder = make_model(tmp_path, "tiny-dcgan")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_generator(str(folder))


# ---- generation -----------------------------------------------------------------------------------
def test_seed_gives_the_same_image_whatever_the_batch(studio):
    four = studio.generate("tiny-dcgan", seed=7, n=4, batch_size=4)
    ones = [studio.generate("tiny-dcgan", seed=7 + i, n=1)[0] for i in range(4)]
    twos = studio.generate("tiny-dcgan", seed=7, n=4, batch_size=3)
    for a, b, c in zip(four, ones, twos):
        assert a.params["seed"] == b.params["seed"] == c.params["seed"]
        assert a.image.tobytes() == b.image.tobytes() == c.image.tobytes()
    assert four[0].image.tobytes() != four[1].image.tobytes()
    assert four[0].image.size == (16, 16)


def test_latents_come_from_a_cpu_generator():
    z = draw_latent(123, 16)
    expected = torch.randn(16, generator=torch.Generator().manual_seed(123))
    torch.testing.assert_close(z, expected)
    t = draw_latent(123, 4096, truncation=0.5)
    assert t.abs().max() <= 0.5 and t.std() > 0.2
    torch.testing.assert_close(t, draw_latent(123, 4096, truncation=0.5))


def test_conditional_labels_by_name_and_index(studio):
    by_name = studio.generate("tiny-cgan", seed=3, n=2, label="dog")
    by_index = studio.generate("tiny-cgan", seed=3, n=2, label=1)
    assert [r.params["label"] for r in by_name] == ["dog", "dog"]
    assert by_name[0].image.tobytes() == by_index[0].image.tobytes()
    other = studio.generate("tiny-cgan", seed=3, n=1, label="owl")
    assert other[0].image.tobytes() != by_name[0].image.tobytes()
    with pytest.raises(ValueError, match="unknown class 'fish'.*cat, dog, owl"):
        studio.generate("tiny-cgan", seed=3, label="fish")
    with pytest.raises(WrongTaskError):
        studio.generate("tiny-dcgan", seed=3, label="dog")
    drawn = studio.generate("tiny-cgan", seed=3, n=6)
    assert all(r.params["label"] in ("cat", "dog", "owl") for r in drawn)


def test_provenance_round_trips_through_png(studio):
    (result,) = studio.generate("tiny-cgan", seed=11, n=1, label="cat", truncation=0.8)
    params = read_metadata(result.png_bytes())
    assert params["model"] == "tiny-cgan" and params["seed"] == 11 and params["label"] == "cat"
    assert params["truncation"] == 0.8 and params["ai_generated"] is True
    assert params["revision"].startswith("local-") and params["software"].startswith("gan_studio ")
    assert result.png_bytes() == studio.generate("tiny-cgan", seed=11, n=1, label="cat", truncation=0.8)[0].png_bytes()


def test_interpolation_ends_at_both_seeds(studio):
    frames = studio.interpolate("tiny-dcgan", seed_a=1, seed_b=2, frames=5)
    assert len(frames) == 5
    assert frames[0].image.tobytes() == studio.generate("tiny-dcgan", seed=1)[0].image.tobytes()
    assert frames[-1].image.tobytes() == studio.generate("tiny-dcgan", seed=2)[0].image.tobytes()
    from gan_studio.image_io import frames_to_gif

    gif = Image.open(io.BytesIO(frames_to_gif([f.image for f in frames])))
    assert gif.format == "GIF" and gif.n_frames == 8  # ping-pong: 5 + 3


def test_generation_rejects_bad_counts(studio):
    with pytest.raises(ValueError, match="at least 1"):
        studio.generate("tiny-dcgan", n=0)
    with pytest.raises(WrongTaskError, match="translation"):
        studio.generate("tiny-cyclegan")


# ---- translation, multidomain, colorization -------------------------------------------------------
def test_translation_keeps_the_input_size_and_direction(studio):
    image = photo(50, 30)
    a = studio.translate("tiny-cyclegan", image, direction="AtoB")
    b = studio.translate("tiny-cyclegan", image, direction="BtoA")
    assert a.image.size == image.size == b.image.size and a.image.mode == "RGB"
    assert a.image.tobytes() != b.image.tobytes()
    assert a.params["variant"] == "AtoB" and a.params["input_size"] == [50, 30]
    with pytest.raises(WrongTaskError):
        studio.translate("tiny-dcgan", image)


def test_extreme_aspect_ratios_are_bounded(studio):
    strip = photo(3000, 2)
    result = studio.translate("tiny-cyclegan", strip, working_size=16)
    assert result.image.size == (3000, 2)
    colour = studio.colorize("tiny-colorizer", photo(2, 900), working_size=16)
    assert colour.image.size == (2, 900)


def test_pix2pix_dropout_is_seeded(studio):
    image = photo(32, 32)
    a = studio.translate("tiny-pix2pix", image, seed=1)
    again = studio.translate("tiny-pix2pix", image, seed=1)
    other = studio.translate("tiny-pix2pix", image, seed=2)
    assert a.image.tobytes() == again.image.tobytes()
    assert a.image.tobytes() != other.image.tobytes()  # dropout stays on, as in the reference test.py
    # and the global RNG is left as it was
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    studio.translate("tiny-pix2pix", image, seed=5)
    assert torch.equal(torch.rand(1), before)


def test_stargan_attributes_and_exclusive_groups(studio):
    image = photo(40, 30)
    red = studio.translate_attributes("tiny-stargan", image, ["red"])
    blue_big = studio.translate_attributes("tiny-stargan", image, {"blue": True, "big": True, "red": False})
    assert red.image.size == (16, 16)  # centre crop 24, resize 16
    assert red.image.tobytes() != blue_big.image.tobytes()
    assert blue_big.params["attributes"] == ["blue", "big"]
    with pytest.raises(ValueError, match="exclude each other"):
        studio.translate_attributes("tiny-stargan", image, ["red", "blue"])
    with pytest.raises(ValueError, match="unknown attribute.*red, blue, big"):
        studio.translate_attributes("tiny-stargan", image, ["green"])


def test_colorization_keeps_full_resolution_luminance(studio):
    from gan_studio.image_io import rgb_to_lab

    gray = photo(70, 45).convert("L").convert("RGB")
    result = studio.colorize("tiny-colorizer", gray, working_size=32)
    assert result.image.size == (70, 45)

    def lum(img: Image.Image) -> torch.Tensor:
        t = torch.from_numpy(__import__("numpy").asarray(img, dtype="float32") / 255).permute(2, 0, 1)[None]
        return rgb_to_lab(t)[:, 0]

    # the luminance comes from the full-resolution input, not from the 32-px prediction
    assert (lum(result.image) - lum(gray)).abs().mean() < 2.0
    assert result.image.tobytes() != gray.tobytes()


# ---- cache ----------------------------------------------------------------------------------------
def test_cache_reuses_and_evicts_least_recently_used(models_toml):
    registry = load_registry(models_toml)
    cache = ModelCache(max_bytes=1)  # always over budget: keeps only the newest
    a = cache.get(registry.get("tiny-dcgan"), None, "cpu")
    assert cache.get(registry.get("tiny-dcgan"), None, "cpu") is a
    cache.get(registry.get("tiny-cgan"), None, "cpu")
    assert [k[0] for k in cache.keys()] == ["tiny-cgan"]
    big = ModelCache(max_bytes=10**9)
    for name in ("tiny-dcgan", "tiny-cgan", "tiny-colorizer"):
        big.get(registry.get(name), None, "cpu")
    big.get(registry.get("tiny-dcgan"), None, "cpu")
    assert [k[0] for k in big.keys()] == ["tiny-cgan", "tiny-colorizer", "tiny-dcgan"]


def test_concurrent_requests_share_forward_passes_and_get_their_own_images(models_toml):
    import threading

    studio = Studio(models_file=str(models_toml), device="cpu")
    alone = {s: studio.generate("tiny-cgan", seed=s, n=2, label="owl")[0].image.tobytes() for s in range(8)}
    batcher = studio.load("tiny-cgan").batcher
    batcher.window_s = 0.2  # make sure the eight requests overlap
    calls_before = batcher.calls
    got: dict[int, bytes] = {}
    barrier = threading.Barrier(8)

    def client(seed: int) -> None:
        barrier.wait()
        got[seed] = studio.generate("tiny-cgan", seed=seed, n=2, label="owl")[0].image.tobytes()

    threads = [threading.Thread(target=client, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert got == alone  # every request got its own images, as if alone
    assert batcher.calls - calls_before < 8  # and they shared forward passes


def test_a_failing_batched_forward_fails_every_request_without_hanging():
    import threading

    from gan_studio.batching import ForwardBatcher

    batcher = ForwardBatcher(window_s=0.2)
    errors = []

    def boom(z, labels):
        raise RuntimeError("broken generator")

    def client() -> None:
        try:
            batcher.run("k", torch.zeros(1, 4), None, boom)
        except RuntimeError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert errors == ["broken generator"] * 4
