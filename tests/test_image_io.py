"""Tests for gan_studio.image_io: hostile uploads, mode handling with real pixel values, tensors, sizes, Lab."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_studio import image_io
from gan_studio.errors import ImageInputError
from gan_studio.image_io import (
    ALLOWED_FORMATS,
    DEFAULT_MAX_PIXELS,
    center_crop,
    denormalize_ab,
    denormalize_l,
    ensure_rgb,
    frames_to_gif,
    gif_bytes,
    lab_to_rgb,
    load_image,
    make_grid,
    merge_lab,
    normalize_ab,
    normalize_l,
    pil_to_tensor,
    resize,
    rgb_to_lab,
    save_gif,
    split_luminance,
    tensor_to_pil,
    working_size,
)

try:
    from tests.hostile_images import (
        EXPECTED_MESSAGES,
        EXPECTED_NOTES,
        EXPECTED_SIZES,
        corpus_index,
        encoded,
        hostile_corpus,
    )
except ImportError:  # run from inside tests/
    from hostile_images import EXPECTED_MESSAGES, EXPECTED_NOTES, EXPECTED_SIZES, corpus_index, encoded, hostile_corpus

REPO_ROOT = Path(__file__).resolve().parents[1]
INDEX = corpus_index()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return {name: (path, expected) for name, path, expected in hostile_corpus(tmp_path_factory.mktemp("hostile"))}


def _png(img: Image.Image, **options: object) -> bytes:
    return encoded(img, "PNG", **options)


# ------------------------------------------------------------------------------------------------
# The hostile corpus
# ------------------------------------------------------------------------------------------------


def test_corpus_is_large_and_mixed() -> None:
    names = [name for name, _ in INDEX]
    assert len(names) == len(set(names))
    assert len(names) >= 30
    assert sum(exp == "ok" for _, exp in INDEX) >= 15
    assert sum(exp == "error" for _, exp in INDEX) >= 15
    # the pixel bomb really is small on disk and huge when decoded
    assert "png_pixel_bomb" in names


def test_pixel_bomb_is_small_on_disk(corpus: dict[str, tuple[Path, str]]) -> None:
    path, _ = corpus["png_pixel_bomb"]
    assert path.stat().st_size < 64_000
    # plain Pillow (default limits) only warns, and would go on to decode it
    with pytest.warns(Image.DecompressionBombWarning), Image.open(path) as im:
        assert im.size == (13000, 13000)


@pytest.mark.parametrize("name", [n for n, exp in INDEX if exp == "ok"])
def test_ok_files_decode_to_rgb(corpus: dict[str, tuple[Path, str]], name: str) -> None:
    path, _ = corpus[name]
    img, notes = load_image(path)
    assert img.mode == "RGB"
    assert img.size == EXPECTED_SIZES[name]
    img.load()
    assert img.info == {}  # nothing from the upload (EXIF, text, polyglot payloads) is carried on
    assert all(isinstance(n, str) and n for n in notes)
    if name in EXPECTED_NOTES:
        assert any(EXPECTED_NOTES[name] in n for n in notes), notes
    else:
        assert notes == []


@pytest.mark.parametrize("name", [n for n, exp in INDEX if exp == "error"])
def test_error_files_raise_image_input_error(corpus: dict[str, tuple[Path, str]], name: str) -> None:
    path, _ = corpus[name]
    start = time.perf_counter()
    with pytest.raises(ImageInputError) as info:
        load_image(path)
    elapsed = time.perf_counter() - start
    message = str(info.value)
    assert message.startswith(path.name + ":")  # names the file (basename, not the full path)
    assert str(path.parent) not in message
    assert elapsed < 2.0
    if name in EXPECTED_MESSAGES:
        assert EXPECTED_MESSAGES[name] in message.lower(), message
    is_size_error = "megapixels" in message
    if not is_size_error:
        assert ", ".join(ALLOWED_FORMATS) in message, message


def test_errors_stay_within_time_and_memory(corpus: dict[str, tuple[Path, str]]) -> None:
    """Decode every hostile file in a fresh interpreter and measure its peak RSS.

    The 12 MP photo is decoded last as a positive control: it must raise the peak by at least
    30 MB (36 MB of RGB pixels), which shows the measurement would catch a decoded bomb.
    """
    errors = [str(path) for path, exp in corpus.values() if exp == "error"]
    control = str(corpus["png_12mp_photo"][0])
    script = textwrap.dedent(
        """
        import json, resource, sys, time
        from gan_studio.image_io import load_image
        from gan_studio.errors import ImageInputError
        def kb():
            # VmHWM is this process's own peak RSS; ru_maxrss can start at the parent's peak
            # because Linux carries the pre-exec high-water mark across execve.
            try:
                with open("/proc/self/status") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            return int(line.split()[1])
            except OSError:
                pass
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        base = kb()
        times = {}
        for path in sys.argv[2:]:
            start = time.perf_counter()
            try:
                load_image(path)
                times[path] = ["ok", time.perf_counter() - start]
            except ImageInputError:
                times[path] = ["error", time.perf_counter() - start]
        after_errors = kb()
        img, _ = load_image(sys.argv[1])
        after_control = kb()
        print(json.dumps({"base": base, "after_errors": after_errors, "after_control": after_control, "times": times}))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", script, control, *errors],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(outcome == "error" for outcome, _ in result["times"].values()), result["times"]
    slowest = max(seconds for _, seconds in result["times"].values())
    assert slowest < 2.0, result["times"]
    growth_mb = (result["after_errors"] - result["base"]) / 1024
    assert growth_mb < 200, f"hostile files raised the peak RSS by {growth_mb:.0f} MB"
    control_mb = (result["after_control"] - result["after_errors"]) / 1024
    assert control_mb > 30, f"the 12 MP control only raised the peak by {control_mb:.0f} MB"


