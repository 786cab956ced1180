"""The Style tab through the launched app and gradio_client: every StyleGAN control as an endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from launched_app import App, launch_app

from gan_studio.metadata import read_metadata


@pytest.fixture(scope="module")
def app(app_env: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    launched = launch_app(tmp_path_factory.mktemp("style-app"), public=False)
    yield launched
    launched.close()


def test_the_style_tab_offers_only_stylegans(app: App) -> None:
    config = app.demo.config
    dropdown = next(c for c in config["components"] if c.get("props", {}).get("label") == "StyleGAN model")
    assert [choice[1] if isinstance(choice, (list, tuple)) else choice for choice in dropdown["props"]["choices"]] \
        == ["ui-stylegan2"]
    info, cutoff, noise, label, mode = app.client.predict("ui-stylegan2", api_name="/style_controls")
    assert [c[0] if isinstance(c, (list, tuple)) else c for c in mode["choices"]] == [
        "Generate", "Mix styles", "Directions", "Interpolate in W", "Your photo"]  # a W space: every mode
    assert label["visible"] is False  # unconditional: no class to choose
    assert "6 style layers feeding 4–16 px" in info and cutoff["maximum"] == 6
    assert noise["choices"] in (["const", "random", "none"], [["const", "const"], ["random", "random"], ["none", "none"]])
    with pytest.raises(Exception, match="has no style space"):
        app.client.predict("ui-dcgan", api_name="/style_controls")


def test_mixing_directions_editing_generating_and_w_interpolation(app: App) -> None:
    grid, cells, params = app.client.predict("ui-stylegan2", "1 2", "3 4 5", "coarse", 0.7, 0, "const",
                                             api_name="/style_mix")
    assert len(cells) == 6 and params["mode"] == "style-mix" and params["layers"] == "coarse"
    assert read_metadata(grid)["col_seeds"] == [3, 4, 5]
    strip, _, params = app.client.predict("ui-stylegan2", 7, "all", 1.0, "const", api_name="/style_directions")
    assert params["mode"] == "directions" and len(params["eigenvalues"]) == 5 and Path(strip).is_file()
    edited, _, params = app.client.predict("ui-stylegan2", 7, "all", 1.0, "none", 3, 0, 0, -2, 0, False,
                                           api_name="/style_edit")
    assert params["directions"] == [3.0, 0.0, 0.0, -2.0, 0.0] and params["noise_mode"] == "none"
    first, images, params = app.client.predict("ui-stylegan2", 5, 2, 0.5, 3, "random", 0, 0, 0,
                                               api_name="/style_generate")
    assert len(images) == 2 and params["truncation"] == 0.5 and params["truncation_cutoff"] == 3
    gif, frames, params = app.client.predict("ui-stylegan2", 1, 2, 4, 1.0, "const", api_name="/style_interpolate")
    assert len(frames) == 4 and params["space"] == "w" and gif.endswith(".gif")
    with pytest.raises(Exception, match="give 1 to 8 row seeds"):
        app.client.predict("ui-stylegan2", "", "1", "coarse", 0.7, 0, "const", api_name="/style_mix")


def test_a_photo_is_projected_and_then_edited(app: App) -> None:
    from gradio_client import handle_file

    photo = app.client.predict("ui-stylegan2", 9, 1, 1.0, 0, "const", 0, 0, 0, api_name="/style_generate")[0]
    result, images, params = app.client.predict("ui-stylegan2", handle_file(photo), 20, "w+",
                                                api_name="/style_project")
    assert params["mode"] == "projection" and params["steps"] == 20 and params["stopped"] is False
    assert len(images) == 2 and read_metadata(result)["space"] == "w+"
    # the session keeps the projected styles: the sliders edit the photo
    edited, _, params = app.client.predict("ui-stylegan2", 7, "all", 1.0, "const", 2, 0, 0, 0, 0, True,
                                           api_name="/style_edit")
    assert params["projected"] is True and "seed" not in params
    with pytest.raises(Exception, match="no photo projected"):  # another session has none
        app.new_client().predict("ui-stylegan2", 7, "all", 1.0, "const", 2, 0, 0, 0, 0, True,
                                 api_name="/style_edit")
    with pytest.raises(Exception, match="could not be read|not a supported image|cannot"):
        bad = app.root / "bad.png"
        bad.write_bytes(b"not an image at all")
        app.client.predict("ui-stylegan2", handle_file(str(bad)), 20, "w", api_name="/style_project")


def test_a_model_without_w_is_offered_only_z_modes() -> None:
    from gan_studio.ui.style import MODES, modes_for

    assert modes_for(False) == ["Generate", "Directions"]  # ProGAN: directions in z, nothing that needs W
    assert modes_for(True) == list(MODES)
