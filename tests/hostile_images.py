"""A generator of hostile and odd image files, built programmatically (nothing is downloaded).

``hostile_corpus(tmp_dir)`` writes the files and returns ``(name, path, expected)`` triples, where
``expected`` is ``"ok"`` (``load_image`` must give a usable RGB image) or ``"error"`` (it must raise
``ImageInputError``, quickly and without allocating the claimed pixels). Other test modules
(UI, CLI) reuse it::

    from tests.hostile_images import hostile_corpus, EXPECTED_SIZES

Extra expectations, keyed by name (filled when this module is imported):

* :data:`EXPECTED_SIZES` — the ``(width, height)`` an "ok" file must decode to (after EXIF rotation);
* :data:`EXPECTED_NOTES` — a substring one of ``load_image``'s notes must contain;
* :data:`EXPECTED_MESSAGES` — a substring the ``ImageInputError`` message must contain (lower case).

Files that cost time to build (the 13000×13000 bomb, the 12 MP photo) are built with zlib on
repeated rows, without ever allocating their pixels.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

EXPECTED_SIZES: dict[str, tuple[int, int]] = {}
EXPECTED_NOTES: dict[str, str] = {}
EXPECTED_MESSAGES: dict[str, str] = {}


# --------------------------------------------------------------------------------------------
# Low-level builders
# --------------------------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes, *, bad_crc: bool = False) -> bytes:
    """One PNG chunk: length, type, data, CRC (deliberately wrong with ``bad_crc``)."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    if bad_crc:
        crc ^= 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_ihdr(width: int, height: int, bit_depth: int = 8, color_type: int = 0, interlace: int = 0) -> bytes:
    """IHDR payload (colour type 0 = grey, 2 = RGB, 3 = palette, 4 = grey+alpha, 6 = RGBA)."""
    return struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)


def compressed_rows(row: bytes, height: int, *, level: int = 6) -> bytes:
    """zlib stream of ``height`` copies of ``row`` (which includes its filter byte), built incrementally."""
    comp = zlib.compressobj(level)
    parts = []
    block = row * max(1, (1 << 20) // max(len(row), 1))
    rows_per_block = len(block) // len(row)
    left = height
    while left > 0:
        n = min(left, rows_per_block)
        parts.append(comp.compress(block[: n * len(row)]))
        left -= n
    parts.append(comp.flush())
    return b"".join(parts)


def handmade_png(
    ihdr: bytes,
    idat: bytes,
    *,
    before_idat: tuple[bytes, ...] = (),
    after_iend: bytes = b"",
) -> bytes:
    """A PNG from raw pieces: ``before_idat`` are complete chunks (see :func:`png_chunk`)."""
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + b"".join(before_idat)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
        + after_iend
    )


def encoded(img: Image.Image, fmt: str, **options: object) -> bytes:
    """``img`` encoded by Pillow into ``fmt``."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def gradient_rgb(width: int, height: int) -> Image.Image:
    """A deterministic RGB test pattern (horizontal red ramp, vertical green ramp, blue constant)."""
    img = Image.new("RGB", (width, height))
    img.putdata(
        [
            (x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), 96)
            for y in range(height)
            for x in range(width)
        ]
    )
    return img


def pixel_bomb_png(width: int = 13000, height: int = 13000) -> bytes:
    """A valid 1-bit PNG of ``width``×``height`` zeros: ~20 KB on disk, gigabytes once decoded to RGB."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    return handmade_png(png_ihdr(width, height, 1, 0), compressed_rows(row, height, level=9))


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------


