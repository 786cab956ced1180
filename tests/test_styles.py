"""Working in a StyleGAN's W space: style mixing, W interpolation, SeFa directions, noise and
truncation controls, through the studio on a small random StyleGAN2 in NVIDIA's layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gan_studio.architectures import StyleGAN2Generator
from gan_studio.errors import UserInputError, WrongTaskError
from gan_studio.studio import Studio

CONFIG = {"z_dim": 16, "w_dim": 16, "img_resolution": 64, "img_channels": 3, "mapping_kwargs": {"num_layers": 2},
          "synthesis_kwargs": {"channel_base": 256, "channel_max": 16, "conv_clamp": 256}}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    torch.manual_seed(0)
    G = StyleGAN2Generator(**CONFIG)
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)
    return str(G.save_pretrained(tmp_path_factory.mktemp("sg2") / "tiny-stylegan2", meta={"license": "mit"}))


@pytest.fixture(scope="module")
def studio() -> Studio:
    return Studio(device="cpu", precision="fp32", channels_last="off")


def pixels(result: object) -> bytes:
    return result.image.tobytes()  # type: ignore[attr-defined]


def test_the_layer_groups_follow_the_resolutions(studio: Studio, model: str) -> None:
    from gan_studio.pipelines.styles import layer_indices

    loaded = studio.load(model)
    assert loaded.contract.ws_resolutions == (4, 8, 8, 16, 16, 32, 32, 64, 64, 64)
    assert layer_indices(loaded, "coarse") == [0, 1, 2]
    assert layer_indices(loaded, "middle") == [3, 4, 5, 6]
    assert layer_indices(loaded, "fine") == [7, 8, 9]
    with pytest.raises(UserInputError, match="unknown layer group 'huge'; choose one of: coarse, middle, fine, all"):
        layer_indices(loaded, "huge")


def test_style_mixing_takes_the_chosen_layers_from_the_columns(studio: Studio, model: str) -> None:
    mix = studio.style_mix(model, row_seeds=[1, 2], col_seeds=[3, 4, 5], layers="coarse")
    assert len(mix.cells) == 2 and all(len(row) == 3 for row in mix.cells)
    assert mix.grid.image.size == (4 * 64 + 5 * 2, 3 * 64 + 4 * 2)
    assert mix.cells[0][0].params["style_seed"] == 3 and mix.grid.params["layers"] == "coarse"
    row1 = studio.generate(model, seed=1)[0]
    assert pixels(mix.rows[0]) == pixels(row1)  # the sources are the plain images of their seeds
    cell = mix.cells[0][0]
    assert pixels(cell) not in (pixels(row1), pixels(mix.columns[0]))  # a real mix of the two
    # all layers from the column = the column's image
    everything = studio.style_mix(model, row_seeds=[1], col_seeds=[3], layers="all")
    assert pixels(everything.cells[0][0]) == pixels(everything.columns[0])
    fine = studio.style_mix(model, row_seeds=[1], col_seeds=[3], layers="fine").cells[0][0]
    assert pixels(fine) not in (pixels(cell), pixels(row1), pixels(mix.columns[0]))  # another subset, another mix


def test_interpolation_in_w_ends_at_both_seeds(studio: Studio, model: str) -> None:
    frames = studio.w_interpolate(model, seed_a=1, seed_b=2, frames=4)
    assert [f.params["t"] for f in frames] == [0.0, 0.333333, 0.666667, 1.0] and frames[0].params["space"] == "w"
    assert pixels(frames[0]) == pixels(studio.generate(model, seed=1)[0])
    assert pixels(frames[-1]) == pixels(studio.generate(model, seed=2)[0])


def test_sefa_directions_are_orthonormal_and_move_the_image(studio: Studio, model: str) -> None:
    from gan_studio.pipelines.styles import directions

    loaded = studio.load(model)
    dirs, values = directions(loaded, k=4)
    torch.testing.assert_close(dirs @ dirs.T, torch.eye(4), atol=1e-4, rtol=0)
    assert values == sorted(values, reverse=True) and values[0] > values[-1] > 0
    still = studio.edit(model, seed=7, amounts=[0.0])
    assert pixels(still) == pixels(studio.generate(model, seed=7)[0])
    moved = studio.edit(model, seed=7, amounts=[4.0, 0.0])
    assert pixels(moved) != pixels(still) and moved.params["directions"] == [4.0, 0.0]
    strip = studio.directions(model, seed=7, k=3, steps=5)
    assert strip.image.size == (5 * 64 + 6 * 2, 3 * 64 + 4 * 2) and len(strip.params["eigenvalues"]) == 3


def test_noise_modes_and_truncation_cutoff_are_controls_of_the_contract(studio: Studio, model: str) -> None:
    const = studio.generate(model, seed=3)[0]
    assert pixels(studio.generate(model, seed=3, noise_mode="const")[0]) == pixels(const)
    none = studio.generate(model, seed=3, noise_mode="none")[0]
    random_a = studio.generate(model, seed=3, n=2, noise_mode="random")
    random_b = studio.generate(model, seed=3, n=1, noise_mode="random")
    assert pixels(none) != pixels(const) and pixels(random_a[0]) == pixels(random_b[0])  # seeded per image
    assert random_a[0].params["noise_mode"] == "random"
    cut = studio.generate(model, seed=3, truncation=0.5, truncation_cutoff=2)[0]
    full = studio.generate(model, seed=3, truncation=0.5)[0]
    assert pixels(cut) != pixels(full) and cut.params["truncation_cutoff"] == 2
    with pytest.raises(UserInputError, match="noise mode 'loud' is not one of .*: const, random, none"):
        studio.generate(model, seed=3, noise_mode="loud")
    with pytest.raises(UserInputError, match="truncation cutoff must be between 1 and 10"):
        studio.generate(model, seed=3, truncation_cutoff=11)


def test_models_without_a_style_space_say_so(studio: Studio) -> None:
    with pytest.raises(WrongTaskError, match="has no style space W"):
        studio.style_mix("digits-dcgan", row_seeds=[1], col_seeds=[2])
    with pytest.raises(UserInputError, match="noise mode 'const' is not one of .*none \\(it has no noise inputs\\)"):
        studio.generate("digits-dcgan", seed=1, noise_mode="const")


@pytest.mark.parametrize("command", [
    ["style-mix", "--rows", "1", "2", "--cols", "3", "--layers", "middle", "--truncation", "0.8"],
    ["directions", "--seed", "4", "-k", "2", "--steps", "3", "--layers", "coarse"],
    ["directions", "--seed", "4", "--amounts", "2.5", "-1"],
    ["generate", "--seed", "5", "--noise-mode", "none", "--truncation", "0.7", "--truncation-cutoff", "3"],
    ["interpolate", "--seed-a", "1", "--seed-b", "2", "--frames", "3", "--space", "w"],
])
def test_the_command_line_writes_what_info_reproduces(model: str, tmp_path: Path, command: list[str],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    from gan_studio.cli import main

    first = tmp_path / "first.png"
    assert main([command[0], "--model", model, *command[1:], "-o", str(first), "--device", "cpu",
                 "--precision", "fp32"]) == 0
    capsys.readouterr()
    assert main(["info", str(first)]) == 0
    again_cmd = capsys.readouterr().out.split("reproduce with:\n", 1)[1].strip()
    again = tmp_path / "again.png"
    argv = shlex.split(again_cmd.replace("OUT.png", str(again)))[3:]  # drop "python -m gan_studio"
    assert main([*argv, "--device", "cpu", "--precision", "fp32"]) == 0
    from PIL import Image

    with Image.open(first) as a, Image.open(again) as b:
        assert a.tobytes() == b.tobytes(), again_cmd


def test_stylegan_v1_works_in_w_the_same_way(studio: Studio, tmp_path: Path) -> None:
    from gan_studio.architectures import StyleGANv1Generator
    from gan_studio.pipelines.styles import directions, layer_indices

    torch.manual_seed(1)
    folder = StyleGANv1Generator(resolution=16, z_space_dim=8, w_space_dim=8, mapping_layers=2, mapping_fmaps=8,
                                 fmaps_base=64, fmaps_max=8).save_pretrained(tmp_path / "tiny-stylegan1")
    model = str(folder)
    loaded = studio.load(model)
    assert loaded.contract.ws_resolutions == (4, 4, 8, 8, 16, 16) and layer_indices(loaded, "coarse") == [0, 1, 2, 3]
    mix = studio.style_mix(model, row_seeds=[1], col_seeds=[2], layers="all")
    assert pixels(mix.cells[0][0]) == pixels(mix.columns[0])
    frames = studio.w_interpolate(model, seed_a=1, seed_b=2, frames=3)
    assert pixels(frames[-1]) == pixels(studio.generate(model, seed=2)[0])
    dirs, _ = directions(loaded, k=3, layers="middle")
    torch.testing.assert_close(dirs @ dirs.T, torch.eye(3), atol=1e-4, rtol=0)


def test_a_photo_projects_into_w_and_is_edited_like_a_generated_image(studio: Studio, model: str) -> None:
    import threading

    import torch.nn.functional as F

    from gan_studio.image_io import pil_to_tensor

    target = studio.generate(model, seed=11)[0].image  # a photo the generator can make exactly
    far = studio.generate(model, seed=12)[0].image
    projection = studio.project(model, target, steps=60, space="w+", seed=0)
    assert len(projection.losses) == 60 and not projection.stopped
    assert projection.losses[-1] < projection.losses[0] * 0.7  # the loss really went down
    got = pil_to_tensor(projection.result.image)
    assert F.mse_loss(got, pil_to_tensor(target)) < F.mse_loss(got, pil_to_tensor(far))  # closer to its target
    assert projection.result.params["mode"] == "projection" and projection.result.params["loss"] == "pixel"
    edited = studio.edit(model, seed=0, amounts=[3.0], ws=projection.ws)
    assert edited.params["projected"] is True and "seed" not in edited.params
    assert edited.image.tobytes() != projection.result.image.tobytes()
    stop = threading.Event()
    stop.set()
    assert studio.project(model, target, steps=50, stop=stop).stopped  # cancelled before the first step
    with pytest.raises(UserInputError, match="steps must be between 1 and 1000"):
        studio.project(model, target, steps=0)


def test_stylegan3_translates_and_rotates_its_input_from_the_command_line(tmp_path: Path) -> None:
    from PIL import Image

    from gan_studio.architectures import StyleGAN3Generator
    from gan_studio.cli import main
    from gan_studio.metadata import read_metadata

    torch.manual_seed(2)
    G = StyleGAN3Generator(z_dim=8, w_dim=8, img_resolution=16, img_channels=3, mapping_kwargs={"num_layers": 1},
                           channel_base=256, channel_max=16, num_layers=4, num_critical=1, margin_size=2)
    model = str(G.save_pretrained(tmp_path / "tiny-stylegan3"))
    plain, moved = tmp_path / "plain.png", tmp_path / "moved.png"
    common = ["--model", model, "--seed", "3", "--device", "cpu", "--precision", "fp32"]
    assert main(["generate", *common, "-o", str(plain)]) == 0
    assert main(["generate", *common, "--translate", "0.125", "0", "--rotate", "0", "-o", str(moved)]) == 0
    with Image.open(plain) as a, Image.open(moved) as b:
        a_px, b_px = torch.tensor(list(a.convert("L").getdata())).view(16, 16), torch.tensor(list(b.convert("L").getdata())).view(16, 16)
    assert not torch.equal(a_px, b_px)
    # a shift of 1/8 of the width moves the content two pixels right (away from the borders)
    assert (a_px[4:12, 4:12] - b_px[4:12, 6:14]).abs().float().mean() < (a_px[4:12, 4:12] - b_px[4:12, 4:12]).abs().float().mean()
    assert read_metadata(moved)["translate"] == [0.125, 0.0]
    with pytest.raises(SystemExit):
        main(["style-mix", "--model", model, "--rows", "1", "--cols", "2", "--translate", "0", "0", "-o", "x.png"])
    from gan_studio.studio import Studio

    with pytest.raises(UserInputError, match="has no input transform"):
        Studio(device="cpu").generate("digits-dcgan", seed=1, rotate=10)


def test_progan_has_directions_in_z_from_its_first_layer(studio: Studio, tmp_path: Path) -> None:
    """SeFa on a ProGAN (no W space): the paper factorises the first layer, which reads z."""
    from gan_studio.architectures import PGGANGenerator
    from gan_studio.pipelines.styles import directions

    torch.manual_seed(3)
    model = str(PGGANGenerator(resolution=16, z_space_dim=8, fmaps_base=64, fmaps_max=8).save_pretrained(tmp_path / "pg"))
    loaded = studio.load(model)
    dirs, values = directions(loaded, k=3)
    assert dirs.shape == (3, 8) and values == sorted(values, reverse=True)
    torch.testing.assert_close(dirs @ dirs.T, torch.eye(3), atol=1e-4, rtol=0)
    assert pixels(studio.edit(model, seed=4, amounts=[0.0])) == pixels(studio.generate(model, seed=4)[0])
    moved = studio.edit(model, seed=4, amounts=[2.0])
    assert moved.params["space"] == "z" and pixels(moved) != pixels(studio.generate(model, seed=4)[0])
    strip = studio.directions(model, seed=4, k=2, steps=3)
    assert strip.image.size == (3 * 16 + 4 * 2, 2 * 16 + 3 * 2)
    with pytest.raises(UserInputError, match="its directions are in z, for the whole image"):
        directions(loaded, k=2, layers="coarse")
    with pytest.raises(WrongTaskError, match="has no style space W"):
        studio.style_mix(model, row_seeds=[1], col_seeds=[2])


def test_the_perceptual_loss_comes_from_vgg16_on_the_hub_and_is_never_downloaded_unasked(
        studio: Studio, model: str, hub_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """VGG16's features are published on the test Hub under the real repo id, revision and file name
    (random weights in torchvision's layout, features only); the projection says which loss it used."""
    from safetensors.torch import save_file

    from gan_studio import perceptual
    from gan_studio.errors import HubError

    monkeypatch.setattr(perceptual, "_cache", {})
    target = studio.generate(model, seed=11)[0].image
    assert studio.project(model, target, steps=2, loss="auto").result.params["loss"] == "pixel"  # not cached
    with pytest.raises(HubError):
        studio.project(model, target, steps=2, loss="perceptual")  # the repo is not on this Hub yet
    torch.manual_seed(0)
    features = perceptual._features()
    path = tmp_path / "vgg.safetensors"
    save_file({f"features.{k}": v.contiguous() for k, v in features.state_dict().items()}, str(path))
    hub_server.publish(perceptual.VGG_REPO, {perceptual.VGG_FILE: path.read_bytes()}, revision=perceptual.VGG_REVISION)
    found = studio.project(model, target, steps=3, loss="perceptual")
    assert found.result.params["loss"] == "perceptual" and len(found.losses) == 3
    monkeypatch.setattr(perceptual, "_cache", {})  # now cached on disk: auto takes it without a download
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert studio.project(model, target, steps=2, loss="auto").result.params["loss"] == "perceptual"
    with pytest.raises(UserInputError, match="unknown projection loss 'lpips'; choose one of: auto, perceptual, pixel"):
        studio.project(model, target, steps=2, loss="lpips")


def test_project_and_edit_from_the_command_line(model: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from gan_studio.cli import main
    from gan_studio.metadata import read_metadata

    common = ["--model", model, "--device", "cpu", "--precision", "fp32"]
    photo = tmp_path / "photo.png"
    assert main(["generate", *common, "--seed", "11", "-o", str(photo)]) == 0
    assert main(["project", *common, str(photo), "--steps", "5", "--space", "w+", "--loss", "pixel",
                 "-o", str(tmp_path / "projected.png")]) == 0
    styles = tmp_path / "projected.styles.safetensors"
    assert styles.is_file() and read_metadata(tmp_path / "projected.png")["space"] == "w+"
    assert main(["directions", *common, "--styles", str(styles), "--amounts", "2", "-o", str(tmp_path / "e.png")]) == 0
    assert read_metadata(tmp_path / "e.png")["projected"] is True
    capsys.readouterr()
    assert main(["info", str(tmp_path / "projected.png")]) == 0
    assert "gan_studio project --model" in capsys.readouterr().out
    assert main(["directions", *common, "--styles", str(photo), "--amounts", "1", "-o", str(tmp_path / "x.png")]) == 2


def test_a_conditional_stylegan_mixes_within_the_chosen_class(studio: Studio, tmp_path: Path) -> None:
    torch.manual_seed(5)
    G = StyleGAN2Generator(z_dim=8, c_dim=3, w_dim=8, img_resolution=16, mapping_kwargs={"num_layers": 1},
                           synthesis_kwargs={"channel_base": 64, "channel_max": 8})
    model = str(G.save_pretrained(tmp_path / "cond", meta={"labels": ["cat", "dog", "wild"]}))
    as_dog = studio.style_mix(model, row_seeds=[1], col_seeds=[2], layers="all", label="dog")
    as_cat = studio.style_mix(model, row_seeds=[1], col_seeds=[2], layers="all", label="cat")
    assert pixels(as_dog.columns[0]) == pixels(studio.generate(model, seed=2, label="dog")[0])
    assert pixels(as_dog.cells[0][0]) != pixels(as_cat.cells[0][0])
    with pytest.raises(UserInputError, match="unknown class 'bird'"):
        studio.style_mix(model, row_seeds=[1], col_seeds=[2], label="bird")