def test_size_is_checked_before_decoding(corpus: dict[str, tuple[Path, str]]) -> None:
    # The header claims 13000×13000 but the pixel data is garbage: if anything were decoded first,
    # the error would be about corrupt data, not the size.
    path, _ = corpus["png_bomb_header_garbage_data"]
    with pytest.raises(ImageInputError, match="megapixels"):
        load_image(path)


def test_max_pixels_argument() -> None:
    data = _png(Image.new("RGB", (100, 50), (1, 2, 3)))
    assert load_image(data, max_pixels=5000)[0].size == (100, 50)
    with pytest.raises(ImageInputError, match=r"100×50 pixels \(5,000 pixels\) is above the limit of 4,999 pixels"):
        load_image(data, max_pixels=4999)
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(data, max_pixels=0)
    assert DEFAULT_MAX_PIXELS >= 4000 * 3000
    assert DEFAULT_MAX_PIXELS < 13000 * 13000


def test_pillow_bomb_warning_follows_our_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = _png(Image.new("RGB", (50, 40), (5, 5, 5)))  # 2000 px: Pillow warns (above 1000), no error
    with pytest.raises(ImageInputError, match="header declares 2,000 pixels, too large to decode safely"):
        load_image(data, max_pixels=900)  # our limit is below Pillow's: its warning is an error
    img, _ = load_image(data, max_pixels=5000)  # caller allows more than Pillow: our check decides
    assert img.size == (50, 40)


# ------------------------------------------------------------------------------------------------
# Sources
# ------------------------------------------------------------------------------------------------


