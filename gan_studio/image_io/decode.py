"""Hardened decoding of untrusted image files (:func:`load_image`) and mode conversion (:func:`ensure_rgb`).

Only the decoders in :data:`ALLOWED_FORMATS` are enabled (Pillow registers ~43 by default).
The pixel count is read from the header and checked against ``max_pixels`` *before* any pixel
data is decoded, so a 20 KB PNG that claims 13000×13000 pixels is refused in milliseconds.
Every failure (truncated, empty, unknown format, corrupt, too large) becomes
:class:`~gan_studio.errors.ImageInputError` with a message that names the file.
The result is an 8-bit RGB image plus a list of human-readable notes about what was done
to it (first frame of an animation, transparency composited, 16-bit scaled, CMYK converted,
EXIF orientation applied); with ``keep_alpha=True`` an image with transparency comes back as
``RGBA`` instead, for the image tasks that give their result the input's alpha.

Transparency for the image tasks is split off and put back here too: :func:`split_alpha` gives the
model its input composited onto white (exactly what :func:`ensure_rgb` gives) and the alpha
channel; :func:`join_alpha` attaches that alpha to the output, with fully transparent pixels set to
the same white, so their colour is defined rather than whatever the model produced there.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageInputError

logger = logging.getLogger(__name__)

__all__ = [
    "ALLOWED_FORMATS",
    "DEFAULT_MAX_ANIMATION_PIXELS",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_PIXELS",
    "PROVENANCE_KEY",
    "WHITE",
    "Animation",
    "check_background",
    "ensure_rgb",
    "is_animated_gif",
    "join_alpha",
    "load_animation",
    "load_image",
    "provenance_text",
    "split_alpha",
    "transparency",
]

#: The only decoders :func:`load_image` enables.
ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF")
#: Default pixel budget: a 12 MP phone photo passes, a 13000×13000 "bomb" (169 MP) does not.
DEFAULT_MAX_PIXELS = 40_000_000

_ALLOWED_TEXT = ", ".join(ALLOWED_FORMATS)
#: The ``info`` key under which a decoded image keeps the studio provenance of its file (the PNG text
#: chunk ``gan_studio``, or the comment of a GIF the studio wrote): the only metadata that survives
#: decoding, so a result sent on to the next task records the steps before it (see gan_studio.metadata).
PROVENANCE_KEY = "gan_studio"
_MAX_PROVENANCE_CHARS = 1 << 20
#: Most frames :func:`load_animation` decodes from one GIF.
DEFAULT_MAX_FRAMES = 500
#: Most pixels (frames × width × height) :func:`load_animation` decodes from one GIF.
DEFAULT_MAX_ANIMATION_PIXELS = 200_000_000
#: The default background transparency is composited onto (and grids are filled with).
WHITE = (255, 255, 255)

# EXIF orientation value -> what applying it does, for the notes.
_ORIENTATION_TEXT = {
    2: "mirrored horizontally",
    3: "rotated 180°",
    4: "flipped vertically",
    5: "transposed",
    6: "rotated 90° clockwise",
    7: "transversed",
    8: "rotated 90° counter-clockwise",
}

# Magic bytes of formats we do not accept, to tell the user what they gave us.
_KNOWN_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"BM", "BMP"),
    (0, b"8BPS", "PSD (Photoshop)"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"\x00\x00\x02\x00", "CUR"),
    (0, b"%PDF", "PDF"),
    (0, b"\xffO\xffQ", "JPEG 2000"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"qoif", "QOI"),
    (0, b"DDS ", "DDS"),
    (0, b"gimp xcf", "GIMP XCF"),
    (4, b"ftypavif", "AVIF"),
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (0, b"PK\x03\x04", "ZIP archive"),
)


def _describe_unknown(head: bytes) -> str:
    """A short guess at what a file that no allowed decoder accepted actually is."""
    for offset, magic, label in _KNOWN_SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            article = "an" if label[0] in "AEIOU" else "a"
            return f"it looks like {article} {label} file, which is not accepted"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<svg", b"<?xml")) or b"<svg" in stripped[:512]:
        return "it looks like an SVG/XML document, which is not accepted (export it as PNG)"
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "it looks like an HTML document, not an image"
    if head and all(32 <= c < 127 or c in (9, 10, 13) for c in head[:512]):
        return "it looks like a text file, not an image"
    return "it is not a recognised image format"


def _open_source(source: Any, name: str | None) -> tuple[BinaryIO, str, bool]:
    """Return ``(file object, display name, we_own_it)`` for any accepted ``source`` type."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        display = name or "uploaded image"
        if not data:
            raise ImageInputError(f"{display}: the image data is empty; expected one of: {_ALLOWED_TEXT}")
        return io.BytesIO(data), display, True
    if isinstance(source, (str, os.PathLike)):
        path = Path(os.fspath(source))
        display = name or path.name or str(path)
        if not path.exists():
            raise ImageInputError(f"{display}: no such file ({str(path)!r})")
        if not path.is_file():
            raise ImageInputError(f"{display}: not a regular file ({str(path)!r})")
        try:
            if path.stat().st_size == 0:
                raise ImageInputError(f"{display}: the file is empty; expected an image in one of: {_ALLOWED_TEXT}")
            return open(path, "rb"), display, True  # closed by load_image
        except OSError as exc:
            raise ImageInputError(f"{display}: cannot read the file ({exc.strerror or exc})") from None
    if hasattr(source, "read"):
        display = name or os.path.basename(str(getattr(source, "name", "") or "")) or "uploaded image"
        fp = source
        seekable = getattr(fp, "seekable", None)
        if not (callable(seekable) and seekable()):
            fp = io.BytesIO(fp.read())
            return fp, display, True
        return fp, display, False
    raise TypeError(
        f"load_image() takes a path, bytes or a binary file object, not {type(source).__name__}"
    )


