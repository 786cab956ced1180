"""The studio launched for real on 127.0.0.1 and driven through ``gradio_client``.

One app per module over tiny random-weight models (``ui_fixtures``); every endpoint's files are
downloaded by the client, so the checks see what a user's download would contain.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from launched_app import APP_ENV, App, launch_app
from ui_fixtures import UI_MODELS, ui_registry

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PHOTO = EXAMPLES / "chelsea.jpg"
GRAY = EXAMPLES / "camera.jpg"
DEFAULT_DCGAN = REPO / "checkpoints" / "digits-dcgan" / "model.safetensors"

# gradio's queue uses pandas options that pandas 3 deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")


@pytest.fixture(scope="module")
def env(app_env: pytest.MonkeyPatch) -> None:
    """The launched studio's environment (conftest's ``app_env``)."""


@pytest.fixture(scope="module")
def app(env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    launched = launch_app(tmp_path_factory.mktemp("studio"), public=False)
    yield launched
    launched.close()


def _sha(path: str | Path) -> str:
    """The file's hash without its C2PA manifest chunk (signing time and signature differ per run)."""
    from gan_studio.credentials import strip_manifest

    return hashlib.sha256(strip_manifest(Path(path).read_bytes())).hexdigest()


def _open(path: str | Path) -> Any:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        copy = im.copy()
        copy.format = im.format
        return copy


def _meta(path: str | Path) -> dict[str, Any]:
    from gan_studio.metadata import read_metadata

    return read_metadata(path)


def _error(call: Any) -> str:
    """The message of the gr.Error a call raises (through gradio_client's AppError)."""
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as info:
        call()
    message = str(info.value)
    assert "Traceback" not in message and 'File "' not in message, message
    return message


def _file(handle: str | Path) -> Any:
    from gradio_client import handle_file

    return handle_file(str(handle))


# ---- API surface --------------------------------------------------------------------------------
def test_main_endpoints_are_named(app: App) -> None:
    api = app.client.view_api(print_info=False, return_format="dict")
    named = set(api["named_endpoints"])
    for name in ("/generate", "/interpolate", "/random_seed", "/translate", "/colorize", "/inspect", "/model_card",
                 "/add_model", "/reproduce"):
        assert name in named, f"{name} missing from {sorted(named)}"
    params = [p["parameter_name"] for p in api["named_endpoints"]["/generate"]["parameters"]]
    assert params == ["model", "seed", "n", "label", "truncation"]


def test_every_event_has_an_api_name(app: App) -> None:
    missing = [i for i, dep in enumerate(app.demo.config["dependencies"]) if not dep.get("api_name")]
    assert missing == [], f"events without api_name: {missing}"


def test_direct_http_calls_cannot_skip_the_queue(app: App) -> None:
    import httpx

    response = httpx.post(f"{app.demo.local_url}gradio_api/run/generate",
                          json={"data": ["ui-dcgan", 1, 1, None, 0]}, timeout=10)
    assert response.status_code >= 400, response.text[:200]


# ---- Generate -----------------------------------------------------------------------------------
def test_generate_returns_images_with_provenance(app: App) -> None:
    gallery, params = app.client.predict(model="ui-cgan", seed=5, n=3, label="star", truncation=0,
                                         api_name="/generate")
    assert len(gallery) == 3
    assert [item["caption"] for item in gallery] == [f"seed {s} · class star" for s in (5, 6, 7)]
    for seed, item in zip((5, 6, 7), gallery):
        im = _open(item["image"])
        assert im.format == "PNG" and im.size == (16, 16)
        meta = _meta(item["image"])
        assert meta["model"] == "ui-cgan" and meta["seed"] == seed and meta["label"] == "star"
        assert meta["task"] == "conditional" and meta["ai_generated"] is True
        assert meta["revision"].startswith("local-")
    assert params["seed"] == 5 and params["model"] == "ui-cgan"


