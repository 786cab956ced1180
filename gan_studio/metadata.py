"""Provenance written into the PNGs gan_studio saves, and read back.

Every saved PNG carries, in text chunks placed before the image data:

* ``gan_studio`` (iTXt): JSON with every generation parameter (model id, revision, seed, ...),
  plus ``"software"`` and ``"ai_generated": true``. :func:`read_metadata` returns it.
* ``Software``: ``gan_studio <version>``.
* ``Description``: a readable one-liner ("AI-generated image made with gan_studio 0.1.0 by model
  digits-cgan, seed 7").
* ``parameters``: the parameters as readable ``key=value`` text.
* ``DigitalSourceType``: the IPTC code for media made by a trained model
  (:data:`DIGITAL_SOURCE_TYPE`), also inside a small XMP packet (``XML:com.adobe.xmp``) where
  tools such as exiftool look for it, and ``AI-Generated: true``.

A result made from an input that itself carried studio provenance (a Generate result sent on to
Translate, then to Colorize) records the steps before it: its JSON has a ``"chain"`` list, the
earlier steps' provenance oldest first (each without a chain of its own), so the last PNG of a
chain tells the whole story (:func:`chain_steps`, :func:`with_chain`, :func:`image_provenance`).

Saving is deterministic: the same image and parameters give byte-identical files (no timestamps,
sorted keys, fixed compression level). :func:`save_png` refuses to replace an existing file
unless asked to.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import quoteattr

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ._version import __version__
from .errors import ImageInputError
from .image_io import PROVENANCE_KEY, ensure_rgb

__all__ = [
    "CHAIN_KEY",
    "DIGITAL_SOURCE_TYPE",
    "MAX_CHAIN_STEPS",
    "METADATA_KEY",
    "SOFTWARE",
    "build_pnginfo",
    "chain_steps",
    "describe_step",
    "write_output",
    "format_metadata",
    "provenance_json",
    "image_provenance",
    "png_bytes",
    "read_metadata",
    "save_png",
    "with_chain",
]

SOFTWARE = f"gan_studio {__version__}"
#: The PNG text key of our JSON provenance chunk (the key a decoded image keeps it under, too).
METADATA_KEY = PROVENANCE_KEY
#: The provenance key listing the steps before this one, oldest first.
CHAIN_KEY = "chain"
#: Most earlier steps a provenance keeps (the oldest are dropped beyond it).
MAX_CHAIN_STEPS = 16
#: IPTC digital source type for media created by a trained algorithmic model.
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: Fixed zlib level so the same pixels always give the same bytes.
COMPRESS_LEVEL = 6

# Parameters listed first, in this order, by the readable forms.
_LEADING_KEYS = ("model", "model_id", "revision", "variant", "task", "seed")


def _jsonable(value: Any) -> Any:
    """``json.dumps`` default: paths, numpy scalars/arrays, sets and tuples become plain JSON."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # a torch tensor, without importing torch
        return value.tolist()
    raise TypeError(f"parameter value {value!r} of type {type(value).__name__} cannot be stored as JSON")


def _payload(params: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of parameter names to values, not {type(params).__name__}")
    payload = {str(k): v for k, v in params.items()}
    payload["software"] = SOFTWARE
    payload["ai_generated"] = True
    return payload


def _to_json(payload: Mapping[str, Any]) -> str:
    try:
        return json.dumps(
            payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_jsonable
        )
    except ValueError as exc:  # NaN / infinity
        bad = [k for k, v in payload.items() if isinstance(v, float) and not math.isfinite(v)]
        raise ValueError(f"parameters {bad or '?'} are not finite numbers; cannot store them ({exc})") from None


def _ordered_keys(params: Mapping[str, Any]) -> list[str]:
    lead = [k for k in _LEADING_KEYS if k in params]
    return lead + sorted(k for k in params if k not in lead)


def _text_value(value: Any) -> str:
    if isinstance(value, str):
        needs_quotes = not value or any(ch in value for ch in ",=\n\r\t\"") or value != value.strip()
        return json.dumps(value, ensure_ascii=False) if needs_quotes else value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_jsonable)