def load_image(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = WHITE,
    name: str | None = None,
    keep_alpha: bool = False,
) -> tuple[Image.Image, list[str]]:
    """Decode an untrusted image into an 8-bit RGB ``PIL.Image`` and notes on what was done.

    ``source`` is a path, the file's bytes, or a binary file object. Only :data:`ALLOWED_FORMATS`
    are decoded; the pixel count is checked against ``max_pixels`` from the header, before any
    pixel data is decoded. Animated GIF/WebP/PNG give their first frame; transparency is
    composited onto ``background`` (RGB, default white); 16-bit grayscale is scaled to 8 bits;
    CMYK is converted; the EXIF orientation is applied. ``name`` is the file name used in notes
    and messages (defaults to the path's basename, or "uploaded image" for bytes).

    ``keep_alpha=True``: an image with transparency (``RGBA``, ``LA``, ``PA``, ``P`` with a
    transparent colour or an RGBA palette) that has at least one pixel that is not fully opaque
    comes back as 8-bit ``RGBA`` instead of being composited (``background`` is then not used);
    the image tasks split the alpha off with :func:`split_alpha` and give it back to their output.
    A fully opaque alpha channel carries nothing and is dropped as usual.

    Returns ``(image, notes)``; the image is detached from the file and carries no metadata but
    the studio's own provenance (``image.info[PROVENANCE_KEY]``, the JSON text a studio PNG or GIF
    carries; see :data:`PROVENANCE_KEY`).
    Raises :class:`ImageInputError` for anything that is not a usable image.
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    background = check_background(background)
    fp, display, owned = _open_source(source, name)
    try:
        return _decode(fp, display, max_pixels, background, owned, keep_alpha)
    finally:
        if owned:
            fp.close()


def check_background(background: Sequence[int]) -> tuple[int, int, int]:
    """``background`` as an ``(R, G, B)`` tuple of ints in 0..255; ``ValueError`` otherwise."""
    try:
        values = tuple(int(v) for v in background)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f"background must be an (R, G, B) tuple of ints in 0..255, got {background!r}")
    return values[0], values[1], values[2]


def _decode(
    fp: BinaryIO, display: str, max_pixels: int, background: tuple[int, int, int], owned: bool, keep_alpha: bool
) -> tuple[Image.Image, list[str]]:
    start = fp.tell()
    head = fp.read(512)
    if not head:
        raise ImageInputError(f"{display}: the file is empty; expected an image in one of: {_ALLOWED_TEXT}")
    fp.seek(start)

    pillow_limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # Decoders warn about every odd detail of hostile files (corrupt EXIF, ...): the notes and
        # the errors say what matters. Pillow's DecompressionBombWarning (between MAX_IMAGE_PIXELS
        # and twice that) means "too large" for us too, unless the caller raised max_pixels above
        # Pillow's limit, in which case our own check decides.
        warnings.simplefilter("ignore")
        if pillow_limit is not None and max_pixels <= pillow_limit:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(fp, formats=ALLOWED_FORMATS)
        except UnidentifiedImageError:
            raise ImageInputError(
                f"{display}: cannot read this file as an image ({_describe_unknown(head)}); "
                f"allowed formats: {_ALLOWED_TEXT}"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageInputError(_too_large_message(display, str(exc), max_pixels)) from None
        except MemoryError:
            raise ImageInputError(f"{display}: not enough memory to open this image") from None
        except Exception as exc:  # noqa: BLE001 - decoders raise ValueError, OSError, EOFError, struct.error, ...
            raise ImageInputError(
                f"{display}: the file is corrupt or not a valid image ({type(exc).__name__}: {exc}); "
                f"allowed formats: {_ALLOWED_TEXT}"
            ) from None
        try:
            return _finish(im, display, max_pixels, background, keep_alpha)
        finally:
            if owned:  # ImageFile.close() also closes the file object: never a caller's
                im.close()


def _pixels_text(n: int) -> str:
    return f"{n / 1e6:.1f} megapixels" if n >= 1_000_000 else f"{n:,} pixels"


def _too_large_message(display: str, pillow_message: str, max_pixels: int) -> str:
    match = re.search(r"\((\d+) pixels\)", pillow_message)
    claimed = _pixels_text(int(match.group(1))) if match else "more pixels than allowed"
    return (
        f"{display}: the header declares {claimed}, too large to decode safely (a decompression "
        f"bomb?); the limit is {_pixels_text(max_pixels)}, downscale the image and try again"
    )


def _finish(im: Image.Image, display: str, max_pixels: int, background: tuple[int, int, int],
            keep_alpha: bool = False) -> tuple[Image.Image, list[str]]:
    fmt = im.format or "image"
    width, height = im.size
    if width < 1 or height < 1:
        raise ImageInputError(f"{display}: the {fmt} header declares an empty image ({width}×{height})")
    if width * height > max_pixels:
        raise ImageInputError(
            f"{display}: {width}×{height} pixels ({_pixels_text(width * height)}) is above the "
            f"limit of {_pixels_text(max_pixels)}; downscale the image and try again"
        )

    notes: list[str] = []
    try:
        n_frames = int(getattr(im, "n_frames", 1) or 1)
        if n_frames > 1:
            kind = "multi-picture JPEG" if fmt == "MPO" else f"animated {fmt}"
            notes.append(f"{kind}: used the first of {n_frames} frames")
            im.seek(0)
        im.load()
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(_too_large_message(display, str(exc), max_pixels)) from None
    except MemoryError:
        raise ImageInputError(f"{display}: not enough memory to decode this {width}×{height} image") from None
    except Exception as exc:  # noqa: BLE001 - truncated data, broken streams: OSError, SyntaxError, EOFError, ...
        raise ImageInputError(
            f"{display}: the {fmt} data is truncated or corrupt ({type(exc).__name__}: {exc}); "
            f"allowed formats: {_ALLOWED_TEXT}"
        ) from None

    oriented = _apply_exif_orientation(im, display, notes)
    rgba = _transparent_rgba(oriented) if keep_alpha else None
    if rgba is not None:
        rgb: Image.Image = rgba
        notes.append("transparency kept: the result gets this image's alpha channel")
    else:
        rgb, mode_notes = ensure_rgb(oriented, background=background)
        notes.extend(mode_notes)
    if rgb is im:
        rgb = im.copy()
    kept = provenance_text(im)
    rgb.info = {} if kept is None else {PROVENANCE_KEY: kept}
    for note in notes:
        logger.debug("%s: %s", display, note)
    return rgb, notes


def _apply_exif_orientation(im: Image.Image, display: str, notes: list[str]) -> Image.Image:
    """Apply the EXIF (or XMP) orientation with :func:`PIL.ImageOps.exif_transpose`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on every malformed EXIF block
            orientation = int(im.getexif().get(0x0112, 1) or 1)
    except Exception as exc:  # noqa: BLE001 - malformed EXIF blocks raise all sorts of things
        logger.info("%s: unreadable EXIF data (%s); orientation not applied", display, exc)
        notes.append("EXIF data unreadable: orientation not applied")
        return im
    if orientation not in _ORIENTATION_TEXT:
        return im
    try:
        turned = ImageOps.exif_transpose(im)
    except Exception as exc:  # noqa: BLE001 - as above: a bad EXIF block must not lose the image
        logger.info("%s: could not apply EXIF orientation %d (%s)", display, orientation, exc)
        notes.append(f"EXIF orientation {orientation} could not be applied")
        return im
    notes.append(f"EXIF orientation applied ({_ORIENTATION_TEXT[orientation]})")
    return turned if turned is not None else im


