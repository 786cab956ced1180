"""Every image conversion in gan_studio: decoding uploads safely, PIL <-> tensor, sizes, Lab colour.

Nothing else in the code base converts images by hand; pipelines, the UI and the CLI call in here.

Decoding untrusted files (:func:`load_image`)
    Only the decoders in :data:`ALLOWED_FORMATS` are enabled (Pillow registers ~43 by default).
    The pixel count is read from the header and checked against ``max_pixels`` *before* any pixel
    data is decoded, so a 20 KB PNG that claims 13000×13000 pixels is refused in milliseconds.
    Every failure (truncated, empty, unknown format, corrupt, too large) becomes
    :class:`~gan_studio.errors.ImageInputError` with a message that names the file.
    The result is always an 8-bit RGB image plus a list of human-readable notes about what was done
    to it (first frame of an animation, transparency composited, 16-bit scaled, CMYK converted,
    EXIF orientation applied).

Tensors
    Images are ``float32`` tensors ``(N, C, H, W)`` in ``[-1, 1]`` (:func:`pil_to_tensor`,
    :func:`tensor_to_pil`). The colorizer works in CIE Lab (sRGB, D65, 2° observer, the same
    formulas as ``skimage.color.rgb2lab``/``lab2rgb``) with ``L/50 - 1`` and ``ab/110`` scaling.

torch is imported lazily inside the functions that need it: importing this module only costs
PIL and numpy.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps

from .errors import ImageInputError

if TYPE_CHECKING:  # pragma: no cover
    import torch

logger = logging.getLogger(__name__)

__all__ = [
    "ALLOWED_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "center_crop",
    "denormalize_ab",
    "denormalize_l",
    "ensure_rgb",
    "gif_bytes",
    "lab_to_rgb",
    "load_image",
    "make_grid",
    "merge_lab",
    "normalize_ab",
    "normalize_l",
    "pil_to_tensor",
    "resize",
    "rgb_to_lab",
    "save_gif",
    "split_luminance",
    "tensor_to_pil",
    "working_size",
]

#: The only decoders :func:`load_image` enables.
ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "GIF")
#: Default pixel budget: a 12 MP phone photo passes, a 13000×13000 "bomb" (169 MP) does not.
DEFAULT_MAX_PIXELS = 40_000_000

_ALLOWED_TEXT = ", ".join(ALLOWED_FORMATS)
_WHITE = (255, 255, 255)

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


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------


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
            return open(path, "rb"), display, True  # noqa: SIM115 - closed by load_image
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
    background: tuple[int, int, int] = _WHITE,
    name: str | None = None,
) -> tuple[Image.Image, list[str]]:
    """Decode an untrusted image into an 8-bit RGB ``PIL.Image`` and notes on what was done.

    ``source`` is a path, the file's bytes, or a binary file object. Only :data:`ALLOWED_FORMATS`
    are decoded; the pixel count is checked against ``max_pixels`` from the header, before any
    pixel data is decoded. Animated GIF/WebP/PNG give their first frame; transparency is
    composited onto ``background`` (RGB, default white); 16-bit grayscale is scaled to 8 bits;
    CMYK is converted; the EXIF orientation is applied. ``name`` is the file name used in notes
    and messages (defaults to the path's basename, or "uploaded image" for bytes).

    Returns ``(image, notes)``; the image is detached from the file and carries no metadata.
    Raises :class:`ImageInputError` for anything that is not a usable image.
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    background = _check_background(background)
    fp, display, owned = _open_source(source, name)
    try:
        return _decode(fp, display, max_pixels, background, owned)
    finally:
        if owned:
            fp.close()


def _check_background(background: Sequence[int]) -> tuple[int, int, int]:
    try:
        values = tuple(int(v) for v in background)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f"background must be an (R, G, B) tuple of ints in 0..255, got {background!r}")
    return values  # type: ignore[return-value]