def test_sources_path_bytes_and_file_objects(tmp_path: Path) -> None:
    data = _png(Image.new("RGB", (3, 2), (10, 20, 30)))
    path = tmp_path / "photo.png"
    path.write_bytes(data)

    class Stream:  # not seekable, like a network stream
        def __init__(self, payload: bytes) -> None:
            self._buf = io.BytesIO(payload)

        def read(self, n: int = -1) -> bytes:
            return self._buf.read(n)

    for source in (path, str(path), data, bytearray(data), io.BytesIO(data), Stream(data)):
        img, notes = load_image(source)
        assert img.getpixel((2, 1)) == (10, 20, 30)
        assert notes == []
    with open(path, "rb") as fh:
        load_image(fh)
        assert not fh.closed  # a caller's file object is left open


def test_missing_and_odd_sources(tmp_path: Path) -> None:
    with pytest.raises(ImageInputError, match=r"^missing\.png: no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageInputError, match="not a regular file"):
        load_image(tmp_path)
    with pytest.raises(ImageInputError, match=r"^uploaded image: the image data is empty"):
        load_image(b"")
    with pytest.raises(ImageInputError, match=r"^cat\.png: .*text file"):
        load_image(b"hello world\n", name="cat.png")
    with pytest.raises(TypeError, match="path, bytes or a binary file"):
        load_image(12345)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="background"):
        load_image(b"x", background=(0, 0))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Modes, with real pixel values
# ------------------------------------------------------------------------------------------------


def test_rgba_is_composited_not_dropped() -> None:
    img = Image.new("RGBA", (4, 1))
    img.putdata([(255, 0, 0, 255), (255, 0, 0, 128), (255, 0, 0, 0), (0, 0, 255, 64)])
    data = _png(img)
    out, notes = load_image(data)
    px = [out.getpixel((x, 0)) for x in range(4)]
    assert px[0] == (255, 0, 0)
    assert px[1] == pytest.approx((255, 127, 127), abs=1)  # half red over white
    assert px[2] == (255, 255, 255)  # fully transparent: the background, not the hidden red
    assert px[3] == pytest.approx((191, 191, 255), abs=1)
    assert notes == ["transparency composited onto white"]
    # a dark background is honoured
    out, notes = load_image(data, background=(0, 0, 0))
    assert out.getpixel((1, 0)) == pytest.approx((128, 0, 0), abs=1)
    assert out.getpixel((2, 0)) == (0, 0, 0)
    assert notes == ["transparency composited onto RGB(0, 0, 0)"]


def test_la_and_palette_transparency() -> None:
    la = Image.new("LA", (2, 1))
    la.putdata([(0, 255), (0, 0)])
    out, _ = load_image(_png(la))
    assert out.getpixel((0, 0)) == (0, 0, 0)
    assert out.getpixel((1, 0)) == (255, 255, 255)

    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 255, 0, 255, 0, 0] + [0] * 762)
    pal.putdata([0, 1])
    out, notes = load_image(_png(pal, transparency=1))
    assert out.getpixel((0, 0)) == (0, 255, 0)
    assert out.getpixel((1, 0)) == (255, 255, 255)
    assert notes == ["transparency composited onto white"]


def test_16bit_grayscale_keeps_its_gradient() -> None:
    values = list(range(0, 65536, 257))  # 256 levels spanning the whole 16-bit range
    img = Image.new("I;16", (256, 1))
    img.putdata(values)
    data = _png(img)
    with Image.open(io.BytesIO(data)) as raw:  # the naive conversion this module exists to avoid
        naive = np.asarray(raw.convert("RGB"))[0, :, 0]
    assert (naive == 255).mean() > 0.9

    out, notes = load_image(data)
    row = np.asarray(out)[0]
    assert notes == ["16-bit grayscale scaled to 8 bits"]
    assert np.array_equal(row[:, 0], np.arange(256))  # 257·k -> k exactly, all 256 levels distinct
    assert np.array_equal(row[:, 0], row[:, 2])


