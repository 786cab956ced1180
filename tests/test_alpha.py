"""Transparency in every image task: an upload with alpha (RGBA, LA, P with a transparent colour)
gives an RGBA result whose alpha is the input's (cut and resized with the image), the model sees the
image composited onto white, fully transparent pixels come back white, and an opaque input gives
exactly the RGB output it always gave.

Pipelines (one-pass and tiled translation, multidomain, colorization) on the tiny seeded models,
the decoding helpers, the CLI (``python -m gan_studio``) and the launched app (``gradio_client``).
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from gan_studio.image_io import center_crop, ensure_rgb, join_alpha, load_image, resize, split_alpha, transparency
from gan_studio.metadata import read_metadata

ROOT = Path(__file__).resolve().parents[1]
SIZE = (60, 44)
WHITE = (255, 255, 255)

# gradio's queue uses pandas options that pandas 3 deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:.*no_silent_downcasting", "ignore:The copy keyword is deprecated")


# ---- inputs -------------------------------------------------------------------------------------
def _photo(size: tuple[int, int] = SIZE) -> Image.Image:
    return Image.effect_mandelbrot(size, (-2, -1.2, 1, 1.2), 60).convert("RGB").point(lambda v: (v * 3) % 256)


def _alpha(size: tuple[int, int] = SIZE) -> Image.Image:
    """A cut-out: an opaque ellipse with a hole in the middle, a half-transparent band, a soft ramp,
    the rest fully transparent."""
    w, h = size
    alpha = Image.new("L", size, 0)
    draw = ImageDraw.Draw(alpha)
    draw.ellipse((w // 6, h // 8, w * 5 // 6, h * 7 // 8), fill=255)
    draw.rectangle((w // 2 - 6, h // 2 - 6, w // 2 + 6, h // 2 + 6), fill=0)
    draw.rectangle((0, h // 2, w // 4, h // 2 + 3), fill=128)
    ramp = np.asarray(alpha).copy()
    ramp[:2, :] = np.linspace(0, 255, w).astype(np.uint8)
    return Image.fromarray(ramp, "L")


def _rgba(hidden: tuple[int, int, int] = (255, 0, 255), size: tuple[int, int] = SIZE) -> Image.Image:
    """The photo with :func:`_alpha`; under fully transparent pixels the colour is ``hidden``."""
    alpha = _alpha(size)
    rgb = _photo(size)
    rgb.paste(hidden, (0, 0, *size), alpha.point(lambda v: 255 if v == 0 else 0))
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    return rgba


def _png(img: Image.Image, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img)


def _check_alpha_result(out: Image.Image, expected_alpha: Image.Image, reference_rgb: Image.Image) -> None:
    """``out`` is RGBA with ``expected_alpha``; fully transparent pixels are white; where the
    alpha is above 0 the colour is ``reference_rgb`` (the output for the composited input)."""
    assert out.mode == "RGBA"
    assert out.size == expected_alpha.size == reference_rgb.size
    alpha = _arr(expected_alpha)
    assert np.array_equal(_arr(out.getchannel("A")), alpha)
    colour = _arr(out)[..., :3]
    assert (alpha == 0).any() and (alpha > 0).any()
    assert (colour[alpha == 0] == 255).all(), "fully transparent pixels must be white"
    assert np.array_equal(colour[alpha > 0], _arr(reference_rgb.convert("RGB"))[alpha > 0])


# ---- decoding and the helpers -------------------------------------------------------------------
def test_load_image_keeps_alpha_on_request() -> None:
    rgba = _rgba()
    out, notes = load_image(_png(rgba), keep_alpha=True)
    assert out.mode == "RGBA" and np.array_equal(_arr(out), _arr(rgba))
    assert any("transparency kept" in n for n in notes)
    composited, notes = load_image(_png(rgba))  # the default is unchanged: composited onto white
    assert composited.mode == "RGB" and notes == ["transparency composited onto white"]

    la = Image.new("LA", (2, 1))
    la.putdata([(40, 255), (200, 0)])
    out, _ = load_image(_png(la), keep_alpha=True)
    assert out.mode == "RGBA" and out.getpixel((0, 0)) == (40, 40, 40, 255) and out.getpixel((1, 0))[3] == 0

    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 255, 0, 255, 0, 0] + [0] * 762)
    pal.putdata([0, 1])
    out, _ = load_image(_png(pal, transparency=1), keep_alpha=True)
    assert out.mode == "RGBA" and out.getpixel((0, 0)) == (0, 255, 0, 255) and out.getpixel((1, 0))[3] == 0


def test_keep_alpha_leaves_opaque_16bit_and_cmyk_inputs_alone() -> None:
    opaque = _photo().convert("RGBA")
    out, notes = load_image(_png(opaque), keep_alpha=True)
    assert out.mode == "RGB" and notes == []
    wide = Image.fromarray(np.arange(0, 65536, 257, dtype=np.uint16).reshape(16, 16))
    cmyk = Image.new("CMYK", (3, 2), (0, 255, 255, 0))
    jpeg = io.BytesIO()
    cmyk.save(jpeg, format="JPEG", quality=95)
    for data in (_png(wide), jpeg.getvalue(), _png(_photo())):
        plain, plain_notes = load_image(data)
        kept, kept_notes = load_image(data, keep_alpha=True)
        assert kept.mode == "RGB" and kept_notes == plain_notes
        assert np.array_equal(_arr(kept), _arr(plain))


def test_split_alpha_is_ensure_rgb_plus_the_alpha_and_join_cleans() -> None:
    rgba = _rgba()
    rgb, alpha = split_alpha(rgba)
    assert rgb.mode == "RGB" and np.array_equal(_arr(rgb), _arr(ensure_rgb(rgba)[0]))
    assert alpha is not None and np.array_equal(_arr(alpha), _arr(_alpha()))
    assert transparency(rgba) is not None and transparency(_photo()) is None
    photo = _photo()
    assert split_alpha(photo) == (photo, None) and split_alpha(photo)[0] is photo
    opaque = photo.convert("RGBA")
    assert split_alpha(opaque)[0] is opaque and transparency(opaque) is None

    joined = join_alpha(_photo(), alpha)
    _check_alpha_result(joined, alpha, _photo())
    grey = join_alpha(_photo().convert("L"), alpha)
    assert grey.mode == "LA" and (_arr(grey)[..., 0][_arr(alpha) == 0] == 255).all()
    with pytest.raises(ValueError, match="resize the alpha"):
        join_alpha(_photo(), alpha.resize((10, 10)))


# ---- pipelines ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def studio(models_toml: str) -> Iterator[Any]:
    import torch

    from gan_studio.studio import Studio

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Studio(models_file=models_toml, device="cpu", batching=False)
    torch.set_num_threads(threads)


def _pipeline_cases(studio: Any) -> dict[str, Callable[[Image.Image], Any]]:
    from gan_studio.pipelines.colorization import colorize
    from gan_studio.pipelines.multidomain import translate_attributes
    from gan_studio.pipelines.translation import translate

    cyclegan = studio.load("tiny-cyclegan", "AtoB")
    return {
        "one-pass": lambda im: translate(cyclegan, im, seed=3),
        "tiled": lambda im: translate(cyclegan, im, full_resolution=True, tile_size=32, overlap=8),
        "working-size": lambda im: translate(cyclegan, im, keep_size=False),
        "centre-crop": lambda im: translate(cyclegan, im, center_crop=True),
        "pix2pix": lambda im: translate(studio.load("tiny-pix2pix"), im, seed=5),
        "multidomain": lambda im: translate_attributes(studio.load("tiny-stargan"), im, ["red", "big"], seed=1),
        "colorization": lambda im: colorize(studio.load("tiny-colorizer"), im),
    }


CASES = ["one-pass", "tiled", "working-size", "centre-crop", "pix2pix", "multidomain", "colorization"]


def _expected_alpha(case: str, size: tuple[int, int]) -> Image.Image:
    """The input's alpha as the output of ``case`` should carry it, derived from the geometry each
    pipeline documents (centre crops and resizes), with image_io's own crop and resize."""
    alpha = _alpha()
    if case == "centre-crop":
        alpha = center_crop(alpha, min(SIZE))
    elif case == "multidomain":  # tiny-stargan: centre crop 24, resize 16
        alpha = center_crop(alpha, 24)
    return alpha if alpha.size == size else resize(alpha, size)