def _entries() -> list[tuple[str, str, str, Callable[[], bytes]]]:
    """(name, file name, expected, builder) for every corpus entry."""
    rng = random.Random(1234)
    entries: list[tuple[str, str, str, Callable[[], bytes]]] = []

    def ok(name: str, filename: str, build: Callable[[], bytes], size: tuple[int, int], note: str | None = None) -> None:
        entries.append((name, filename, "ok", build))
        EXPECTED_SIZES[name] = size
        if note:
            EXPECTED_NOTES[name] = note

    def error(name: str, filename: str, build: Callable[[], bytes], message: str | None = None) -> None:
        entries.append((name, filename, "error", build))
        if message:
            EXPECTED_MESSAGES[name] = message

    # ---- ordinary and odd but valid files: must decode -------------------------------------
    ok("png_rgb", "rgb.png", lambda: encoded(gradient_rgb(32, 24), "PNG"), (32, 24))
    ok("png_1x1", "one_pixel.png", lambda: encoded(Image.new("RGB", (1, 1), (9, 8, 7)), "PNG"), (1, 1))
    ok("png_wide_10000x2", "wide.png", lambda: encoded(Image.new("L", (10000, 2), 200), "PNG"), (10000, 2))
    ok("png_tall_2x10000", "tall.png", lambda: encoded(Image.new("L", (2, 10000), 50), "PNG"), (2, 10000))

    def rgba() -> bytes:
        img = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
        img.paste((0, 0, 255, 255), (0, 0, 8, 16))
        return encoded(img, "PNG")

    ok("png_rgba_transparent", "rgba.png", rgba, (16, 16), "transparency composited")
    ok("png_rgba_opaque", "rgba_opaque.png", lambda: encoded(Image.new("RGBA", (8, 8), (1, 2, 3, 255)), "PNG"), (8, 8))
    ok("png_la", "la.png", lambda: encoded(Image.new("LA", (8, 8), (100, 50)), "PNG"), (8, 8), "transparency composited")

    def palette_transparency() -> bytes:
        img = Image.new("P", (8, 8), 0)
        img.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
        img.paste(1, (0, 0, 4, 8))
        return encoded(img, "PNG", transparency=0)

    ok("png_p_transparency", "palette_trns.png", palette_transparency, (8, 8), "transparency composited")
    ok("png_p_opaque", "palette.png", lambda: encoded(gradient_rgb(16, 16).convert("P"), "PNG"), (16, 16))

    def gray16() -> bytes:
        img = Image.new("I;16", (256, 4))
        img.putdata([x * 257 for _ in range(4) for x in range(256)])
        return encoded(img, "PNG")

    ok("png_16bit_gray", "gray16.png", gray16, (256, 4), "16-bit grayscale")
    ok("png_1bit", "bilevel.png", lambda: encoded(Image.new("1", (13, 7), 1), "PNG"), (13, 7))

    def zero_length_chunks() -> bytes:
        ihdr = png_ihdr(4, 4, 8, 0)
        data = zlib.compress(b"".join(b"\x00" + b"\x80" * 4 for _ in range(4)))
        return (
            PNG_SIGNATURE
            + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"zeRo", b"")
            + png_chunk(b"tEXt", b"")
            + png_chunk(b"IDAT", b"")
            + png_chunk(b"IDAT", data[:5])
            + png_chunk(b"IDAT", b"")
            + png_chunk(b"IDAT", data[5:])
            + png_chunk(b"IEND", b"")
        )

    ok("png_zero_length_chunks", "zero_chunks.png", zero_length_chunks, (4, 4))

    def html_polyglot() -> bytes:
        html = b"<html><body><script>alert('polyglot')</script></body></html>"
        ihdr = png_ihdr(4, 4, 8, 0)
        data = zlib.compress(b"".join(b"\x00" + b"\x40" * 4 for _ in range(4)))
        return handmade_png(ihdr, data, before_idat=(png_chunk(b"tEXt", b"Comment\x00" + html),), after_iend=html)

    ok("png_html_polyglot", "polyglot.png", html_polyglot, (4, 4))

    def phone_photo_12mp() -> bytes:
        width, height = 4000, 3000
        row = b"\x00" + bytes((x * 255) // (width - 1) for x in range(width))
        return handmade_png(png_ihdr(width, height, 8, 0), compressed_rows(row, height))

    ok("png_12mp_photo", "phone_photo.png", phone_photo_12mp, (4000, 3000))

    def apng() -> bytes:
        frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
        return encoded(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=50)

    ok("apng_animated", "animated.png", apng, (16, 16), "first of 3 frames")

    ok("jpeg_rgb", "photo.jpg", lambda: encoded(gradient_rgb(48, 32), "JPEG", quality=90), (48, 32))
    ok("jpeg_gray", "gray.jpg", lambda: encoded(Image.new("L", (16, 16), 128), "JPEG"), (16, 16))
    ok("jpeg_progressive", "progressive.jpg", lambda: encoded(gradient_rgb(40, 40), "JPEG", progressive=True), (40, 40))
    ok("jpeg_cmyk", "cmyk.jpg", lambda: encoded(Image.new("CMYK", (16, 16), (255, 0, 0, 0)), "JPEG", quality=95), (16, 16), "CMYK")

    def exif_rotated() -> bytes:
        img = Image.new("RGB", (40, 20), (255, 0, 0))
        img.paste((0, 0, 255), (20, 0, 40, 20))
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90° clockwise to display
        return encoded(img, "JPEG", quality=95, exif=exif.tobytes())

    ok("jpeg_exif_rotated", "rotated.jpg", exif_rotated, (20, 40), "EXIF orientation applied")

    def huge_exif() -> bytes:
        exif = Image.Exif()
        exif[0x010E] = "A" * 60000  # ImageDescription: most of a 64 KB APP1 segment
        return encoded(Image.new("RGB", (16, 16), (0, 128, 0)), "JPEG", exif=exif.tobytes())

    ok("jpeg_huge_exif", "huge_exif.jpg", huge_exif, (16, 16))

    def broken_exif() -> bytes:
        junk = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x01" * 50
        return encoded(Image.new("RGB", (16, 8), (0, 0, 200)), "JPEG", exif=junk)

    ok("jpeg_broken_exif", "broken_exif.jpg", broken_exif, (16, 8))
    ok("jpeg_named_png", "actually_jpeg.png", lambda: encoded(gradient_rgb(20, 10), "JPEG"), (20, 10))

    def mpo() -> bytes:
        frames = [Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 255))]
        return encoded(frames[0], "MPO", save_all=True, append_images=frames[1:])

    ok("jpeg_mpo", "multi_picture.jpg", mpo, (16, 16), "first of 2 frames")

    def animated_gif() -> bytes:
        frames = [Image.new("RGB", (20, 10), (255 - 20 * i, 20 * i, 0)) for i in range(12)]
        return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=40, loop=0)

    ok("gif_animated", "animated.gif", animated_gif, (20, 10), "animated GIF: used the first of 12 frames")
    ok("gif_single", "still.gif", lambda: encoded(gradient_rgb(16, 16).convert("P"), "GIF"), (16, 16))

    def gif_transparent() -> bytes:
        img = Image.new("P", (8, 8), 0)
        img.putpalette([0, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
        img.paste(1, (0, 0, 8, 4))
        return encoded(img, "GIF", transparency=0)

    ok("gif_transparent", "transparent.gif", gif_transparent, (8, 8), "transparency composited")
    ok("webp_lossy", "photo.webp", lambda: encoded(gradient_rgb(32, 32), "WEBP", quality=80), (32, 32))

    def webp_rgba() -> bytes:
        img = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
        img.paste((0, 255, 0, 255), (0, 0, 8, 16))
        return encoded(img, "WEBP", lossless=True)

    ok("webp_rgba", "alpha.webp", webp_rgba, (16, 16), "transparency composited")

    def webp_animated() -> bytes:
        frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255))]
        return encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50, lossless=True)

    ok("webp_animated", "animated.webp", webp_animated, (16, 16), "animated WEBP: used the first of 4 frames")

    # ---- hostile or unusable: must raise ImageInputError ---------------------------------------
    error("png_pixel_bomb", "bomb.png", pixel_bomb_png, "megapixels")
    # A bomb header over garbage data: the size check must fire before any decoding.
    error(
        "png_bomb_header_garbage_data",
        "bomb_garbage.png",
        lambda: handmade_png(png_ihdr(13000, 13000, 8, 2), bytes(rng.randrange(256) for _ in range(2000))),
        "megapixels",
    )
    error(
        "png_huge_header",
        "huge_header.png",
        lambda: handmade_png(png_ihdr(100000, 100000, 8, 2), zlib.compress(b"\x00" * 64)),
        "too large",
    )
    error("png_zero_width", "zero_width.png", lambda: handmade_png(png_ihdr(0, 10), zlib.compress(b"\x00")))
    error(
        "png_bad_bit_depth",
        "bit_depth_3.png",
        lambda: handmade_png(png_ihdr(4, 4, 3, 0), zlib.compress(b"\x00" * 20)),
    )

    def truncated_png() -> bytes:
        data = encoded(Image.effect_noise((64, 64), 60).convert("RGB"), "PNG")
        return data[: len(data) // 2]

    error("png_truncated", "truncated.png", truncated_png, "truncated")
    error("png_truncated_header", "cut_header.png", lambda: encoded(gradient_rgb(8, 8), "PNG")[:20])
    error("png_signature_only", "signature.png", lambda: PNG_SIGNATURE)

    def bad_crc_ihdr() -> bytes:
        data = zlib.compress(b"".join(b"\x00" + b"\x80" * 4 for _ in range(4)))
        return (
            PNG_SIGNATURE
            + png_chunk(b"IHDR", png_ihdr(4, 4), bad_crc=True)
            + png_chunk(b"IDAT", data)
            + png_chunk(b"IEND", b"")
        )

    error("png_bad_crc", "bad_crc.png", bad_crc_ihdr)

    def text_bomb() -> bytes:
        payload = zlib.compress(b"A" * 30_000_000, 9)  # 30 MB of text in a ~30 KB zTXt chunk
        data = zlib.compress(b"".join(b"\x00" + b"\x80" * 4 for _ in range(4)))
        return handmade_png(png_ihdr(4, 4), data, before_idat=(png_chunk(b"zTXt", b"Comment\x00\x00" + payload),))

    error("png_ztxt_bomb", "text_bomb.png", text_bomb)

    def truncated_jpeg() -> bytes:
        data = encoded(Image.effect_noise((64, 64), 60).convert("RGB"), "JPEG")
        return data[: len(data) // 2]

    error("jpeg_truncated", "truncated.jpg", truncated_jpeg, "truncated")
    error("jpeg_soi_eoi_only", "empty_markers.jpg", lambda: b"\xff\xd8\xff\xd9")

    def jpeg_huge_dimensions() -> bytes:
        data = bytearray(encoded(Image.new("RGB", (8, 8), (255, 0, 0)), "JPEG"))
        sof = data.index(b"\xff\xc0")
        data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
        return bytes(data)

    error("jpeg_huge_dimensions", "huge.jpg", jpeg_huge_dimensions, "too large")

    def jpeg_over_limit() -> bytes:  # 9000×9000 = 81 MP: under Pillow's limit, over ours
        data = bytearray(encoded(Image.new("RGB", (8, 8), (255, 0, 0)), "JPEG"))
        sof = data.index(b"\xff\xc0")
        data[sof + 5 : sof + 9] = struct.pack(">HH", 9000, 9000)
        return bytes(data)

    error("jpeg_81mp_header", "big_header.jpg", jpeg_over_limit, "megapixels")
    error(
        "gif_zero_frames",
        "no_frames.gif",
        lambda: b"GIF89a" + struct.pack("<HH", 10, 10) + b"\x00\x00\x00" + b"\x3b",
    )

    def gif_huge_screen() -> bytes:
        data = bytearray(encoded(Image.new("P", (4, 4), 1), "GIF"))
        data[6:10] = struct.pack("<HH", 65535, 65535)
        return bytes(data)

    error("gif_huge_screen", "huge_screen.gif", gif_huge_screen, "too large")

    def truncated_gif() -> bytes:
        frames = [Image.effect_noise((64, 64), 40).convert("P") for _ in range(3)]
        data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
        return data[: len(data) // 5]

    error("gif_truncated", "truncated.gif", truncated_gif, "truncated")

    def truncated_webp() -> bytes:
        data = encoded(Image.effect_noise((64, 64), 40).convert("RGB"), "WEBP")
        return data[: len(data) // 2]

    error("webp_truncated", "truncated.webp", truncated_webp)
    error("empty_file", "empty.png", lambda: b"", "empty")
    error("text_named_png", "notes.png", lambda: b"this is not an image\njust some text\n" * 4, "text")
    error("random_bytes", "noise.png", lambda: bytes(rng.randrange(256) for _ in range(4096)))
    error(
        "svg_named_png",
        "vector.png",
        lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10"/></svg>',
        "svg",
    )
    error(
        "html_with_png_inside",
        "page.png",
        lambda: b"<!DOCTYPE html><html><body>" + encoded(Image.new("RGB", (4, 4)), "PNG") + b"</body></html>",
        "html",
    )
    error("bmp", "image.bmp", lambda: encoded(gradient_rgb(8, 8), "BMP"), "bmp")
    error("bmp_named_png", "bitmap.png", lambda: encoded(gradient_rgb(8, 8), "BMP"), "bmp")
    error("tiff", "scan.tiff", lambda: encoded(gradient_rgb(8, 8), "TIFF"), "tiff")
    error("tiff_float", "depth.tif", lambda: encoded(Image.new("F", (8, 8), 0.5), "TIFF"), "tiff")
    error("ico", "favicon.ico", lambda: encoded(gradient_rgb(16, 16), "ICO"), "ico")
    error(
        "psd_header",
        "layers.psd",
        lambda: b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 16, 16, 8, 3) + b"\x00" * 64,
        "psd",
    )
    error("pdf_named_png", "document.png", lambda: b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "pdf")
    return entries


def corpus_index() -> list[tuple[str, str]]:
    """``(name, expected)`` for every entry, without building any file (for ``pytest.mark.parametrize``)."""
    return [(name, expected) for name, _filename, expected, _build in _entries()]


def hostile_corpus(tmp_dir: str | os.PathLike[str]) -> list[tuple[str, Path, str]]:
    """Write every corpus file under ``tmp_dir`` and return ``(name, path, "ok" | "error")`` triples."""
    root = Path(tmp_dir)
    root.mkdir(parents=True, exist_ok=True)
    corpus = []
    for name, filename, expected, build in _entries():
        folder = root / name  # one folder per entry: several entries share a file name on purpose
        folder.mkdir(exist_ok=True)
        path = folder / filename
        path.write_bytes(build())
        corpus.append((name, path, expected))
    return corpus


if __name__ == "__main__":  # python tests/hostile_images.py OUT_DIR : write the corpus for manual checks
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "hostile_corpus"
    for entry_name, entry_path, entry_expected in hostile_corpus(out):
        print(f"{entry_expected:5}  {entry_name:30}  {entry_path} ({entry_path.stat().st_size} bytes)")


_entries()  # fill EXPECTED_SIZES / EXPECTED_NOTES / EXPECTED_MESSAGES at import (builders do not run)