def test_seeds_reproduce_byte_for_byte(app: App) -> None:
    first, _ = app.client.predict("ui-dcgan", 11, 2, None, 0, api_name="/generate")
    again, _ = app.client.predict("ui-dcgan", 11, 2, None, 0, api_name="/generate")
    alone, _ = app.client.predict("ui-dcgan", 12, 1, None, 0, api_name="/generate")
    other, _ = app.client.predict("ui-dcgan", 99, 1, None, 0, api_name="/generate")
    assert [_sha(i["image"]) for i in first] == [_sha(i["image"]) for i in again]
    assert _sha(alone[0]["image"]) == _sha(first[1]["image"])  # image i uses seed + i, whatever the batch
    assert _sha(other[0]["image"]) != _sha(first[0]["image"])
    assert _open(first[0]["image"]).size == (16, 16) and _open(first[0]["image"]).mode == "RGB"


def test_truncation_and_random_classes_are_recorded(app: App) -> None:
    gallery, _ = app.client.predict("ui-cgan", 3, 4, "(random class per seed)", 0.5, api_name="/generate")
    metas = [_meta(i["image"]) for i in gallery]
    assert all(m["truncation"] == 0.5 for m in metas)
    assert all(m["label"] in UI_MODELS["ui-cgan"][2]["labels"] for m in metas)
    # a picked class reproduces the image drawn with a random class of the same seed
    again, _ = app.client.predict("ui-cgan", 4, 1, metas[1]["label"], 0.5, api_name="/generate")
    assert _sha(again[0]["image"]) == _sha(gallery[1]["image"])


def test_interpolate_returns_frames_and_a_gif(app: App) -> None:
    import numpy as np

    frames, params, gif = app.client.predict("ui-dcgan", 1, 2, 5, None, 0, api_name="/interpolate")
    assert len(frames) == 5
    metas = [_meta(f["image"]) for f in frames]
    assert [m["t"] for m in metas] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert all(m["seed_a"] == 1 and m["seed_b"] == 2 and m["mode"] == "interpolate" for m in metas)
    assert [f["caption"] for f in frames][:2] == ["t = 0.000", "t = 0.250"]
    from PIL import Image

    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 8  # ping-pong: 5 frames + 3 back
        assert im.size == (128, 128)  # 16 px frames upscaled for viewing
    # the ends are the seeds' own images
    start, _ = app.client.predict("ui-dcgan", 1, 1, None, 0, api_name="/generate")
    a = np.asarray(_open(frames[0]["image"]), dtype=int)
    b = np.asarray(_open(start[0]["image"]), dtype=int)
    assert np.abs(a - b).max() <= 1


def test_random_seed_is_a_valid_seed(app: App) -> None:
    seeds = {int(app.client.predict(api_name="/random_seed")) for _ in range(3)}
    assert all(0 <= s < 2**32 for s in seeds) and len(seeds) >= 2


# ---- Translate ----------------------------------------------------------------------------------
def test_translate_two_way_keeps_size_and_records_direction(app: App) -> None:
    size = _open(PHOTO).size
    outputs = {}
    for direction in ("AtoB", "BtoA"):
        (before, after), download = app.client.predict(
            image=_file(PHOTO), model="ui-cyclegan", direction=direction, attributes=[],
            seed=0, working_size=0, api_name="/translate")
        assert _open(after).size == size and _open(before).size == size
        assert _sha(after) == _sha(download)
        meta = _meta(download)
        assert meta["model"] == "ui-cyclegan" and meta["variant"] == direction
        assert meta["direction"] == {"AtoB": "photo → sketch", "BtoA": "sketch → photo"}[direction]
        assert meta["input_size"] == list(size) and meta["working_size"] == 32
        outputs[direction] = _sha(download)
    assert outputs["AtoB"] != outputs["BtoA"]
    (_, _), again = app.client.predict(_file(PHOTO), "ui-cyclegan", "AtoB", [], "(none)", "(none)", "(none)", 0, 0,
                                       False, api_name="/translate")
    assert _sha(again) == outputs["AtoB"]


def test_translate_full_resolution(app: App) -> None:
    (before, after), download = app.client.predict(image=_file(PHOTO), model="ui-cyclegan", direction="AtoB",
                                                   full_resolution=True, api_name="/translate")
    meta = _meta(download)
    assert meta["full_resolution"] is True and "working_size" not in meta
    assert _open(after).size == _open(PHOTO).size == _open(before).size