@pytest.mark.parametrize("case", CASES)
def test_pipelines_give_rgba_with_the_inputs_alpha(studio: Any, case: str) -> None:
    run = _pipeline_cases(studio)[case]
    rgba = _rgba()
    result = run(rgba)
    reference = run(ensure_rgb(rgba)[0])  # the composited RGB input, as before this change
    assert reference.image.mode == "RGB" and "alpha" not in reference.params
    expected = _expected_alpha(case, reference.image.size)
    _check_alpha_result(result.image, expected, reference.image)
    if case == "working-size":
        assert result.image.size != SIZE  # the alpha was resized with the image
    if case in ("one-pass", "tiled", "colorization"):
        assert result.image.size == SIZE and np.array_equal(_arr(result.image.getchannel("A")), _arr(_alpha()))
    # the "before" image carries the same alpha
    assert result.source is not None and result.source.size == result.image.size
    assert result.source.mode == ("LA" if case == "colorization" else "RGBA")
    assert np.array_equal(_arr(result.source.getchannel("A")), _arr(expected))
    # provenance: everything else as for the composited input, plus that alpha was carried over
    assert result.params["alpha"] == "carried over from the input" and result.params["alpha_background"] == "white"
    assert {k: v for k, v in result.params.items() if not k.startswith("alpha")} == reference.params
    # what is hidden under fully transparent pixels never reaches the model
    other = run(_rgba(hidden=(0, 200, 30)))
    assert np.array_equal(_arr(other.image), _arr(result.image))
    # the PNG keeps the alpha and records it
    png = result.png_bytes()
    with Image.open(io.BytesIO(png)) as saved:
        assert saved.mode == "RGBA" and np.array_equal(_arr(saved), _arr(result.image))
    assert read_metadata(png)["alpha"] == "carried over from the input"


