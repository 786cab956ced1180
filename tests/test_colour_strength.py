"""The colorization pipeline's conventions (what a colorizer reads and returns, declared by its
contract) and the colour-strength control every colorizer gets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gan_studio.contract import Contract, Task
from gan_studio.errors import UserInputError
from gan_studio.image_io import normalize_ab, rgb_to_lab, split_luminance
from gan_studio.pipelines.colorization import IMAGENET_MEAN, IMAGENET_STD, model_input, predicted_ab
from gan_studio.studio import Studio


@pytest.fixture(scope="module")
def studio(models_toml):
    return Studio(models_file=str(models_toml), device="cpu")


def grey_photo(w: int = 48, h: int = 40) -> Image.Image:
    gen = torch.Generator().manual_seed(3)
    return Image.fromarray((torch.rand(h, w, 3, generator=gen) * 255).to(torch.uint8).numpy(), "RGB").convert("L")


def lab_of(img: Image.Image) -> torch.Tensor:
    t = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    return rgb_to_lab(t)[0]


def chroma(img: Image.Image) -> float:
    return float(lab_of(img)[1:].norm(dim=0).mean())


def test_strength_zero_is_greyscale_and_more_is_more_saturated(studio):
    image = grey_photo()
    zero = studio.colorize("tiny-colorizer", image, working_size=32, strength=0.0).image
    one = studio.colorize("tiny-colorizer", image, working_size=32).image
    two = studio.colorize("tiny-colorizer", image, working_size=32, strength=2.0)
    assert chroma(zero) < 0.5  # rounding to 8 bits leaves a trace, no colour
    assert (lab_of(zero)[0] - lab_of(image)[0]).abs().max() < 1.0  # the luminance is the input's
    assert chroma(one) > 1.0
    assert chroma(two.image) > 1.5 * chroma(one)
    assert two.params["strength"] == 2.0
    assert "strength" not in studio.colorize("tiny-colorizer", image, working_size=32).params  # default not recorded


@pytest.mark.parametrize("bad", [-0.1, 3.5])
def test_strength_out_of_range_is_a_user_error(studio, bad):
    with pytest.raises(UserInputError, match="colour strength must be between 0 and 3"):
        studio.colorize("tiny-colorizer", grey_photo(), working_size=32, strength=bad)


def test_grey_rgb_inputs_draw_the_luminance():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8), "RGB")
    small_l = split_luminance(img)
    grey = model_input(small_l, Contract(task=Task.COLORIZATION, in_channels=3, colour_input="grey_rgb"))
    assert grey.shape == (1, 3, 16, 24)
    torch.testing.assert_close(grey[:, 0], grey[:, 1], atol=1e-4, rtol=0)  # grey, up to the white point's rounding
    torch.testing.assert_close(grey[:, 1], grey[:, 2], atol=1e-4, rtol=0)
    lab = rgb_to_lab(grey)
    torch.testing.assert_close(lab[:, 0], (small_l[:, 0] + 1) * 50, atol=0.05, rtol=0)  # same L*
    assert lab[:, 1:].abs().max() < 0.05  # no chroma
    normed = model_input(small_l, Contract(task=Task.COLORIZATION, in_channels=3, colour_input="grey_rgb_imagenet"))
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(normed * std + mean, grey)
    l_in = model_input(small_l, Contract(task=Task.COLORIZATION, in_channels=1))
    assert l_in is small_l


def test_outputs_become_the_studios_chroma():
    rgb = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    true_ab = rgb_to_lab(rgb)[:, 1:]
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    deoldify_like = Contract(task=Task.COLORIZATION, in_channels=3, out_channels=3, colour_output="rgb_imagenet")
    torch.testing.assert_close(predicted_ab((rgb - mean) / std, deoldify_like), normalize_ab(true_ab),
                               atol=1e-4, rtol=0)
    ddcolor_like = Contract(task=Task.COLORIZATION, in_channels=3, ab_scale=1.0)  # raw a*, b* units
    torch.testing.assert_close(predicted_ab(true_ab, ddcolor_like), normalize_ab(true_ab))


def test_contract_rejects_unknown_colour_conventions():
    with pytest.raises(ValueError, match="colour_input must be one of"):
        Contract(task=Task.COLORIZATION, colour_input="yuv")
    with pytest.raises(ValueError, match="colour_output must be one of"):
        Contract(task=Task.COLORIZATION, colour_output="hsv")


def test_cli_strength_and_render_factor(tmp_path, models_toml):
    from gan_studio.cli import main
    from gan_studio.metadata import read_metadata

    src = tmp_path / "grey.png"
    grey_photo().save(src)
    out = tmp_path / "out.png"
    rc = main(["colorize", "--models", str(models_toml), "--model", "tiny-colorizer", str(src), "-o", str(out),
               "--render-factor", "2", "--strength", "1.5"])
    assert rc == 0
    params = read_metadata(Image.open(out))
    assert params["working_size"] == 32 and params["strength"] == 1.5


def test_colorize_default_is_ddcolor_when_the_hub_answers_else_embedded(hub_server, monkeypatch):
    """The Colorize tab's default: DDColor-T on a CPU when the Hub answers (online_default in the
    catalogue), the embedded colorizer when it does not."""
    from gan_studio.studio import Studio

    offline = Studio(device="cpu")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert offline.default_model("colorize") == "photo-colorizer"
    monkeypatch.delenv("HF_HUB_OFFLINE")
    hub_server.publish("piddnad/ddcolor_paper_tiny", {"config.json": b"{}"})
    online = Studio(device="cpu")
    assert online.default_model("colorize") == "piddnad/ddcolor_paper_tiny"
    assert online.default_model("colorize", ["photo-colorizer"]) == "photo-colorizer"  # not offered: not chosen


def test_online_default_names_known_device_types(tmp_path):
    from gan_studio.errors import CatalogueError
    from gan_studio.registry import load_registry

    toml = tmp_path / "m.toml"
    toml.write_text('[[model]]\nid = "x"\ntask = "colorization"\narchitecture = "ddcolor"\nhub = "a/b"\n'
                    'online_default = ["tpu"]\n')
    with pytest.raises(CatalogueError, match=r"online_default names unknown device types \['tpu'\]; choose from: cpu, cuda, mps"):
        load_registry(toml)