def test_a_phone_photo_translates_at_full_resolution_through_the_app(app: App, tmp_path: Path) -> None:
    """A 4000×3000 (12 MP) photo uploaded to the studio and translated in tiles, memory bounded."""
    import numpy as np
    from PIL import Image

    ramp = np.linspace(0, 255, 4000, dtype=np.uint8)
    pixels = np.stack([np.tile(ramp, (3000, 1)), np.tile(ramp[:3000, None], (1, 4000)),
                       np.full((3000, 4000), 90, np.uint8)], axis=-1)
    photo = tmp_path / "phone.jpg"
    Image.fromarray(pixels).save(photo, quality=90)
    del pixels

    def status_mb(key: str) -> int:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1]) // 1024 for line in f if line.startswith(key))

    try:  # reset the peak to the current RSS (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        before = status_mb("VmRSS:")
    except OSError:
        before = status_mb("VmHWM:")
    (_, after), download = app.client.predict(image=_file(photo), model="ui-cyclegan", direction="AtoB",
                                              full_resolution=True, api_name="/translate")
    growth = status_mb("VmHWM:") - before
    print(f"\n[12 MP full resolution through the app] peak memory +{growth} MB")
    meta = _meta(download)
    assert _open(download).size == (4000, 3000)
    assert meta["full_resolution"] is True and meta["input_size"] == [4000, 3000] and meta["tile_size"] == 512
    assert growth < 1500, f"peak memory grew by {growth} MB"


def test_translate_attributes_with_exclusive_groups(app: App) -> None:
    (before, after), download = app.client.predict(
        image=_file(PHOTO), model="ui-stargan", direction=None, attributes=["big"], group_1="red",
        api_name="/translate")
    meta = _meta(download)
    assert meta["attributes"] == ["red", "big"] and meta["task"] == "multidomain"
    im = _open(after)
    assert min(im.size) == 16 and _open(before).size == im.size
    message = _error(lambda: app.client.predict(
        image=_file(PHOTO), model="ui-stargan", attributes=["red", "blue"], api_name="/translate"))
    assert "exclude each other" in message and "red" in message and "blue" in message


# ---- Colorize -----------------------------------------------------------------------------------
def test_colorize_full_resolution(app: App) -> None:
    (before, after), download = app.client.predict(image=_file(GRAY), model="ui-colorizer", working_size=0,
                                                   api_name="/colorize")
    im = _open(after)
    assert im.size == _open(GRAY).size and im.mode == "RGB"
    assert _open(before).mode == "L"
    meta = _meta(download)
    assert meta["task"] == "colorization" and meta["model"] == "ui-colorizer" and meta["working_size"] == 32


# ---- Inspect ------------------------------------------------------------------------------------
def test_inspect_reads_parameters_and_they_reproduce_the_image(app: App) -> None:
    gallery, _ = app.client.predict("ui-cgan", 21, 2, None, 0.7, api_name="/generate")
    png = gallery[1]["image"]
    params, about = app.client.predict(_file(png), api_name="/inspect")
    assert params == _meta(png)
    assert "ui-cgan" in about and "seed 22" in about
    again, _ = app.client.predict(params["model"], params["seed"], 1, params["label"], params["truncation"],
                                  api_name="/generate")
    assert _sha(again[0]["image"]) == _sha(png)


def test_reproduce_sends_parameters_to_the_generate_tab(app: App) -> None:
    gallery, _ = app.client.predict("ui-cgan", 8, 1, "square", 0, api_name="/generate")
    params, _ = app.client.predict(_file(gallery[0]["image"]), api_name="/inspect")
    updates = app.client.predict(params, api_name="/reproduce")
    values = [u.get("value") for u in updates if isinstance(u, dict)]
    # model, mode, seed, class and a single image: the Generate tab is set to reproduce the PNG
    for expected in ("ui-cgan", "Images", 8, "square", 1):
        assert expected in values, (expected, values)
    label = next(u for u in updates if isinstance(u, dict) and u.get("value") == "square")
    assert label["visible"] is True and ["star", "star"] in label["choices"]