def _parameters_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_text_value(params[k])}" for k in _ordered_keys(params))


def _description(params: Mapping[str, Any]) -> str:
    text = f"AI-generated image made with {SOFTWARE}"
    model = params.get("model", params.get("model_id"))
    if model is not None:
        text += f" by model {model}"
        if params.get("variant") is not None:
            text += f" ({params['variant']})"
        if params.get("revision") is not None:
            text += f" at revision {params['revision']}"
    if params.get("seed") is not None:
        text += f", seed {params['seed']}"
    return text


def _xmp_packet() -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        f"Iptc4xmpExt:DigitalSourceType={quoteattr(DIGITAL_SOURCE_TYPE)} "
        f"xmp:CreatorTool={quoteattr(SOFTWARE)}/>"
        "</rdf:RDF></x:xmpmeta>"
    )


def build_pnginfo(params: Mapping[str, Any]) -> PngInfo:
    """The PNG text chunks that record how an image was made (see the module docstring).

    ``params`` should hold the model id (``model``), ``revision``, ``seed`` and every other
    generation parameter; values must be JSON-able (paths, numpy scalars and tuples are converted).
    Raises ``TypeError``/``ValueError`` naming a value that cannot be stored.
    """
    payload = _payload(params)
    info = PngInfo()
    info.add_itxt(METADATA_KEY, _to_json(payload))
    info.add_text("Software", SOFTWARE)
    info.add_text("Description", _description(payload))
    info.add_text("parameters", _parameters_text({k: v for k, v in payload.items() if k not in ("software", "ai_generated")}))
    info.add_text("DigitalSourceType", DIGITAL_SOURCE_TYPE)
    info.add_text("AI-Generated", "true")
    info.add_itxt("XML:com.adobe.xmp", _xmp_packet())
    return info


def _prepare(img: Image.Image) -> Image.Image:
    if not isinstance(img, Image.Image):
        raise TypeError(f"expected a PIL image, not {type(img).__name__}")
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = ensure_rgb(img)[0]
    if img.info:  # never carry an input's ICC profile, EXIF or text chunks into our files
        img = img.copy()
        img.info = {}
    return img


def png_bytes(img: Image.Image, params: Mapping[str, Any]) -> bytes:
    """Encode ``img`` as PNG with the provenance chunks; the same inputs always give the same bytes."""
    pnginfo = build_pnginfo(params)
    buf = io.BytesIO()
    _prepare(img).save(buf, format="PNG", pnginfo=pnginfo, compress_level=COMPRESS_LEVEL, optimize=False)
    return buf.getvalue()


def save_png(img: Image.Image, path: str | os.PathLike[str], params: Mapping[str, Any], *, overwrite: bool = False) -> Path:
    """Write ``img`` as a PNG with provenance at ``path`` and return the path.

    An existing file is never replaced unless ``overwrite=True`` (``FileExistsError`` otherwise).
    """
    return write_output(Path(path), png_bytes(img, params), overwrite=overwrite)


