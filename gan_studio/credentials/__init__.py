"""Content Credentials and the invisible watermark on everything the studio writes, and checking them.

The one writer of studio output files is :func:`save_png` (and :func:`output_bytes` for in-memory
files): it embeds the watermark (:mod:`.watermark`), writes the PNG text provenance
(:mod:`gan_studio.metadata`, which records the watermark's state) and signs a C2PA manifest over
the result (:mod:`.signing`), in that order, so the signature binds the watermarked pixels.
:func:`gan_studio.metadata.png_bytes` stays the deterministic model-pixels encoder the pinned
outputs hash. :mod:`.verify` checks any file (``python -m gan_studio verify``, the Inspect tab).
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from ..metadata import png_bytes, write_output
from .signing import sign_bytes
from .watermark import embed_watermark, watermark_enabled

__all__ = ["RESEARCH_NO_WATERMARK", "credentialed_params", "output_bytes", "save_png", "strip_manifest",
           "studio_ingredients"]

#: Largest input file read to record it as an ingredient.
MAX_INGREDIENT_BYTES = 50 * 1024 * 1024

#: What the provenance records when the watermark was switched off.
RESEARCH_NO_WATERMARK = "off (switched off for research use: GAN_STUDIO_WATERMARK=0 or --no-watermark)"


def credentialed_params(img: Image.Image, params: Mapping[str, Any], *,
                        watermark: bool | None = None) -> tuple[Image.Image, dict[str, Any]]:
    """The watermarked image and the params with a ``watermark`` record added."""
    out = dict(params)
    if watermark is None:
        watermark = watermark_enabled()
    if watermark:
        img, out["watermark"] = embed_watermark(img)
    else:
        out["watermark"] = RESEARCH_NO_WATERMARK
    out["content_credentials"] = "C2PA manifest signed by gan_studio (see python -m gan_studio verify)"
    return img, out


def output_bytes(img: Image.Image, params: Mapping[str, Any], *, fmt: str = "PNG", title: str = "output.png",
                 watermark: bool | None = None, ingredients: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """An output file's bytes: watermark, then provenance, then a signed C2PA manifest.

    ``fmt`` is ``"PNG"`` (with the text provenance chunks) or ``"JPEG"`` (quality 95; JPEG carries
    the provenance only inside the manifest). ``watermark=None`` follows ``GAN_STUDIO_WATERMARK``.
    """
    if fmt not in ("PNG", "JPEG"):
        raise ValueError(f"fmt must be 'PNG' or 'JPEG', not {fmt!r}")
    if params.get("ai_generated") is False and fmt == "PNG":
        # an input as the model saw it (the Style tab's projection target): the user's photo, not generated;
        # C2PA has no honest source type for it here, so it keeps the text provenance only
        return png_bytes(img, params)
    marked, full = credentialed_params(img, params, watermark=watermark)
    if fmt == "PNG":
        data = png_bytes(marked, full)
    else:
        buf = io.BytesIO()
        marked.convert("RGB").save(buf, format="JPEG", quality=95)
        data = buf.getvalue()
    return sign_bytes(data, fmt, full, title=title, ingredients=ingredients)


def save_png(img: Image.Image, path: str | os.PathLike[str], params: Mapping[str, Any], *, overwrite: bool = False,
             watermark: bool | None = None, ingredients: Sequence[tuple[str, bytes]] = ()) -> Path:
    """Write a studio output (PNG, or JPEG for a ``.jpg``/``.jpeg`` path) with credentials; return the path.

    Same contract as :func:`gan_studio.metadata.save_png`: an existing file is replaced only with
    ``overwrite=True`` (``FileExistsError`` otherwise).
    """
    path = Path(path)
    fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    data = output_bytes(img, params, fmt=fmt, title=path.name, watermark=watermark, ingredients=ingredients)
    return write_output(path, data, overwrite=overwrite)


def strip_manifest(data: bytes) -> bytes:
    """A PNG's bytes without its C2PA manifest chunk (``caBX``): the reproducible part of a studio output.

    A signed manifest holds a signing time, a fresh instance id and a randomised ECDSA signature,
    so two runs of the same command differ in that chunk only; everything else (pixels, watermark,
    text provenance) is byte-identical. Data that is not a well-formed PNG comes back unchanged.
    """
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    kept, pos = [data[:8]], 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            return data
        if kind != b"caBX":
            kept.append(data[pos:end])
        pos = end
    return b"".join(kept) if pos == len(data) else data


def studio_ingredients(source: str | os.PathLike[str] | None) -> list[tuple[str, bytes]]:
    """``[(file name, bytes)]`` when the input file at ``source`` is a studio output (it carries the
    studio's text provenance or a C2PA manifest), else ``[]``; for ``save_png(..., ingredients=...)``.

    Anything that is not a readable regular file of at most :data:`MAX_INGREDIENT_BYTES` gives ``[]``.
    """
    from ..errors import ImageInputError
    from ..metadata import read_metadata

    if source is None:
        return []
    path = Path(source)
    try:
        if not path.is_file() or path.stat().st_size > MAX_INGREDIENT_BYTES:
            return []
        data = path.read_bytes()
    except OSError:
        return []
    try:
        read_metadata(data)
    except ImageInputError:
        has_manifest = b"c2pa" in data[:MAX_INGREDIENT_BYTES] and data.startswith((b"\x89PNG", b"\xff\xd8"))
        if not has_manifest:
            return []
    return [(path.name, data)]
