"""Tests for gan_studio.metadata: provenance chunks written, read back, deterministic, never overwriting."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_studio import __version__
from gan_studio.errors import ImageInputError
from gan_studio.metadata import (
    DIGITAL_SOURCE_TYPE,
    METADATA_KEY,
    SOFTWARE,
    build_pnginfo,
    format_metadata,
    png_bytes,
    read_metadata,
    save_png,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
PARAMS = {
    "model": "digits-cgan",
    "revision": "0123456789abcdef0123456789abcdef01234567",
    "seed": 42,
    "truncation": 0.7,
    "labels": [3, 1, 4],
    "task": "conditional",
    "note": "a, b = c",
}


def _image() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8))


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def test_round_trip_from_bytes_path_and_image(tmp_path: Path) -> None:
    img = _image()
    expected = {**PARAMS, "software": SOFTWARE, "ai_generated": True}
    data = png_bytes(img, PARAMS)
    assert read_metadata(data) == expected
    path = save_png(img, tmp_path / "out.png", PARAMS)
    assert path == tmp_path / "out.png"
    assert read_metadata(path) == expected
    assert read_metadata(str(path)) == expected
    with Image.open(path) as opened:
        assert read_metadata(opened) == expected
        assert np.array_equal(np.asarray(opened.convert("RGB")), np.asarray(img))  # pixels unchanged


def test_text_chunks_for_people_and_tools() -> None:
    data = png_bytes(_image(), PARAMS)
    with Image.open(io.BytesIO(data)) as im:
        info = dict(im.info)
    assert SOFTWARE == f"gan_studio {__version__}"
    assert info["Software"] == SOFTWARE
    assert info["DigitalSourceType"] == DIGITAL_SOURCE_TYPE
    assert DIGITAL_SOURCE_TYPE == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert info["AI-Generated"] == "true"
    assert info["Description"] == (
        f"AI-generated image made with {SOFTWARE} by model digits-cgan at revision {PARAMS['revision']}, seed 42"
    )
    assert info["parameters"].startswith("model=digits-cgan, revision=0123456789")
    assert "seed=42" in info["parameters"]
    assert 'note="a, b = c"' in info["parameters"]  # separators inside values are quoted
    assert "labels=[3, 1, 4]" in info["parameters"]
    xmp = info["XML:com.adobe.xmp"]
    assert f'Iptc4xmpExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}"' in xmp
    payload = info[METADATA_KEY]
    assert '"ai_generated":true' in payload


def test_chunk_layout_has_no_timestamps_and_metadata_first() -> None:
    kinds = [kind for kind, _ in _chunks(png_bytes(_image(), PARAMS))]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert set(kinds) <= {b"IHDR", b"tEXt", b"iTXt", b"IDAT", b"IEND"}
    assert b"tIME" not in kinds
    first_idat = kinds.index(b"IDAT")
    assert kinds.count(b"iTXt") == 2 and kinds.count(b"tEXt") == 5
    assert all(k in (b"tEXt", b"iTXt") for k in kinds[1:first_idat])


def test_saving_is_deterministic(tmp_path: Path) -> None:
    img = _image()
    a = png_bytes(img, PARAMS)
    b = png_bytes(img.copy(), dict(reversed(list(PARAMS.items()))))  # same params, other order
    assert a == b
    save_png(img, tmp_path / "one.png", PARAMS)
    save_png(img, tmp_path / "two.png", PARAMS)
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes() == a
    assert png_bytes(img, {**PARAMS, "seed": 43}) != a  # the check can fail
    # and across interpreters with different hash seeds (no set/dict ordering leaks in)
    script = (
        "import hashlib, numpy as np; from PIL import Image; from gan_studio.metadata import png_bytes; "
        "img = Image.fromarray(np.random.default_rng(0).integers(0, 256, size=(12, 16, 3), dtype=np.uint8)); "
        f"print(hashlib.sha256(png_bytes(img, {PARAMS!r} | {{'tags': {{'x', 'y', 'z'}}}})).hexdigest())"
    )
    digests = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        digests.add(proc.stdout.strip())
    assert len(digests) == 1
    assert digests == {hashlib.sha256(png_bytes(img, {**PARAMS, "tags": {"x", "y", "z"}})).hexdigest()}


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    path = save_png(_image(), tmp_path / "keep.png", PARAMS)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"keep\.png already exists; pass overwrite=True .* new file name"):
        save_png(Image.new("RGB", (4, 4)), path, {"seed": 1})
    assert path.read_bytes() == before
    save_png(Image.new("RGB", (4, 4)), path, {"seed": 1}, overwrite=True)
    assert read_metadata(path)["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]  # no temp files left behind


def test_missing_provenance_is_an_image_input_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    with pytest.raises(ImageInputError, match=r"no gan_studio provenance in plain\.png"):
        read_metadata(plain)
    jpeg = tmp_path / "photo.jpg"
    Image.new("RGB", (4, 4)).save(jpeg)
    with pytest.raises(ImageInputError, match=r"no gan_studio provenance in photo\.jpg"):
        read_metadata(jpeg)
    with pytest.raises(ImageInputError, match="no gan_studio provenance"):
        read_metadata(b"not an image at all")
    with pytest.raises(ImageInputError, match="no gan_studio provenance"):
        read_metadata(Image.new("RGB", (2, 2)))
    with pytest.raises(ImageInputError, match=r"gone\.png: no such file"):
        read_metadata(tmp_path / "gone.png")


def test_damaged_provenance(tmp_path: Path) -> None:
    img = Image.new("RGB", (4, 4))
    data = bytearray(png_bytes(img, {"seed": 5}))
    start = data.index(b'{"ai_generated"')
    data[start] = ord("X")  # JSON broken, CRC now wrong
    with pytest.raises(ImageInputError, match="damaged"):
        read_metadata(bytes(data))
    # valid chunk, invalid JSON
    buf = io.BytesIO()
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt(METADATA_KEY, "{not json")
    img.save(buf, "PNG", pnginfo=info)
    with pytest.raises(ImageInputError, match="not valid JSON"):
        read_metadata(buf.getvalue())


def test_compressed_and_trailing_chunks_are_read() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt(METADATA_KEY, '{"seed": 9}', zip=True)
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, "PNG", pnginfo=info)
    assert read_metadata(buf.getvalue()) == {"seed": 9}

    # a chunk moved after the image data (as some optimisers do) is still found
    chunks = _chunks(png_bytes(Image.new("L", (4, 4)), {"seed": 3}))
    ours = [c for c in chunks if c[0] == b"iTXt" and c[1].startswith(b"gan_studio\x00")]
    rest = [c for c in chunks if c not in ours]
    reordered = rest[:-1] + ours + rest[-1:]

    def pack(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    data = b"\x89PNG\r\n\x1a\n" + b"".join(pack(k, b) for k, b in reordered)
    assert read_metadata(data)["seed"] == 3


def test_reading_does_not_decode_pixels() -> None:
    # provenance in front of a 13000×13000 pixel bomb: read without touching the image data
    chunks = _chunks(png_bytes(Image.new("1", (8, 8)), {"seed": 1}))
    ihdr = struct.pack(">IIBBBBB", 13000, 13000, 1, 0, 0, 0, 0)
    body = b"".join(
        struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b) & 0xFFFFFFFF)
        for k, b in [(b"IHDR", ihdr)] + [c for c in chunks[1:] if c[0] != b"IDAT"]
    )
    assert read_metadata(b"\x89PNG\r\n\x1a\n" + body)["seed"] == 1


def test_values_are_made_json_or_refused(tmp_path: Path) -> None:
    data = png_bytes(Image.new("RGB", (2, 2)), {"seed": np.int64(7), "scale": np.float32(0.5), "dir": tmp_path, "shape": (2, 3)})
    meta = read_metadata(data)
    assert meta["seed"] == 7 and meta["scale"] == 0.5 and meta["dir"] == str(tmp_path) and meta["shape"] == [2, 3]
    with pytest.raises(TypeError, match="object"):
        build_pnginfo({"thing": object()})
    with pytest.raises(ValueError, match=r"\['truncation'\] are not finite"):
        build_pnginfo({"truncation": float("nan")})
    unicode = {"model": "ünï/模型", "prompt": "ça va\nsecond line"}
    assert read_metadata(png_bytes(Image.new("RGB", (2, 2)), unicode))["model"] == "ünï/模型"


def test_input_metadata_is_not_carried_over() -> None:
    img = Image.new("RGB", (4, 4))
    img.info["icc_profile"] = b"\x00" * 128
    img.info["exif"] = b"Exif\x00\x00"
    kinds = {k for k, _ in _chunks(png_bytes(img, {"seed": 1}))}
    assert b"iCCP" not in kinds and b"eXIf" not in kinds
    assert img.info["icc_profile"]  # the caller's image is untouched
    # odd modes are converted rather than refused
    pal = Image.new("P", (4, 4))
    assert read_metadata(png_bytes(pal, {"seed": 2}))["seed"] == 2


def test_format_metadata() -> None:
    text = format_metadata(read_metadata(png_bytes(Image.new("RGB", (2, 2)), PARAMS)))
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["model", "revision", "task", "seed"]
    assert lines[-2].split() == ["software", "gan_studio", __version__]
    assert lines[-1].split() == ["ai_generated", "true"]
    assert any(line.split() == ["labels", "[3,", "1,", "4]"] for line in lines)
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # values aligned in one column
    assert format_metadata({}) == "(no parameters)"