def ensure_rgb(
    img: Image.Image, *, background: tuple[int, int, int] = WHITE
) -> tuple[Image.Image, list[str]]:
    """Convert any Pillow mode to 8-bit RGB without the usual surprises; return ``(image, notes)``.

    * alpha (``RGBA``, ``LA``, ``PA``, ``P`` with transparency) is composited onto ``background``,
      not dropped;
    * 16-bit grayscale (``I;16*``, and ``I`` holding 0..65535) maps 0..65535 to 0..255
      (``round(v / 257)``), not clipped to white; other ``I`` images are scaled by their range;
    * ``F`` in [0, 1] is multiplied by 255, otherwise scaled by its range;
    * ``CMYK`` is converted (no colour management), ``1``/``L``/``P`` expanded.

    The input image is not modified; an RGB input is returned as is.
    """
    background = check_background(background)
    mode = img.mode
    notes: list[str] = []
    if mode == "RGB":
        return img, notes
    if mode in ("L", "1", "YCbCr", "HSV"):
        return img.convert("RGB"), notes
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
        return img.convert("RGB"), notes
    if mode.startswith("I;16") or mode == "I":
        gray, note = _wide_gray_to_l(img)
        notes.append(note)
        return gray.convert("RGB"), notes
    if mode == "F":
        gray, note = _float_to_l(img)
        notes.append(note)
        return gray.convert("RGB"), notes
    if mode == "P" and not _can_carry_alpha(img):
        return img.convert("RGB"), notes
    if _can_carry_alpha(img):
        rgba = _to_rgba(img)
        alpha = rgba.getchannel("A")
        if alpha.getextrema()[0] == 255:  # fully opaque: nothing to composite
            return rgba.convert("RGB"), notes
        notes.append(f"transparency composited onto {_background_text(background)}")
        return _composite(rgba, alpha, background), notes
    try:
        return img.convert("RGB"), notes
    except ValueError as exc:
        raise ImageInputError(f"cannot convert image mode {mode!r} to RGB ({exc})") from None


