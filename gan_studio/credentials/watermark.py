"""The studio's invisible watermark: a short fixed payload hidden in the pixels of its outputs.

The watermark is the DWT-DCT-SVD method (in the U colour channel) of ``invisible-watermark`` (``imwatermark``, the library
Stable Diffusion's reference scripts use; no model weights, runs offline). It carries
:data:`PAYLOAD_BITS` bits that say "made by gan_studio" and nothing else: no user, no time, no
parameters. Detection decodes the bits and counts how many match; :data:`DETECT_MIN_MATCHES`
of them (chosen from the measured table in docs/responsible-use.md) count as "found".

The library refuses less than 256 × 256 pixels (:data:`MIN_PIXELS`); smaller outputs (the 32 px
digits) are left unmarked and their provenance says so. ``GAN_STUDIO_WATERMARK=0`` (or the CLI's
``--no-watermark``) switches the watermark off for research use; the provenance records that too.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

__all__ = [
    "DETECT_MIN_MATCHES",
    "METHOD",
    "MIN_PIXELS",
    "PAYLOAD_BITS",
    "WatermarkResult",
    "detect_watermark",
    "embed_watermark",
    "watermark_enabled",
]

#: What the provenance calls the watermark (library, method, payload version).
METHOD = "invisible-watermark dwtDctSvd (U channel, scale 50), gan_studio payload v1"
#: Payload length in bits.
PAYLOAD_BITS = 48
#: The payload: 48 bits that look random (a fixed hash), so flat or natural images rarely match them.
PAYLOAD: tuple[int, ...] = tuple(
    (byte >> (7 - i)) & 1 for byte in hashlib.sha256(b"gan_studio watermark v1").digest()[:6] for i in range(8)
)
#: Fewest matching bits that count as "watermark found" (see docs/responsible-use.md for the measured rates).
DETECT_MIN_MATCHES = 40
#: The library refuses images with fewer pixels than 256 × 256.
MIN_PIXELS = 256 * 256
#: Embedding strength (quantisation step of the block's largest singular value); 50 measured best for
#: JPEG at PSNR ~36 dB (the library default is 36).
_SCALE = 50
_ENV = "GAN_STUDIO_WATERMARK"
_IMPORT_ERROR: str | None = None
logger = logging.getLogger(__name__)


def watermark_enabled(default: bool = True) -> bool:
    """Whether outputs get the watermark: ``GAN_STUDIO_WATERMARK=0``/``off``/``false`` turns it off."""
    value = os.environ.get(_ENV, "").strip().lower()
    if value in ("0", "off", "false", "no"):
        return False
    if value in ("1", "on", "true", "yes"):
        return True
    return default


def _method() -> Any:
    """The library's DWT-DCT-SVD class, or None when it cannot be imported (logged once).

    ``opencv-python`` (pulled in by invisible-watermark) needs the system's ``libGL.so.1``; a slim
    container without it (``apt-get install libgl1``) cannot load it. Outputs are then still written
    and signed, and their provenance says the watermark was unavailable.
    """
    global _IMPORT_ERROR
    try:
        from imwatermark.dwtDctSvd import EmbedDwtDctSvd  # the method's module (the package also imports torch)
    except ImportError as exc:
        if _IMPORT_ERROR is None:
            logger.warning("invisible watermark unavailable: %s (install libgl1 or opencv-python-headless)", exc)
        _IMPORT_ERROR = str(exc)
        return None
    return EmbedDwtDctSvd


def _bgr(img: Image.Image) -> np.ndarray[Any, Any]:
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def embed_watermark(img: Image.Image) -> tuple[Image.Image, str]:
    """``(watermarked image, what the provenance records)``; images below :data:`MIN_PIXELS` come back unchanged.

    RGB, RGBA, L and LA images are handled (alpha is kept as it is; a gray image becomes RGB,
    since the mark lives in the colour channels).
    """
    width, height = img.size
    if width * height < MIN_PIXELS:
        return img, f"none: {width}x{height} px is below the watermark's minimum of 256x256 px"
    method = _method()
    if method is None:
        return img, f"none: the watermark library could not be loaded ({_IMPORT_ERROR})"
    alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
    marked = method(list(PAYLOAD), wmLen=PAYLOAD_BITS, scales=[0, _SCALE, 0]).encode(_bgr(img))
    out = Image.fromarray(np.ascontiguousarray(np.asarray(marked)[:, :, ::-1]), "RGB")
    if alpha is not None:
        out.putalpha(alpha)
    return out, METHOD


@dataclass(frozen=True)
class WatermarkResult:
    """What :func:`detect_watermark` found."""

    found: bool            # at least DETECT_MIN_MATCHES of the payload's bits matched
    matches: int           # how many of the PAYLOAD_BITS bits matched (about half for unmarked images)
    checked: bool          # False when the image is too small to carry the mark
    note: str              # a plain-words reading of the result

    @property
    def confidence(self) -> float:
        """Fraction of payload bits that matched (0.5 is chance, 1.0 a perfect read)."""
        return self.matches / PAYLOAD_BITS if self.checked else 0.0


def detect_watermark(img: Image.Image) -> WatermarkResult:
    """Look for the studio's watermark in ``img`` (any decoded PIL image)."""
    width, height = img.size
    if width * height < MIN_PIXELS:
        return WatermarkResult(False, 0, False, f"not checked: {width}x{height} px is too small to carry the watermark "
                                                "(the studio leaves such outputs unmarked)")
    method = _method()
    if method is None:
        return WatermarkResult(False, 0, False, f"not checked: the watermark library could not be loaded ({_IMPORT_ERROR})")
    bits = method([], wmLen=PAYLOAD_BITS, scales=[0, _SCALE, 0]).decode(_bgr(img))
    matches = int(sum(int(bool(b)) == p for b, p in zip(bits, PAYLOAD, strict=True)))
    if matches >= DETECT_MIN_MATCHES:
        note = f"found: {matches} of {PAYLOAD_BITS} bits match the studio's watermark"
    else:
        note = (f"not found ({matches} of {PAYLOAD_BITS} bits match; about {PAYLOAD_BITS // 2} is chance). "
                "This does not mean the image is real: edits, crops or other tools remove or never add it")
    return WatermarkResult(matches >= DETECT_MIN_MATCHES, matches, True, note)