def test_reproduce_refuses_a_model_this_studio_does_not_have(app: App) -> None:
    params = {"model": "someone/else", "task": "unconditional", "seed": 3}
    message = _error(lambda: app.client.predict(params, api_name="/reproduce"))
    assert "someone/else" in message and "does not have" in message and "ui-dcgan" in message
    assert "someone/else" not in app.studio.registry  # nothing was resolved from the file


def test_markup_in_user_input_is_shown_as_text(app: App) -> None:
    message = _error(lambda: app.client.predict("<b>bold</b>", 1, 1, None, 0, api_name="/generate"))
    assert "<b>" not in message and "&lt;b&gt;bold&lt;/b&gt;" in message


def test_building_the_demo_loads_no_model(env: None, app: App) -> None:
    from gan_studio.studio import Studio
    from gan_studio.ui import build_demo

    studio = Studio(device="cpu", registry=ui_registry(app.root / "models" / "models.toml"))
    demo = build_demo(studio, output_dir=app.root / "unused")
    assert studio.cache.keys() == []
    assert not (app.root / "unused").exists()  # the output folder is made on first use
    assert {d["api_name"] for d in demo.config["dependencies"]} >= {"generate", "translate", "colorize"}


# ---- Models -------------------------------------------------------------------------------------
def test_model_card_renders_the_readme(app: App) -> None:
    card = app.client.predict("ui-cyclegan", api_name="/model_card")
    assert "tiny random two-way CycleGAN" in card and "Registry entry" in card and "AtoB" in card
    message = _error(lambda: app.client.predict("no-such-model", api_name="/model_card"))
    assert "no-such-model" in message and "ui-dcgan" in message


def test_add_a_local_folder_for_this_session(app: App) -> None:
    import torch

    from gan_studio.architectures import build_architecture
    from gan_studio.weights import save_model_folder

    folder = app.root / "added-dcgan"
    torch.manual_seed(5)
    kwargs = {"nz": 8, "ngf": 4, "nc": 3, "image_size": 8}
    save_model_folder(build_architecture("dcgan", kwargs), folder, architecture="dcgan", kwargs=kwargs,
                      meta={"task": "unconditional", "image_size": 8, "license": "cc0-1.0"})
    client = app.new_client()
    table, picker, status, *_ = client.predict(str(folder), api_name="/add_model")
    ids = [row[0] for row in table["data"]]
    assert str(folder) in ids and "unconditional" in status
    gallery, params = client.predict(str(folder), 0, 2, None, 0, api_name="/generate")
    assert len(gallery) == 2 and _open(gallery[0]["image"]).size == (8, 8)
    message = _error(lambda: client.predict(str(app.root / "nowhere"), api_name="/add_model"))
    assert "nowhere" in message


# ---- errors the user can cause ------------------------------------------------------------------
def test_no_image_is_a_readable_error(app: App) -> None:
    message = _error(lambda: app.client.predict(None, "ui-colorizer", 0, api_name="/colorize"))
    assert "no image uploaded" in message
    message = _error(lambda: app.client.predict(image=None, model="ui-cyclegan", api_name="/translate"))
    assert "no image uploaded" in message


def test_a_text_file_as_image_is_a_readable_error(app: App) -> None:
    text = app.root / "notes.png"
    text.write_text("this is not an image\n" * 20, encoding="utf-8")
    for call in (
        lambda: app.client.predict(_file(text), "ui-colorizer", 0, api_name="/colorize"),
        lambda: app.client.predict(image=_file(text), model="ui-cyclegan", api_name="/translate"),
    ):
        message = _error(call)
        assert "notes.png" in message and "PNG, JPEG" in message
    message = _error(lambda: app.client.predict(_file(text), api_name="/inspect"))
    assert "no gan_studio provenance" in message


def test_unknown_model_is_a_readable_error(app: App) -> None:
    message = _error(lambda: app.client.predict("no-such-model", 1, 1, None, 0, api_name="/generate"))
    assert "no-such-model" in message and "ui-dcgan" in message