def _can_carry_alpha(img: Image.Image) -> bool:
    """Whether ``img``'s mode holds transparency: an alpha band, or a palette with a transparent
    colour or RGBA entries."""
    mode = img.mode
    if "A" in mode or "a" in mode or (mode == "P" and "transparency" in img.info):
        return True
    return mode == "P" and img.palette is not None and img.palette.mode == "RGBA"


def _to_rgba(img: Image.Image) -> Image.Image:
    try:
        return img.convert("RGBA")
    except ValueError as exc:
        raise ImageInputError(f"cannot convert image mode {img.mode!r} to RGB ({exc})") from None


def _transparent_rgba(img: Image.Image) -> Image.Image | None:
    """``img`` as ``RGBA`` if it has at least one pixel that is not fully opaque, else ``None``."""
    if not _can_carry_alpha(img):
        return None
    rgba = img if img.mode == "RGBA" else _to_rgba(img)
    lowest = rgba.getchannel("A").getextrema()[0]  # an L band: (min, max) ints
    return rgba if isinstance(lowest, int) and lowest < 255 else None


def _composite(rgba: Image.Image, alpha: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    out = Image.new("RGB", rgba.size, background)
    out.paste(rgba.convert("RGB"), (0, 0), alpha)
    return out


def _background_text(background: tuple[int, int, int]) -> str:
    return "white" if background == WHITE else f"RGB{background}"


def transparency(img: Image.Image) -> Image.Image | None:
    """The alpha channel of ``img`` (mode ``L``) if it has any pixel that is not fully opaque, else ``None``.

    Modes that hold transparency: ``RGBA``, ``LA``, ``PA``, ``RGBa``, ``La``, and ``P`` with a
    transparent colour or an RGBA palette. Every other mode (and an all-255 alpha) gives ``None``.
    """
    rgba = _transparent_rgba(img)
    return None if rgba is None else rgba.getchannel("A")


def split_alpha(
    img: Image.Image, *, background: tuple[int, int, int] = WHITE
) -> tuple[Image.Image, Image.Image | None]:
    """Split ``img`` into what a model sees and its alpha: ``(image, alpha or None)``.

    An image with transparency (see :func:`transparency`) gives ``(RGB composited onto
    ``background``, alpha as mode ``L``)``; the RGB is exactly what :func:`ensure_rgb` makes of
    ``img``. Any other image is returned as is, with ``None``, so an opaque input takes exactly
    the path it took before.
    """
    background = check_background(background)
    rgba = _transparent_rgba(img)
    if rgba is None:
        return img, None
    alpha = rgba.getchannel("A")
    return _composite(rgba, alpha, background), alpha


def join_alpha(
    img: Image.Image, alpha: Image.Image, *, background: tuple[int, int, int] = WHITE
) -> Image.Image:
    """``img`` (``RGB`` or ``L``; other modes go through :func:`ensure_rgb`) with ``alpha`` attached:
    ``RGBA`` (``LA`` for ``L``).

    ``alpha`` (mode ``L``) must have ``img``'s size. The colour under fully transparent pixels
    (alpha 0) is set to ``background`` (default white, the colour a model saw there after
    :func:`split_alpha`), so it is defined instead of whatever the model produced; partly
    transparent pixels keep the model's colour (straight, not premultiplied, alpha).
    """
    background = check_background(background)
    if alpha.mode != "L":
        raise ValueError(f"alpha must be a mode 'L' image, got mode {alpha.mode!r}")
    if alpha.size != img.size:
        raise ValueError(f"alpha is {alpha.size[0]}×{alpha.size[1]} but the image is {img.size[0]}×{img.size[1]}; "
                         f"resize the alpha first")
    if img.mode not in ("RGB", "L"):
        img = ensure_rgb(img)[0]
    clear = alpha.point(lambda v: 255 if v == 0 else 0)  # where the colour is replaced
    fill = background if img.mode == "RGB" else round(0.299 * background[0] + 0.587 * background[1]
                                                        + 0.114 * background[2])
    clean = img.copy()
    clean.paste(fill, (0, 0, *img.size), clear)
    clean.putalpha(alpha)
    return clean


def _wide_gray_to_l(img: Image.Image) -> tuple[Image.Image, str]:
    arr = np.asarray(img)
    values = arr.astype(np.int64)
    if img.mode.startswith("I;16") or (values.size and values.min() >= 0 and values.max() <= 65535):
        scaled = (values + 128) // 257  # == round(v / 257) for 0..65535, exact at 0 and 65535
        note = "16-bit grayscale scaled to 8 bits"
    else:
        lo, hi = int(values.min()), int(values.max())
        span = max(hi - lo, 1)
        scaled = np.rint((values - lo) * (255.0 / span))
        note = f"32-bit integer grayscale scaled from its range [{lo}, {hi}] to 8 bits"
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8)), note