@pytest.mark.parametrize("case", ["one-pass", "tiled", "multidomain", "colorization"])
def test_opaque_inputs_give_the_same_rgb_output_as_before(studio: Any, case: str) -> None:
    run = _pipeline_cases(studio)[case]
    photo = _photo()
    plain = run(photo)
    assert plain.image.mode == "RGB" and "alpha" not in plain.params
    for same in (photo.convert("RGBA"), photo.convert("RGBA").convert("RGBa")):  # opaque alpha: nothing to keep
        again = run(same)
        assert again.image.mode == "RGB" and again.image.tobytes() == plain.image.tobytes()
        assert again.params == plain.params


def test_la_and_palette_uploads_keep_their_alpha(studio: Any) -> None:
    from gan_studio.pipelines.translation import translate

    alpha = _alpha()
    la = _photo().convert("L")
    la.putalpha(alpha)
    pal = _photo().quantize(16)
    index = _arr(pal)[0, 0]  # the top-left colour becomes transparent
    pal_alpha = Image.fromarray(np.where(_arr(pal) == index, 0, 255).astype(np.uint8), "L")
    for upload, expected in ((la, alpha), (pal, pal_alpha)):
        options = {"transparency": int(index)} if upload.mode == "P" else {}
        decoded, _ = load_image(_png(upload, **options), keep_alpha=True)
        result = translate(studio.load("tiny-cyclegan", "AtoB"), decoded)
        assert result.image.mode == "RGBA"
        assert np.array_equal(_arr(result.image.getchannel("A")), _arr(expected))


# ---- the CLI ------------------------------------------------------------------------------------
def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gan_studio", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)