def write_output(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path``: never over an existing file unless ``overwrite`` (``FileExistsError``
    otherwise), and then atomically (a temporary file renamed into place), so a reader never sees half
    a file."""
    if not overwrite:
        try:
            with open(path, "xb") as fh:
                fh.write(data)
        except FileExistsError:
            raise FileExistsError(
                f"{path} already exists; pass overwrite=True to replace it or choose a new file name"
            ) from None
        return path
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Largest text chunk read_metadata accepts (ours are a few KB); bounds zlib bombs in zTXt/iTXt too.
_MAX_TEXT_BYTES = 1 << 20


def _decode_text_chunk(kind: bytes, data: bytes, key: bytes, name: str) -> str | None:
    """The text of a tEXt/zTXt/iTXt chunk if its keyword is ``key``, else ``None``."""
    keyword, sep, rest = data.partition(b"\x00")
    if not sep or keyword != key:
        return None
    compressed = False
    if kind == b"tEXt":
        raw, encoding = rest, "latin-1"
    elif kind == b"zTXt":
        raw, encoding, compressed = rest[1:], "latin-1", True
    else:  # iTXt: flag, method, language\0, translated keyword\0, text
        if len(rest) < 2:
            return None
        compressed = rest[0] == 1
        _lang, _, tail = rest[2:].partition(b"\x00")
        _tkey, _, raw = tail.partition(b"\x00")
        encoding = "utf-8"
    if compressed:
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(raw, _MAX_TEXT_BYTES)
        except zlib.error as exc:
            raise ImageInputError(f"the gan_studio provenance in {name} is damaged ({exc})") from None
        if inflater.unconsumed_tail:
            raise ImageInputError(f"the gan_studio provenance in {name} is larger than {_MAX_TEXT_BYTES} bytes")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ImageInputError(f"the gan_studio provenance in {name} is damaged ({exc})") from None


def _scan_png(fp: BinaryIO, name: str) -> str | None:
    """Walk a PNG's chunks (seeking over image data, decoding nothing) and return our text chunk."""
    if fp.read(8) != PNG_SIGNATURE:
        return None
    key = METADATA_KEY.encode("latin-1")
    while True:
        header = fp.read(8)
        if len(header) < 8:
            return None
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            return None
        if kind in (b"tEXt", b"zTXt", b"iTXt") and length <= _MAX_TEXT_BYTES:
            data = fp.read(length)
            crc = fp.read(4)
            if len(data) < length or len(crc) < 4:
                return None
            if not data.startswith(key + b"\x00"):
                continue
            if struct.unpack(">I", crc)[0] != zlib.crc32(kind + data) & 0xFFFFFFFF:
                raise ImageInputError(f"the gan_studio provenance in {name} is damaged (bad chunk checksum)")
            return _decode_text_chunk(kind, data, key, name)
        fp.seek(length + 4, os.SEEK_CUR)


def _scan_gif(fp: BinaryIO) -> str | None:
    """The provenance comment of a GIF the studio wrote (headers only; no frame is decoded)."""
    from .image_io.decode import provenance_text

    try:
        with Image.open(fp, formats=("GIF",)) as im:
            return provenance_text(im)
    except Exception:  # noqa: BLE001 - not a readable GIF: no provenance
        return None


def _scan_file(fp: BinaryIO, name: str) -> str | None:
    start = fp.tell()
    head = fp.read(6)
    fp.seek(start)
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _scan_gif(fp)
    return _scan_png(fp, name)


def _raw_text(source: str | os.PathLike[str] | bytes | Image.Image) -> tuple[str | None, str]:
    """Return ``(our chunk's text or None, display name)`` without decoding any pixel data."""
    if isinstance(source, Image.Image):
        filename = getattr(source, "filename", "") or ""
        name = os.path.basename(filename) or "the image"
        text = source.info.get(METADATA_KEY)
        if text is None and source.format == "PNG" and filename and os.path.isfile(filename):
            with open(filename, "rb") as fh:  # the chunk may sit after the image data
                return _scan_png(fh, name), name
        return (None if text is None else str(text)), name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _scan_file(io.BytesIO(bytes(source)), "the image data"), "the image data"
    if isinstance(source, (str, os.PathLike)):
        path = Path(os.fspath(source))
        name = path.name or str(path)
        if not path.is_file():
            raise ImageInputError(f"{name}: no such file ({str(path)!r})")
        with open(path, "rb") as fh:
            return _scan_file(fh, name), name
    raise TypeError(f"read_metadata() takes a path, bytes or a PIL image, not {type(source).__name__}")


def read_metadata(source: str | os.PathLike[str] | bytes | Image.Image) -> dict[str, Any]:
    """The JSON provenance of a PNG (or GIF) saved by gan_studio (a path, the file's bytes, or an
    opened image).

    Raises :class:`ImageInputError` ("no gan_studio provenance in FILE") when the file has none.
    """
    text, name = _raw_text(source)
    if text is None:
        raise ImageInputError(f"no gan_studio provenance in {name} (only PNGs saved by gan_studio carry it)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImageInputError(f"the gan_studio provenance in {name} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ImageInputError(f"the gan_studio provenance in {name} is not a JSON object")
    return data


def format_metadata(params: Mapping[str, Any]) -> str:
    """Readable ``key  value`` lines for ``python -m gan_studio info FILE`` (the earlier steps of a
    chain are left to :func:`chain_steps`)."""
    keys = [k for k in _ordered_keys(params) if k != CHAIN_KEY]
    tail = [k for k in ("software", "ai_generated") if k in params]
    keys = [k for k in keys if k not in tail] + tail
    if not keys:
        return "(no parameters)"
    width = max(len(str(k)) for k in keys)
    lines = []
    for k in keys:
        value = params[k]
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=_jsonable)
        lines.append(f"{str(k).ljust(width)}  {shown}")
    return "\n".join(lines)


# ---- chains of steps ----------------------------------------------------------------------------
def _step(params: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in params.items() if k not in (CHAIN_KEY, "ai_generated")}


def chain_steps(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every step that made an image, oldest first: the earlier steps its provenance lists under
    :data:`CHAIN_KEY`, then its own (each without ``chain`` and ``ai_generated``). An image made in
    one step gives a list of one."""
    earlier = params.get(CHAIN_KEY)
    steps = [_step(s) for s in earlier if isinstance(s, Mapping)] if isinstance(earlier, list) else []
    return [*steps, _step(params)]


def with_chain(params: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """``params`` with the steps of ``previous`` (the provenance of the input image) as its chain:
    ``previous``'s own chain, then ``previous`` itself; at most :data:`MAX_CHAIN_STEPS`, oldest dropped.
    ``previous=None`` returns a copy of ``params`` unchanged."""
    out = dict(params)
    if previous is None:
        return out
    out[CHAIN_KEY] = chain_steps(previous)[-MAX_CHAIN_STEPS:]
    return out


def image_provenance(image: Any) -> dict[str, Any] | None:
    """The studio provenance a decoded image carried in its file (``image.info[METADATA_KEY]``, kept by
    :func:`gan_studio.image_io.load_image`), or ``None``: not a studio file, or text that is not a
    provenance (not a JSON object naming a model and a task), which is then ignored."""
    info = getattr(image, "info", None)
    text = info.get(METADATA_KEY) if isinstance(info, Mapping) else None
    if not isinstance(text, str):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not data.get("model") or not isinstance(data.get("task"), str):
        return None
    chain = data.get(CHAIN_KEY)
    if chain is not None and not (isinstance(chain, list) and all(isinstance(s, dict) for s in chain)):
        data.pop(CHAIN_KEY)
    return data


def describe_step(step: Mapping[str, Any]) -> str:
    """One line for a step of a chain: task, model, revision and the step's own parameters."""
    head = f"{step.get('task', '?')} with {step.get('model', '?')}"
    if step.get("variant"):
        head += f" ({step['variant']})"
    if step.get("revision"):
        head += f" at revision {str(step['revision'])[:12]}"
    skip = {"model", "task", "variant", "revision", "software", "architecture", "ai_generated", CHAIN_KEY}
    rest = {k: v for k, v in step.items() if k not in skip}
    return head + (f": {_parameters_text(rest)}" if rest else "")


def provenance_json(params: Mapping[str, Any]) -> str:
    """The provenance as the JSON text the ``gan_studio`` chunk holds: what a studio GIF carries in its
    comment (read back by :func:`read_metadata`), and what an image handed from one step of a chain to
    the next carries in ``info[METADATA_KEY]``."""
    return _to_json(_payload(params))