def _float_to_l(img: Image.Image) -> tuple[Image.Image, str]:
    arr = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if lo >= 0.0 and hi <= 1.0:
        scaled = arr * 255.0
        note = "32-bit float image scaled from [0, 1] to 8 bits"
    else:
        scaled = (arr - lo) * (255.0 / (hi - lo if hi > lo else 1.0))
        note = f"32-bit float image scaled from its range [{lo:.4g}, {hi:.4g}] to 8 bits"
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8)), note


def provenance_text(im: Image.Image) -> str | None:
    """The studio provenance text an opened image file carries (PNG text chunk ``gan_studio``, GIF
    comment holding a JSON object), or ``None``; never more than 1 MB. Not validated here: see
    :func:`gan_studio.metadata.image_provenance`."""
    value: Any = im.info.get(PROVENANCE_KEY) if im.format == "PNG" else None
    if value is None and im.format == "GIF":
        value = im.info.get("comment")
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str) or len(value) > _MAX_PROVENANCE_CHARS or not value.lstrip().startswith("{"):
        return None
    return str(value)


@dataclass
class Animation:
    """The frames of an animated GIF, decoded like :func:`load_image`'s images, with their timing.

    ``durations``: milliseconds each frame shows; ``loop``: the GIF's loop count (0 = forever,
    ``None`` = no loop extension: plays once); ``provenance``: the studio provenance text the file
    carried (a GIF the studio wrote), else ``None``."""

    frames: list[Image.Image]
    durations: list[int]
    loop: int | None = 0
    provenance: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def pixels(self) -> int:
        """Frames × width × height."""
        return sum(f.width * f.height for f in self.frames)


def is_animated_gif(source: str | os.PathLike[str] | bytes) -> bool:
    """Whether ``source`` (a path or the file's bytes) is a GIF with more than one frame. Reads the
    header and walks the frame blocks without decoding pixels; anything unreadable is ``False``
    (the decoder then says what is wrong)."""
    try:
        fp, _display, owned = _open_source(source, None)
    except (ImageInputError, TypeError):
        return False
    try:
        if not fp.read(6).startswith((b"GIF87a", b"GIF89a")):
            return False
        fp.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(fp, formats=("GIF",)) as im:
                return bool(getattr(im, "is_animated", False))
    except Exception:  # noqa: BLE001 - a broken file is "not animated"; load_image reports it
        return False
    finally:
        if owned:
            fp.close()