def test_cli_translate_and_colorize_keep_alpha_and_info_shows_it(tmp_path: Path, models_toml: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from gan_studio.cli import main

    src = tmp_path / "logo.png"
    _rgba().save(src)
    flat = tmp_path / "flat.png"
    _photo().save(flat)
    common = ["--models", models_toml, "--device", "cpu", "-o"]
    # the real entry point once, in a subprocess; the other runs through the same main() in-process
    done = run_cli("translate", "--model", "tiny-cyclegan", "--direction", "AtoB", str(src), *common,
                   str(tmp_path / "out" / "t.png"))
    assert done.returncode == 0, done.stderr
    runs = {
        "tiles.png": ["translate", "--model", "tiny-cyclegan", "--direction", "AtoB", "--full-res", "--tile", "32",
                      "--overlap", "8", str(src)],
        "s.png": ["translate", "--model", "tiny-stargan", str(src), "--attributes", "red"],
        "c.png": ["colorize", "--model", "tiny-colorizer", str(src)],
        "flat.png": ["translate", "--model", "tiny-cyclegan", "--direction", "AtoB", str(flat)],
    }
    for name, args in runs.items():
        assert main([*args, *common, str(tmp_path / "out" / name)]) == 0
    for name in ("t.png", "tiles.png", "s.png", "c.png"):
        with Image.open(tmp_path / "out" / name) as out:
            out.load()
            expected = _expected_alpha("multidomain" if name == "s.png" else "one-pass", out.size)
            assert out.mode == "RGBA" and out.size == (SIZE if name != "s.png" else (16, 16)), name
            assert np.array_equal(_arr(out.getchannel("A")), _arr(expected)), name
            assert (_arr(out)[..., :3][_arr(expected) == 0] == 255).all(), name
        assert read_metadata(tmp_path / "out" / name)["alpha"] == "carried over from the input"
    with Image.open(tmp_path / "out" / "flat.png") as out:
        assert out.mode == "RGB"
    assert "alpha" not in read_metadata(tmp_path / "out" / "flat.png")
    capsys.readouterr()
    assert main(["info", str(tmp_path / "out" / "t.png")]) == 0
    shown = capsys.readouterr().out
    assert "carried over from the input" in shown and re.search(r"^alpha_background\s+white$", shown, re.M)


# ---- the launched app ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(app_env: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from launched_app import launch_app

    launched = launch_app(tmp_path_factory.mktemp("studio"), public=False)
    yield launched
    launched.close()


def _open(path: str | Path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        return im.copy()


def test_app_translate_colorize_and_attributes_keep_alpha(app: Any, tmp_path: Path) -> None:
    from gradio_client import handle_file

    logo = tmp_path / "logo.png"
    _rgba().save(logo)
    calls = {
        "translate": dict(image=handle_file(str(logo)), model="ui-cyclegan", direction="AtoB", api_name="/translate"),
        "tiled": dict(image=handle_file(str(logo)), model="ui-cyclegan", direction="AtoB", full_resolution=True,
                      api_name="/translate"),
        "attributes": dict(image=handle_file(str(logo)), model="ui-stargan", attributes=["big"],
                           api_name="/translate"),
        "colorize": dict(image=handle_file(str(logo)), model="ui-colorizer", working_size=0, api_name="/colorize"),
    }
    for name, call in calls.items():
        (before, after), download = app.client.predict(**call)
        out, shown, fed = _open(download), _open(after), _open(before)
        assert out.mode == "RGBA", name
        assert np.array_equal(_arr(out), _arr(shown)), name  # the slider shows what is downloaded
        expected = _alpha() if out.size == SIZE else resize(_alpha(), out.size)  # ui-stargan: resize 16, no crop
        assert np.array_equal(_arr(out.getchannel("A")), _arr(expected)), name
        assert (_arr(out)[..., :3][_arr(expected) == 0] == 255).all(), name
        assert fed.mode == ("LA" if name == "colorize" else "RGBA") and fed.size == out.size, name
        meta = read_metadata(download)
        assert meta["alpha"] == "carried over from the input" and meta["input_size"] == list(SIZE), name
    # an opaque upload still gives an RGB PNG without the alpha record
    photo = tmp_path / "photo.png"
    _photo().save(photo)
    (_, _), download = app.client.predict(image=handle_file(str(photo)), model="ui-cyclegan", direction="AtoB",
                                          api_name="/translate")
    assert _open(download).mode == "RGB" and "alpha" not in read_metadata(download)