def test_16bit_big_endian_and_wide_int_modes() -> None:
    raw = np.array([[0, 1000, 32768, 65535]], dtype=">u2")
    img = Image.frombytes("I;16B", (4, 1), raw.tobytes())
    out, notes = ensure_rgb(img)
    assert [out.getpixel((x, 0))[0] for x in range(4)] == [0, 4, 128, 255]
    assert notes == ["16-bit grayscale scaled to 8 bits"]

    wide = Image.fromarray(np.array([[-1000, 0, 1000]], dtype=np.int32))
    assert wide.mode == "I"
    out, notes = ensure_rgb(wide)
    assert [out.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]
    assert "range [-1000, 1000]" in notes[0]


def test_float_and_bilevel_modes() -> None:
    f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    out, notes = ensure_rgb(f)
    assert [out.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]
    assert "32-bit float" in notes[0]
    bilevel = Image.new("1", (2, 1))
    bilevel.putpixel((1, 0), 1)
    out, notes = load_image(_png(bilevel))
    assert [out.getpixel((x, 0)) for x in range(2)] == [(0, 0, 0), (255, 255, 255)]
    assert notes == []


def test_cmyk_is_converted() -> None:
    cmyk = Image.new("CMYK", (8, 8), (255, 0, 0, 0))  # pure cyan ink
    out, notes = ensure_rgb(cmyk)
    assert out.getpixel((0, 0)) == (0, 255, 255)
    assert notes == ["CMYK converted to RGB"]
    out, notes = load_image(encoded(cmyk, "JPEG", quality=95))
    assert out.getpixel((4, 4)) == pytest.approx((0, 255, 255), abs=4)
    assert notes == ["CMYK converted to RGB"]


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (20, 0, 40, 20))  # stored: left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise: the left half ends up on top
    out, notes = load_image(encoded(img, "JPEG", quality=95, exif=exif.tobytes()))
    assert out.size == (20, 40)
    assert out.getpixel((10, 5)) == pytest.approx((255, 0, 0), abs=6)
    assert out.getpixel((10, 35)) == pytest.approx((0, 0, 255), abs=6)
    assert notes == ["EXIF orientation applied (rotated 90° clockwise)"]


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (6, 4), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40)
    out, notes = load_image(data)
    assert out.getpixel((0, 0)) == (255, 0, 0)
    assert notes == ["animated GIF: used the first of 3 frames"]


def test_grayscale_expands_to_equal_channels() -> None:
    out, notes = load_image(_png(Image.new("L", (3, 3), 77)))
    assert out.getpixel((1, 1)) == (77, 77, 77)
    assert notes == []


# ------------------------------------------------------------------------------------------------
# Tensors
# ------------------------------------------------------------------------------------------------


def test_tensor_round_trip_is_exact() -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8) for _ in range(2)]
    images = [Image.fromarray(a) for a in arrays]
    t = pil_to_tensor(images)
    assert t.shape == (2, 3, 5, 7) and t.dtype == torch.float32
    assert float(t.min()) >= -1.0 and float(t.max()) <= 1.0
    assert torch.allclose(t[1, :, 2, 3], torch.tensor(arrays[1][2, 3], dtype=torch.float32) / 127.5 - 1)
    back = tensor_to_pil(t)
    for a, img in zip(arrays, back):
        assert img.mode == "RGB"
        assert np.array_equal(np.asarray(img), a)


def test_single_channel_and_single_image() -> None:
    img = Image.fromarray(np.array([[0, 128, 255]], dtype=np.uint8))
    t = pil_to_tensor(img, channels=1)
    assert t.shape == (1, 1, 1, 3)
    assert t.flatten().tolist() == pytest.approx([-1.0, 128 / 127.5 - 1, 1.0], abs=1e-6)
    (back,) = tensor_to_pil(t)
    assert back.mode == "L" and list(np.asarray(back)[0]) == [0, 128, 255]
    # an RGB image asked for as 1 channel uses Pillow's L weights
    rgb = Image.new("RGB", (1, 1), (255, 0, 0))
    assert pil_to_tensor(rgb, channels=1).item() == pytest.approx(76 / 127.5 - 1)
    # RGBA goes through compositing rather than dropping alpha
    rgba = Image.new("RGBA", (1, 1), (0, 0, 0, 0))
    assert pil_to_tensor(rgba).flatten().tolist() == [1.0, 1.0, 1.0]