def load_animation(
    source: str | os.PathLike[str] | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_total_pixels: int = DEFAULT_MAX_ANIMATION_PIXELS,
    background: tuple[int, int, int] = WHITE,
    name: str | None = None,
    keep_alpha: bool = False,
) -> Animation:
    """Decode every frame of an animated GIF (frames composited as a viewer shows them, in RGB, or
    RGBA with ``keep_alpha`` where a frame has transparency), with each frame's duration and the loop
    count. The caps are checked from the header and the frame count before any frame is decoded:
    ``max_pixels`` per frame, ``max_frames``, and ``max_total_pixels`` (frames × pixels). Any other
    file is decoded by :func:`load_image` into a one-frame animation (duration 0, ``loop`` None).
    Failures are :class:`ImageInputError` naming the file."""
    fp, display, owned = _open_source(source, name)
    try:
        start = fp.tell()
        is_gif = fp.read(6).startswith((b"GIF87a", b"GIF89a"))
        fp.seek(start)
        if not is_gif:
            image, notes = _decode(fp, display, max_pixels, check_background(background), owned, keep_alpha)
            return Animation([image], [0], None, image.info.get(PROVENANCE_KEY), notes)
        return _decode_gif(fp, display, max_pixels, max_frames, max_total_pixels, check_background(background),
                           keep_alpha)
    finally:
        if owned:
            fp.close()


def _decode_gif(fp: BinaryIO, display: str, max_pixels: int, max_frames: int, max_total_pixels: int,
                background: tuple[int, int, int], keep_alpha: bool) -> Animation:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(fp, formats=("GIF",))
        except Exception as exc:  # noqa: BLE001 - decoders raise ValueError, OSError, EOFError, ...
            raise ImageInputError(f"{display}: the GIF is corrupt or not a valid image ({type(exc).__name__}: "
                                  f"{exc})") from None
        try:
            width, height = im.size
            if width < 1 or height < 1:
                raise ImageInputError(f"{display}: the GIF header declares an empty image ({width}×{height})")
            if width * height > max_pixels:
                raise ImageInputError(f"{display}: {width}×{height} pixels ({_pixels_text(width * height)}) is "
                                      f"above the limit of {_pixels_text(max_pixels)}; downscale the image")
            try:
                n_frames = int(getattr(im, "n_frames", 1))
            except Exception as exc:  # noqa: BLE001 - a truncated frame list
                raise ImageInputError(f"{display}: the GIF data is truncated or corrupt ({exc})") from None
            if n_frames > max_frames:
                raise ImageInputError(f"{display}: {n_frames} frames; the limit is {max_frames} frames, shorten "
                                      f"the animation")
            if n_frames * width * height > max_total_pixels:
                raise ImageInputError(
                    f"{display}: {n_frames} frames of {width}×{height} are {_pixels_text(n_frames * width * height)}"
                    f" in all, above the limit of {_pixels_text(max_total_pixels)}; use fewer or smaller frames")
            provenance = provenance_text(im)
            loop_value = im.info.get("loop")
            loop = None if loop_value is None else int(loop_value)
            frames: list[Image.Image] = []
            durations: list[int] = []
            for index in range(n_frames):
                im.seek(index)
                im.load()
                durations.append(int(im.info.get("duration", 0) or 0))
                rgba = _transparent_rgba(im) if keep_alpha else None
                frame = rgba if rgba is not None else ensure_rgb(im, background=background)[0]
                frame = frame.copy() if frame is im else frame
                frame.info = {} if provenance is None else {PROVENANCE_KEY: provenance}
                frames.append(frame)
        except ImageInputError:
            raise
        except MemoryError:
            raise ImageInputError(f"{display}: not enough memory to decode this animation") from None
        except Exception as exc:  # noqa: BLE001 - truncated frames and broken streams
            raise ImageInputError(f"{display}: the GIF data is truncated or corrupt ({type(exc).__name__}: "
                                  f"{exc})") from None
        finally:
            im.close()
    notes = [f"animated GIF: {n_frames} frames, each run through the task"] if n_frames > 1 else []
    return Animation(frames, durations, loop, provenance, notes)
