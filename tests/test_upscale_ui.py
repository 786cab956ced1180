"""The Upscale tab, launched for real on 127.0.0.1 and driven through ``gradio_client``: a tiny
random-weight SRVGGNetCompact (×4) registered alone; an RGBA upload comes back enlarged, with its
alpha, provenance and a before/after pair; the public cap on the result's size is a readable error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from launched_app import App, launch_app
from PIL import Image

from gan_studio.architectures import SRVGGNetCompact
from gan_studio.metadata import read_metadata
from gan_studio.registry import Registry, spec_from_folder

pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")


@pytest.fixture(scope="module")
def apps(app_env: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, App]]:
    root = tmp_path_factory.mktemp("upscale-ui")
    torch.manual_seed(0)
    folder = SRVGGNetCompact(num_feat=4, num_conv=1).save_pretrained(root / "tiny-upscaler", meta={"task": "upscale"})
    spec = spec_from_folder(folder, model_id="ui-upscaler")
    launched = {"private": launch_app(root / "private", public=False, registry=Registry([spec])),
                "public": launch_app(root / "public", public=True, registry=Registry([spec]))}
    yield launched
    for app in launched.values():
        app.close()


def test_upscale_tab_endpoint(apps: dict[str, App], tmp_path: Path) -> None:
    from gradio_client import handle_file

    app = apps["private"]
    named = app.client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/upscale" in named
    missing = [i for i, dep in enumerate(app.demo.config["dependencies"]) if not dep.get("api_name")]
    assert missing == []
    rgba = np.zeros((24, 30, 4), dtype=np.uint8)
    rgba[..., 0] = np.arange(30) * 8
    rgba[..., 3] = 255
    rgba[:, :10, 3] = 0
    path = tmp_path / "in.png"
    Image.fromarray(rgba, "RGBA").save(path)
    (before, after), download = app.client.predict(image=handle_file(str(path)), model="ui-upscaler", scale=3.5,
                                                   tile=64, api_name="/upscale")
    with Image.open(after) as out:
        assert out.size == (105, 84) and out.mode == "RGBA"
        alpha = np.asarray(out)[..., 3]
    # the alpha went through the (random-weight) model: transparent on the left, opaque on the right
    assert alpha[:, :30].mean() < 30 and alpha[:, 40:].mean() > 225
    with Image.open(before) as b:
        assert b.size == (105, 84)
    meta = read_metadata(download)
    assert meta["task"] == "upscale" and meta["model"] == "ui-upscaler" and meta["scale"] == 3.5
    assert meta["model_scale"] == 4 and meta["tile_size"] == 64
    params, about = app.client.predict(handle_file(download), api_name="/inspect")  # the Inspect tab reads it
    assert params == meta and "ui-upscaler" in about and "Upscale tab" in about


def test_public_studio_caps_the_result(apps: dict[str, App], tmp_path: Path) -> None:
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    path = tmp_path / "big.png"
    Image.new("RGB", (1200, 1000), (10, 20, 30)).save(path)
    with pytest.raises(AppError, match="up to 16 MP"):
        apps["public"].client.predict(image=handle_file(str(path)), model="ui-upscaler", scale=4, tile=256,
                                      api_name="/upscale")