def test_wrong_model_for_the_tab_is_a_readable_error(app: App) -> None:
    message = _error(lambda: app.client.predict("ui-colorizer", 1, 1, None, 0, api_name="/generate"))
    assert "colorization model" in message and "Generate tab" in message
    message = _error(lambda: app.client.predict(image=_file(PHOTO), model="ui-dcgan", api_name="/translate"))
    assert "unconditional model" in message and "ui-cyclegan" in message
    message = _error(lambda: app.client.predict(_file(GRAY), "ui-cyclegan", 0, api_name="/colorize"))
    assert "translation model" in message and "ui-colorizer" in message


def test_bad_numbers_are_readable_errors(app: App) -> None:
    assert "maximum value 64" in _error(lambda: app.client.predict("ui-dcgan", 1, 500, None, 0, api_name="/generate"))
    assert "minimum value 0" in _error(lambda: app.client.predict("ui-dcgan", -3, 1, None, 0, api_name="/generate"))
    assert "unknown class" in _error(lambda: app.client.predict("ui-cgan", 1, 1, "zebra", 0, api_name="/generate"))
    message = _error(lambda: app.client.predict(image=_file(PHOTO), model="ui-cyclegan", direction="CtoD",
                                                api_name="/translate"))
    assert "CtoD" in message and "AtoB" in message


# ---- public mode --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def public_app(env: None, tmp_path_factory: pytest.TempPathFactory, app: App) -> Iterator[App]:
    launched = launch_app(tmp_path_factory.mktemp("public"), public=True,
                          registry=ui_registry(app.root / "models" / "models.toml"))
    yield launched
    launched.close()


def test_public_mode_accepts_registered_models_only(public_app: App, app: App) -> None:
    named = set(public_app.client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert "/add_model" not in named and "/generate" in named
    folder = str(app.root / "models" / "ui-dcgan")  # a real model folder, but not a registered id
    message = _error(lambda: public_app.client.predict(folder, 1, 1, None, 0, api_name="/generate"))
    assert "unknown model" in message
    assert "maximum value 16" in _error(
        lambda: public_app.client.predict("ui-dcgan", 1, 17, None, 0, api_name="/generate"))
    gallery, _ = public_app.client.predict("ui-dcgan", 1, 2, None, 0, api_name="/generate")
    assert len(gallery) == 2


# ---- the command line ---------------------------------------------------------------------------
def test_app_help_is_fast_and_imports_nothing_heavy() -> None:
    code = ("import sys; sys.argv = ['app.py', '--help']\n"
            "import app\n"
            "try:\n    app.parse_args()\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', 'torch' in sys.modules, 'gradio' in sys.modules)")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    assert out.returncode == 0, out.stderr
    assert "--share" in out.stdout and "--models" in out.stdout and "--device" in out.stdout
    assert "HEAVY False False" in out.stdout
    assert elapsed < 5, elapsed


def test_app_reports_a_bad_models_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[model]]\nid = 3\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "app.py", "--models", str(bad), "--device", "cpu"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, env={**os.environ, **APP_ENV})
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr


# ---- the embedded default -----------------------------------------------------------------------
@pytest.mark.skipif(not DEFAULT_DCGAN.is_file(),
                    reason=f"the embedded default {DEFAULT_DCGAN.relative_to(REPO)} is not trained yet")
def test_default_catalogue_generates_with_digits_dcgan(env: None, tmp_path: Path) -> None:
    from gan_studio.registry import load_registry

    launched = launch_app(tmp_path, public=True, registry=load_registry())
    try:
        spec = launched.studio.registry.get("digits-dcgan")
        gallery, params = launched.client.predict("digits-dcgan", 7, 4, None, 0, api_name="/generate")
        assert len(gallery) == 4
        side = spec.image_size or json.loads((DEFAULT_DCGAN.parent / "config.json").read_text())["image_size"]
        assert _open(gallery[0]["image"]).size == (side, side)
        assert params["model"] == "digits-dcgan" and params["revision"].startswith("local-")
    finally:
        launched.close()