def test_tensor_to_pil_rounds_and_clamps() -> None:
    t = torch.tensor([-2.0, -1.0, 1 / 127.5 - 1 + 0.003, 0.0, 1.0, 5.0, float("nan")]).view(1, 1, 1, 7)
    (img,) = tensor_to_pil(t)
    assert list(np.asarray(img)[0]) == [0, 0, 1, 128, 255, 255, 128]
    # 3-D input is one image
    assert len(tensor_to_pil(torch.zeros(3, 2, 2))) == 1


def test_tensor_errors() -> None:
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        pil_to_tensor(Image.new("RGB", (2, 2)), channels=2)
    with pytest.raises(ValueError, match="different sizes"):
        pil_to_tensor([Image.new("RGB", (2, 2)), Image.new("RGB", (3, 2))])
    with pytest.raises(ValueError, match="at least one"):
        pil_to_tensor([])
    with pytest.raises(ValueError, match=r"C in \(1, 3\)"):
        tensor_to_pil(torch.zeros(1, 4, 2, 2))


# ------------------------------------------------------------------------------------------------
# Sizes
# ------------------------------------------------------------------------------------------------


def test_working_size_rules() -> None:
    assert working_size(4000, 3000, target=256, multiple=8) == (344, 256)  # 341.3 -> 344
    assert working_size(3000, 4000, target=256, multiple=8) == (256, 344)
    assert working_size(4000, 3000, target=256, multiple=8, side="long") == (256, 192)
    assert working_size(256, 256, target=256, multiple=256) == (256, 256)
    assert working_size(178, 218, target=128, multiple=4) == (128, 156)  # 156.8 -> 156
    assert working_size(1000, 10, target=64, multiple=32, side="long") == (64, 32)  # never below multiple
    assert working_size(10, 10, target=300, multiple=256) == (256, 256)  # 300 rounds to the nearest multiple
    for w, h in [(640, 480), (1920, 1080), (333, 777)]:
        sw, sh = working_size(w, h, target=512, multiple=16)
        assert sw % 16 == 0 and sh % 16 == 0
        assert min(sw, sh) == 512
        assert abs(sw / sh - w / h) < 0.05


def test_working_size_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="side must be 'short' or 'long'"):
        working_size(10, 10, target=8, multiple=8, side="middle")
    with pytest.raises(ValueError, match="target must be a positive integer"):
        working_size(10, 10, target=0, multiple=8)
    with pytest.raises(ValueError, match="multiple"):
        working_size(10, 10, target=8, multiple=-8)


def test_center_crop_matches_torchvision() -> None:
    tvf = pytest.importorskip("torchvision.transforms.functional")
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, size=(218, 178, 3), dtype=np.uint8))
    for size in [178, (100, 50), (177, 217), (101, 33), 250, (200, 100)]:
        ours = center_crop(img, size)
        ref = tvf.center_crop(img, [size, size] if isinstance(size, int) else [size[1], size[0]])
        assert ours.size == ref.size
        assert np.array_equal(np.asarray(ours), np.asarray(ref)), size


def test_stargan_preprocessing_shape() -> None:
    celeb = Image.new("RGB", (178, 218), (10, 10, 10))
    celeb.paste((200, 0, 0), (0, 20, 178, 198))  # the centre 178×178 is red, the rest dark
    face = resize(center_crop(celeb, 178), (128, 128))
    assert face.size == (128, 128)
    assert np.asarray(face).reshape(-1, 3).min(axis=0).tolist() == [200, 0, 0]
    with pytest.raises(ValueError, match="positive"):
        resize(celeb, (0, 10))


# ------------------------------------------------------------------------------------------------
# Lab colour
# ------------------------------------------------------------------------------------------------