def _decode(
    fp: BinaryIO, display: str, max_pixels: int, background: tuple[int, int, int], owned: bool
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
        except Image.UnidentifiedImageError:
            raise ImageInputError(
                f"{display}: cannot read this file as an image ({_describe_unknown(head)}); "
                f"allowed formats: {_ALLOWED_TEXT}"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageInputError(_too_large_message(display, str(exc), max_pixels)) from None
        except MemoryError:
            raise ImageInputError(f"{display}: not enough memory to open this image") from None
        except Exception as exc:  # decoders raise ValueError, OSError, EOFError, struct.error, ...
            raise ImageInputError(
                f"{display}: the file is corrupt or not a valid image ({type(exc).__name__}: {exc}); "
                f"allowed formats: {_ALLOWED_TEXT}"
            ) from None
        try:
            return _finish(im, display, max_pixels, background)
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


def _finish(im: Image.Image, display: str, max_pixels: int, background: tuple[int, int, int]) -> tuple[Image.Image, list[str]]:
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
    except Exception as exc:  # truncated data, broken streams: OSError, SyntaxError, EOFError, ...
        raise ImageInputError(
            f"{display}: the {fmt} data is truncated or corrupt ({type(exc).__name__}: {exc}); "
            f"allowed formats: {_ALLOWED_TEXT}"
        ) from None

    oriented = _apply_exif_orientation(im, display, notes)
    rgb, mode_notes = ensure_rgb(oriented, background=background)
    notes.extend(mode_notes)
    if rgb is im:
        rgb = im.copy()
    rgb.info = {}
    for note in notes:
        logger.debug("%s: %s", display, note)
    return rgb, notes


def _apply_exif_orientation(im: Image.Image, display: str, notes: list[str]) -> Image.Image:
    """Apply the EXIF (or XMP) orientation with :func:`PIL.ImageOps.exif_transpose`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns on every malformed EXIF block
            orientation = int(im.getexif().get(0x0112, 1) or 1)
    except Exception as exc:  # malformed EXIF blocks raise all sorts of things
        logger.info("%s: unreadable EXIF data (%s); orientation not applied", display, exc)
        notes.append("EXIF data unreadable: orientation not applied")
        return im
    if orientation not in _ORIENTATION_TEXT:
        return im
    try:
        turned = ImageOps.exif_transpose(im)
    except Exception as exc:
        logger.info("%s: could not apply EXIF orientation %d (%s)", display, orientation, exc)
        notes.append(f"EXIF orientation {orientation} could not be applied")
        return im
    notes.append(f"EXIF orientation applied ({_ORIENTATION_TEXT[orientation]})")
    return turned if turned is not None else im


def ensure_rgb(
    img: Image.Image, *, background: tuple[int, int, int] = _WHITE
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
    background = _check_background(background)
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
    has_alpha = "A" in mode or "a" in mode or (mode == "P" and "transparency" in img.info)
    if mode == "P" and not has_alpha and not (img.palette is not None and img.palette.mode == "RGBA"):
        return img.convert("RGB"), notes
    if has_alpha or mode == "P":
        try:
            rgba = img.convert("RGBA")
        except ValueError as exc:
            raise ImageInputError(f"cannot convert image mode {mode!r} to RGB ({exc})") from None
        alpha = rgba.getchannel("A")
        if alpha.getextrema()[0] == 255:  # fully opaque: nothing to composite
            return rgba.convert("RGB"), notes
        out = Image.new("RGB", rgba.size, background)
        out.paste(rgba.convert("RGB"), (0, 0), alpha)
        where = "white" if background == _WHITE else f"RGB{background}"
        notes.append(f"transparency composited onto {where}")
        return out, notes
    try:
        return img.convert("RGB"), notes
    except ValueError as exc:
        raise ImageInputError(f"cannot convert image mode {mode!r} to RGB ({exc})") from None


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


# --------------------------------------------------------------------------------------------
# PIL <-> tensor
# --------------------------------------------------------------------------------------------


def pil_to_tensor(images: Image.Image | Sequence[Image.Image], *, channels: int = 3) -> "torch.Tensor":
    """Stack PIL images into a ``float32`` tensor ``(N, C, H, W)`` in ``[-1, 1]``.

    ``channels=3`` gives RGB, ``channels=1`` luminance (Pillow's ``L``). Other modes go through
    :func:`ensure_rgb` first (alpha composited onto white, 16-bit scaled). All images must have
    the same size.
    """
    import torch

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    batch = [images] if isinstance(images, Image.Image) else list(images)
    if not batch:
        raise ValueError("pil_to_tensor() needs at least one image")
    sizes = {im.size for im in batch}
    if len(sizes) > 1:
        raise ValueError(f"images have different sizes {sorted(sizes)}; resize them to one size first")
    arrays = []
    for im in batch:
        if not isinstance(im, Image.Image):
            raise TypeError(f"pil_to_tensor() takes PIL images, not {type(im).__name__}")
        if channels == 1 and im.mode == "L":
            arr = np.asarray(im)[:, :, None]
        else:
            rgb = im if im.mode == "RGB" else ensure_rgb(im)[0]
            arr = np.asarray(rgb.convert("L"))[:, :, None] if channels == 1 else np.asarray(rgb)
        arrays.append(arr)
    stacked = np.ascontiguousarray(np.stack(arrays).transpose(0, 3, 1, 2))
    return torch.from_numpy(stacked).to(torch.float32).div_(127.5).sub_(1.0)


def tensor_to_pil(t: "torch.Tensor") -> list[Image.Image]:
    """Turn ``(N, C, H, W)`` (or ``(C, H, W)``) values in ``[-1, 1]`` into ``L`` (C=1) or ``RGB`` (C=3) images.

    Values are clamped to ``[-1, 1]`` and rounded to the nearest 8-bit level
    (``round((x + 1) * 127.5)``); NaN becomes mid-grey and is logged.
    """
    import torch

    if not isinstance(t, torch.Tensor):
        raise TypeError(f"tensor_to_pil() takes a torch.Tensor, not {type(t).__name__}")
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4 or t.shape[1] not in (1, 3):
        raise ValueError(f"expected a tensor of shape (N, C, H, W) with C in (1, 3), got {tuple(t.shape)}")
    x = t.detach().to(device="cpu", dtype=torch.float32)
    if torch.isnan(x).any():
        logger.warning("tensor_to_pil: %d NaN values replaced by mid-grey", int(torch.isnan(x).sum()))
        x = torch.nan_to_num(x, nan=0.0)
    x = x.clamp(-1.0, 1.0).add(1.0).mul(127.5).round().to(torch.uint8)
    arrays = x.permute(0, 2, 3, 1).contiguous().numpy()
    if arrays.shape[-1] == 1:
        return [Image.fromarray(np.ascontiguousarray(a[:, :, 0])) for a in arrays]
    return [Image.fromarray(a) for a in arrays]


# --------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------


def _round_to_multiple(value: float, multiple: int) -> int:
    return max(multiple, int(math.floor(value / multiple + 0.5)) * multiple)


def working_size(width: int, height: int, *, target: int, multiple: int, side: str = "short") -> tuple[int, int]:
    """The ``(width, height)`` to run a model at: the ``side`` ("short" or "long") scaled to ``target``.

    The aspect ratio is kept; each dimension is rounded to the nearest multiple of ``multiple``
    (and is at least ``multiple``). Use ``side="long"`` to bound the size of very elongated images.

    >>> working_size(4000, 3000, target=256, multiple=8)
    (344, 256)
    """
    for label, value in (("width", width), ("height", height), ("target", target), ("multiple", multiple)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    if side not in ("short", "long"):
        raise ValueError(f"side must be 'short' or 'long', got {side!r}")
    ref = min(width, height) if side == "short" else max(width, height)
    scale = target / ref
    return _round_to_multiple(width * scale, multiple), _round_to_multiple(height * scale, multiple)


def _as_size(size: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        w = h = int(size)
    else:
        try:
            w, h = (int(v) for v in size)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be an int or a (width, height) pair, got {size!r}") from None
    if w < 1 or h < 1:
        raise ValueError(f"{what} must be positive, got {size!r}")
    return w, h


def resize(
    img: Image.Image, size: tuple[int, int] | int, resample: Image.Resampling = Image.Resampling.LANCZOS
) -> Image.Image:
    """Resize to ``size`` = ``(width, height)`` (an int means a square). Returns a new image."""
    w, h = _as_size(size, "size")
    if img.size == (w, h):
        return img.copy()
    return img.resize((w, h), resample=resample)


def center_crop(img: Image.Image, size: int | tuple[int, int]) -> Image.Image:
    """Crop the centre ``size`` (an int means a square; else ``(width, height)``).

    Same placement as ``torchvision.transforms.functional.center_crop`` (offsets
    ``round((W - w) / 2)``); a crop larger than the image pads with black, as torchvision does.
    StarGAN's CelebA pre-processing is ``resize(center_crop(img, 178), 128)``.
    """
    w, h = _as_size(size, "crop size")
    W, H = img.size
    left = -((w - W) // 2) if w > W else int(round((W - w) / 2.0))
    top = -((h - H) // 2) if h > H else int(round((H - h) / 2.0))
    return img.crop((left, top, left + w, top + h))


# --------------------------------------------------------------------------------------------
# Lab colour (sRGB, D65, 2° observer; the formulas of skimage.color)
# --------------------------------------------------------------------------------------------

_XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def _lab_dtype(x: "torch.Tensor") -> "torch.dtype":
    import torch

    if not torch.is_floating_point(x):
        raise TypeError(f"expected a floating-point tensor, got {x.dtype}")
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _check_channels(x: "torch.Tensor", what: str) -> None:
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"{what} must have shape (N, 3, H, W) (or (3, H, W)), got {tuple(x.shape)}")


def _apply_matrix(matrix: np.ndarray, x: "torch.Tensor") -> "torch.Tensor":
    import torch

    m = torch.as_tensor(matrix, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,...jhw->...ihw", m, x)


def rgb_to_lab(rgb: "torch.Tensor") -> "torch.Tensor":
    """sRGB ``(N, 3, H, W)`` in ``[0, 1]`` -> CIE Lab: L in [0, 100], a and b roughly in [-110, 110].

    Matches ``skimage.color.rgb2lab`` (D65, 2°) to float precision; differentiable.
    """
    import torch

    _check_channels(rgb, "rgb")
    dtype = _lab_dtype(rgb)
    x = rgb.to(dtype)
    linear = torch.where(x > 0.04045, ((x.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = _apply_matrix(_XYZ_FROM_RGB, linear)
    white = torch.as_tensor(_D65_WHITE, dtype=dtype, device=x.device).view(3, 1, 1)
    t = xyz / white
    f = torch.where(t > 0.008856, t.clamp(min=0.008856) ** (1.0 / 3.0), 7.787 * t + 16.0 / 116.0)
    fx, fy, fz = f.unbind(dim=-3)
    lab = torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)
    return lab.to(rgb.dtype)


def lab_to_rgb(lab: "torch.Tensor") -> "torch.Tensor":
    """CIE Lab ``(N, 3, H, W)`` -> sRGB in ``[0, 1]`` (clamped). Matches ``skimage.color.lab2rgb``.

    Like skimage, a negative Z (colours far outside the gamut) is clipped to zero.
    """
    import torch

    _check_channels(lab, "lab")
    dtype = _lab_dtype(lab)
    x = lab.to(dtype)
    L, a, b = x.unbind(dim=-3)
    fy = (L + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = (fy - b / 200.0).clamp(min=0.0)
    f = torch.stack((fx, fy, fz), dim=-3)
    t = torch.where(f > 0.2068966, f**3, (f - 16.0 / 116.0) / 7.787)
    white = torch.as_tensor(_D65_WHITE, dtype=dtype, device=x.device).view(3, 1, 1)
    linear = _apply_matrix(_RGB_FROM_XYZ, t * white)
    rgb = torch.where(
        linear > 0.0031308, 1.055 * linear.clamp(min=0.0031308) ** (1.0 / 2.4) - 0.055, linear * 12.92
    )
    return rgb.clamp(0.0, 1.0).to(lab.dtype)


def normalize_l(L: Any) -> Any:
    """L* in [0, 100] -> the colorizer's input scale [-1, 1] (``L / 50 - 1``)."""
    return L / 50.0 - 1.0


def denormalize_l(L: Any) -> Any:
    """Inverse of :func:`normalize_l`."""
    return (L + 1.0) * 50.0


def normalize_ab(ab: Any) -> Any:
    """a*, b* -> the colorizer's output scale (``ab / 110``)."""
    return ab / 110.0


def denormalize_ab(ab: Any) -> Any:
    """Inverse of :func:`normalize_ab`."""
    return ab * 110.0


#: Rows converted at a time by :func:`split_luminance` and :func:`merge_lab`: the colour maths runs
#: on bands, so a 12 MP photo needs a few bands' worth of float memory, not ~100 MB per megapixel.
LAB_BAND_ROWS = 256


def split_luminance(img: Image.Image) -> "torch.Tensor":
    """The normalised luminance ``L / 50 - 1`` of an image as a ``(1, 1, H, W)`` float32 tensor."""
    import torch

    arr = np.asarray(img.convert("RGB"))
    out = torch.empty((1, 1, arr.shape[0], arr.shape[1]), dtype=torch.float32)
    for y in range(0, arr.shape[0], LAB_BAND_ROWS):
        band = torch.from_numpy(np.array(arr[y:y + LAB_BAND_ROWS])).permute(2, 0, 1)[None]  # writable copy
        out[:, :, y:y + LAB_BAND_ROWS] = normalize_l(rgb_to_lab(band.to(torch.float32).div_(255.0))[:, :1])
    return out


def merge_lab(L_full: "torch.Tensor", ab_full: "torch.Tensor") -> Image.Image:
    """Combine normalised ``L`` ``(1, 1, H, W)`` and ``ab`` ``(1, 2, h, w)`` into an RGB image.

    ``ab`` is upsampled bilinearly to ``L``'s size when the colorizer ran at a lower resolution,
    so the full-resolution luminance is kept. Works in bands of :data:`LAB_BAND_ROWS` rows.
    """
    import torch
    import torch.nn.functional as F

    if L_full.ndim != 4 or L_full.shape[:2] != (1, 1):
        raise ValueError(f"L_full must have shape (1, 1, H, W), got {tuple(L_full.shape)}")
    if ab_full.ndim != 4 or ab_full.shape[:2] != (1, 2):
        raise ValueError(f"ab_full must have shape (1, 2, H, W), got {tuple(ab_full.shape)}")
    L = L_full.detach().to("cpu", torch.float32)
    ab = ab_full.detach().to("cpu", torch.float32)
    if ab.shape[-2:] != L.shape[-2:]:
        ab = F.interpolate(ab, size=tuple(L.shape[-2:]), mode="bilinear", align_corners=False)
    height, width = L.shape[-2:]
    out = np.empty((height, width, 3), dtype=np.uint8)
    for y in range(0, height, LAB_BAND_ROWS):
        lab = torch.cat((denormalize_l(L[..., y:y + LAB_BAND_ROWS, :]),
                         denormalize_ab(ab[..., y:y + LAB_BAND_ROWS, :])), dim=1)
        rgb = lab_to_rgb(lab).mul_(255.0).round_().to(torch.uint8)
        out[y:y + LAB_BAND_ROWS] = rgb[0].permute(1, 2, 0).numpy()
    return Image.fromarray(out, "RGB")


# --------------------------------------------------------------------------------------------
# Grids and GIFs
# --------------------------------------------------------------------------------------------


def make_grid(
    images: Sequence[Image.Image],
    *,
    cols: int | None = None,
    pad: int = 2,
    background: tuple[int, int, int] = _WHITE,
) -> Image.Image:
    """Tile images row by row into one image, ``pad`` pixels around and between cells.

    ``cols`` defaults to ``ceil(sqrt(n))``. Cells are as large as the largest image; smaller
    images are centred. The grid is ``L`` if every image is ``L``, otherwise ``RGB``.
    """
    images = list(images)
    if not images:
        raise ValueError("make_grid() needs at least one image")
    if cols is None:
        cols = math.ceil(math.sqrt(len(images)))
    if cols < 1:
        raise ValueError(f"cols must be a positive integer, got {cols!r}")
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad!r}")
    background = _check_background(background)
    cols = min(cols, len(images))
    rows = math.ceil(len(images) / cols)
    cell_w = max(im.width for im in images)
    cell_h = max(im.height for im in images)
    gray = all(im.mode == "L" for im in images)
    mode = "L" if gray else "RGB"
    fill: Any = round(sum(background) / 3) if gray else background
    grid = Image.new(mode, (cols * (cell_w + pad) + pad, rows * (cell_h + pad) + pad), fill)
    for i, im in enumerate(images):
        tile = im if im.mode == mode else ensure_rgb(im)[0]
        r, c = divmod(i, cols)
        x = pad + c * (cell_w + pad) + (cell_w - im.width) // 2
        y = pad + r * (cell_h + pad) + (cell_h - im.height) // 2
        grid.paste(tile, (x, y))
    return grid


def _gif_frames(frames: Sequence[Image.Image]) -> list[Image.Image]:
    frames = list(frames)
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    sizes = {f.size for f in frames}
    if len(sizes) > 1:
        raise ValueError(f"GIF frames have different sizes {sorted(sizes)}; resize them to one size first")
    return [f if f.mode in ("RGB", "L") else ensure_rgb(f)[0] for f in frames]


def gif_bytes(
    frames: Sequence[Image.Image], *, duration_ms: int = 80, loop: int | None = 0, comment: str | None = None
) -> bytes:
    """Encode frames as an animated GIF and return its bytes (``loop=0``: forever, ``None``: play once)."""
    if duration_ms <= 0:
        raise ValueError(f"duration_ms must be positive, got {duration_ms!r}")
    converted = _gif_frames(frames)
    options: dict[str, Any] = {"save_all": True, "append_images": converted[1:], "duration": int(duration_ms)}
    if loop is not None:
        options["loop"] = int(loop)
    if comment:
        options["comment"] = comment
    buf = io.BytesIO()
    converted[0].save(buf, format="GIF", **options)
    return buf.getvalue()


def save_gif(
    frames: Sequence[Image.Image],
    path: str | os.PathLike[str],
    *,
    duration_ms: int = 80,
    loop: int | None = 0,
    comment: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write frames as an animated GIF at ``path``; refuses to replace a file unless ``overwrite``."""
    path = Path(path)
    data = gif_bytes(frames, duration_ms=duration_ms, loop=loop, comment=comment)
    mode = "wb" if overwrite else "xb"
    try:
        with open(path, mode) as fh:
            fh.write(data)
    except FileExistsError:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True to replace it or choose a new name"
        ) from None
    return path