def _rgb_samples() -> np.ndarray:
    rng = np.random.default_rng(2)
    rgb = rng.random((2, 3, 8, 8))
    corners = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.04045, 0.5, 0.002]])
    rgb[0, :, 0, : len(corners)] = corners.T
    return rgb


def test_rgb_to_lab_matches_skimage() -> None:
    color = pytest.importorskip("skimage.color")
    rgb = _rgb_samples()
    ref = color.rgb2lab(rgb.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    ours = rgb_to_lab(torch.from_numpy(rgb).float())
    assert ours.dtype == torch.float32
    assert np.abs(ours.numpy() - ref).max() < 1e-3
    ours64 = rgb_to_lab(torch.from_numpy(rgb))
    assert np.abs(ours64.numpy() - ref).max() < 1e-9
    white = rgb_to_lab(torch.ones(1, 3, 1, 1)).flatten().tolist()
    assert white == pytest.approx([100.0, 0.0, 0.0], abs=1e-2)  # skimage's own white is off by ~0.005


def test_lab_to_rgb_matches_skimage_including_out_of_gamut() -> None:
    color = pytest.importorskip("skimage.color")
    rng = np.random.default_rng(3)
    lab = np.stack(
        [rng.uniform(0, 100, (2, 8, 8)), rng.uniform(-110, 110, (2, 8, 8)), rng.uniform(-110, 110, (2, 8, 8))],
        axis=1,
    )
    with pytest.warns(UserWarning, match="negative Z values"):  # some samples are far out of gamut
        ref = color.lab2rgb(lab.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    ours = lab_to_rgb(torch.from_numpy(lab).float())
    assert float(ours.min()) >= 0.0 and float(ours.max()) <= 1.0
    assert np.abs(ours.numpy() - ref).max() < 1e-3
    assert np.abs(lab_to_rgb(torch.from_numpy(lab)).numpy() - ref).max() < 1e-9


def test_lab_round_trip_and_gradients() -> None:
    rgb = torch.from_numpy(_rgb_samples()).float().requires_grad_(True)
    back = lab_to_rgb(rgb_to_lab(rgb))
    assert torch.allclose(back, rgb, atol=1e-4)
    rgb_to_lab(rgb).sum().backward()
    assert torch.isfinite(rgb.grad).all()  # no NaN at 0 or at the piecewise thresholds


def test_lab_normalisation() -> None:
    L = torch.tensor([0.0, 50.0, 100.0])
    assert normalize_l(L).tolist() == [-1.0, 0.0, 1.0]
    assert torch.equal(denormalize_l(normalize_l(L)), L)
    ab = torch.tensor([-110.0, 0.0, 55.0])
    assert normalize_ab(ab).tolist() == [-1.0, 0.0, 0.5]
    assert torch.allclose(denormalize_ab(normalize_ab(ab)), ab)


def test_split_luminance_and_merge_lab() -> None:
    color = pytest.importorskip("skimage.color")
    rng = np.random.default_rng(4)
    arr = rng.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    L = split_luminance(img)
    assert L.shape == (1, 1, 6, 10)
    ref_L = color.rgb2lab(arr / 255.0)[..., 0]
    assert np.abs(L[0, 0].numpy() - (ref_L / 50 - 1)).max() < 1e-4

    ab = normalize_ab(rgb_to_lab(pil_to_tensor(img).add(1).mul(0.5))[:, 1:])
    merged = merge_lab(L, ab)
    assert merged.mode == "RGB" and merged.size == (10, 6)
    assert np.abs(np.asarray(merged).astype(int) - arr).max() <= 1

    gray = Image.new("L", (8, 4), 90)
    merged = merge_lab(split_luminance(gray), torch.zeros(1, 2, 2, 2))  # low-res ab, upsampled
    assert merged.size == (8, 4)
    assert np.abs(np.asarray(merged).astype(int) - 90).max() <= 1
    with pytest.raises(ValueError, match=r"ab_full must have shape \(1, 2, H, W\)"):
        merge_lab(L, torch.zeros(1, 3, 6, 10))


# ------------------------------------------------------------------------------------------------
# Grids and GIFs
# ------------------------------------------------------------------------------------------------


def test_make_grid_layout() -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    images = [Image.new("RGB", (10, 8), c) for c in colours]
    grid = make_grid(images, pad=2)
    assert grid.size == (3 * 12 + 2, 2 * 10 + 2)  # 3 columns (ceil sqrt 5), 2 rows
    assert grid.getpixel((0, 0)) == (255, 255, 255)
    assert grid.getpixel((2, 2)) == colours[0]
    assert grid.getpixel((14, 2)) == colours[1]
    assert grid.getpixel((2, 12)) == colours[3]
    assert grid.getpixel((14, 12)) == colours[4]
    assert grid.getpixel((26, 12)) == (255, 255, 255)  # the empty sixth cell
    row = make_grid(images[:2], cols=5, pad=0)
    assert row.size == (20, 8)
    gray = make_grid([Image.new("L", (4, 4), 9)] * 4, cols=2, pad=1)
    assert gray.mode == "L" and gray.size == (11, 11)
    with pytest.raises(ValueError, match="at least one"):
        make_grid([])


def test_save_gif(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = save_gif(frames, tmp_path / "walk.gif", duration_ms=120)
    with Image.open(path) as gif:
        assert gif.n_frames == 3
        assert gif.info["duration"] == 120
        assert gif.info["loop"] == 0
        assert gif.convert("RGB").getpixel((0, 0)) == (255, 0, 0)
    assert gif_bytes(frames, duration_ms=120) == path.read_bytes()  # deterministic
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_gif(frames, path)
    save_gif(frames[:2], path, overwrite=True)
    with Image.open(path) as gif:
        assert gif.n_frames == 2
    with pytest.raises(ValueError, match="different sizes"):
        gif_bytes([frames[0], Image.new("RGB", (4, 4))])


def test_frames_to_gif_ping_pongs_and_upscales_small_frames() -> None:
    colours = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0))
    frames = [Image.new("RGB", (16, 8), c) for c in colours]
    with Image.open(io.BytesIO(frames_to_gif(frames, duration_ms=50))) as gif:
        assert gif.size == (128, 64)  # nearest upscale: long side to >= 128 px
        assert gif.n_frames == 6  # there and back: 0 1 2 3 2 1
        assert gif.info["duration"] == 50 and gif.info["loop"] == 0
        seen = []
        for i in range(gif.n_frames):
            gif.seek(i)
            seen.append(gif.convert("RGB").getpixel((0, 0)))
    assert seen == [colours[i] for i in (0, 1, 2, 3, 2, 1)]
    with Image.open(io.BytesIO(frames_to_gif(frames[:1], scale=1))) as gif:
        assert gif.size == (16, 8) and gif.n_frames == 1
    big = [Image.new("L", (200, 100), v) for v in (0, 255)]
    with Image.open(io.BytesIO(frames_to_gif(big))) as gif:
        assert gif.size == (200, 100)  # large frames keep their size
    with pytest.raises(ValueError, match="at least one frame"):
        frames_to_gif([])


# ------------------------------------------------------------------------------------------------
# Import cost
# ------------------------------------------------------------------------------------------------


def test_import_does_not_load_torch() -> None:
    script = (
        "import sys, gan_studio; before = 'torch' in sys.modules; "
        "import gan_studio.image_io, gan_studio.metadata; print(before, 'torch' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    before, after = proc.stdout.split()
    if before == "True":
        pytest.skip("the gan_studio package itself imports torch")
    assert after == "False"


def test_public_names_exist() -> None:
    for name in image_io.__all__:
        assert hasattr(image_io, name), name
