"""Check any image for the studio's Content Credentials, watermark and text provenance.

:func:`verify_bytes` never raises on a bad file: whatever cannot be read is reported as such.
The verdict and exit codes (``python -m gan_studio verify``):

====  ===============  ==============================================================================
code  verdict          meaning
====  ===============  ==============================================================================
0     ``intact``       a gan_studio C2PA manifest is present and valid: studio output, unchanged since
                       signing
1     ``not_identified`` no studio manifest and no watermark: nothing says where the image came from
                       (this is *not* evidence that it is real)
2     ``tampered``     a C2PA manifest is present but fails validation (pixels or manifest changed)
3     ``watermark_only`` no valid manifest, but the studio's watermark is found: studio output that was
                       re-saved, edited or had its credentials stripped
4     ``unreadable``   the file is not an image the studio can decode
====  ===============  ==============================================================================
"""

from __future__ import annotations

import io
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ImageInputError
from ..image_io import load_image
from ..metadata import read_metadata
from .signing import LOCAL_ORG, trust_context
from .watermark import PAYLOAD_BITS, detect_watermark

__all__ = ["EXIT_CODES", "Verification", "format_verification", "verify_bytes", "verify_file"]

logger = logging.getLogger(__name__)

EXIT_CODES = {"intact": 0, "not_identified": 1, "tampered": 2, "watermark_only": 3, "unreadable": 4}
#: Files larger than this are not read (verification reads the whole file into memory).
MAX_FILE_BYTES = 200 * 1024 * 1024
_SNIFF = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"),
          (b"GIF8", "image/gif"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"))


@dataclass
class Verification:
    """Everything found in one file (``to_json()`` gives the ``verify --json`` record)."""

    file: str
    verdict: str = "not_identified"
    manifest: dict[str, Any] = field(default_factory=dict)
    watermark: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None
    provenance_note: str = ""
    decode_error: str | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["exit_code"] = self.exit_code
        return record


def _mime(data: bytes) -> str | None:
    for magic, mime in _SNIFF:
        if data.startswith(magic):
            return None if mime == "image/webp" and data[8:12] != b"WEBP" else mime
    return None


def _steps(active: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for assertion in active.get("assertions") or []:
        if isinstance(assertion, dict) and str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in (assertion.get("data") or {}).get("actions") or []:
                if isinstance(action, dict):
                    steps.append({"action": action.get("action"), "digital_source_type": action.get("digitalSourceType"),
                                  "software": (action.get("softwareAgent") or {}).get("name")
                                  if isinstance(action.get("softwareAgent"), dict) else action.get("softwareAgent"),
                                  "parameters": action.get("parameters")})
    return steps


def _read_manifest(data: bytes) -> dict[str, Any]:
    mime = _mime(data)
    if mime is None:
        return {"state": "absent", "note": "no C2PA manifest (not a format that carries one here)"}
    context = trust_context()  # a misconfigured GAN_STUDIO_C2PA_TRUST is the caller's error, not the file's
    try:
        import c2pa

        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            store = json.loads(reader.json())
    except Exception as exc:  # noqa: BLE001 - c2pa raises many kinds on hostile input; all mean "unreadable"
        text = str(exc)
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in text or "ManifestNotFound" in text:
            return {"state": "absent", "note": "no C2PA manifest: the file carries no Content Credentials "
                                               "(stripped, never added, or made elsewhere)"}
        return {"state": "tampered", "note": f"a C2PA manifest is present but cannot be read ({text[:200]})"}
    active = (store.get("manifests") or {}).get(store.get("active_manifest") or "", {})
    results = store.get("validation_results") or {}
    failures = [f"{f.get('code')}: {f.get('explanation')}" for f in
                ((results.get("activeManifest") or {}).get("failure") or []) if isinstance(f, dict)]
    trust_failures = [f for f in failures if f.startswith("signingCredential.untrusted")]
    hard_failures = [f for f in failures if f not in trust_failures]
    signature = active.get("signature_info") or {}
    generators = [g.get("name") for g in active.get("claim_generator_info") or [] if isinstance(g, dict)]
    state = str(store.get("validation_state") or "")
    local = signature.get("issuer") == LOCAL_ORG
    record: dict[str, Any] = {
        "state": "tampered" if hard_failures or state == "Invalid" else "valid",
        "validation_state": state,
        "signer": signature.get("common_name"),
        "issuer": signature.get("issuer"),
        "signed_at": signature.get("time"),
        "self_signed": bool(local or trust_failures),
        "trusted": state == "Trusted",
        "by_gan_studio": "gan_studio" in generators,
        "claim_generator": generators,
        "steps": _steps(active),
        "ingredients": [i.get("title") for i in active.get("ingredients") or [] if isinstance(i, dict)],
        "failures": hard_failures,
    }
    if record["state"] == "tampered":
        record["note"] = "TAMPERED: the C2PA manifest does not match this file: " + "; ".join(hard_failures[:3])
    elif record["self_signed"]:
        record["note"] = ("valid, signed with a self-signed / untrusted certificate"
                          + (" (a gan_studio local key)" if local else "")
                          + ": the file is unchanged since signing, but the signer's identity is not vouched for")
    else:
        record["note"] = "valid, signed by a trusted certificate"
    return record


def verify_bytes(data: bytes, name: str = "the image") -> Verification:
    """Verify an encoded image; never raises for bad input (only for a misconfigured ``GAN_STUDIO_C2PA_TRUST``)."""
    result = Verification(file=name)
    result.manifest = _read_manifest(data)
    try:
        image, _ = load_image(data, name=name)
    except ImageInputError as exc:
        result.decode_error = str(exc)
        result.watermark = {"found": False, "checked": False, "confidence": 0.0, "matches": 0,
                            "bits": PAYLOAD_BITS, "note": f"not checked: {exc}"}
    else:
        found = detect_watermark(image)
        result.watermark = {"found": found.found, "checked": found.checked, "confidence": round(found.confidence, 3),
                            "matches": found.matches, "bits": PAYLOAD_BITS, "note": found.note}
    try:
        result.provenance = read_metadata(data)
        result.provenance_note = "gan_studio text provenance present (text chunks are easy to forge or strip; " \
                                 "the manifest and watermark are the checks)"
    except ImageInputError as exc:
        result.provenance_note = f"{exc}: re-saving or other tools drop it, so its absence proves nothing"
    manifest_state = result.manifest.get("state")
    if manifest_state == "tampered":
        result.verdict = "tampered"
    elif manifest_state == "valid" and result.manifest.get("by_gan_studio"):
        result.verdict = "intact"
    elif result.watermark.get("found"):
        result.verdict = "watermark_only"
    elif result.decode_error is not None:
        result.verdict = "unreadable"
    else:
        result.verdict = "not_identified"
    return result


def verify_file(path: str | os.PathLike[str]) -> Verification:
    """Verify the image at ``path`` (see :func:`verify_bytes`)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageInputError(f"{path.name} is {size} bytes, more than the {MAX_FILE_BYTES} bytes verify reads")
        data = path.read_bytes()
    except (OSError, ImageInputError) as exc:
        return Verification(file=str(path), verdict="unreadable", decode_error=str(exc),
                            manifest={"state": "absent", "note": "file not read"},
                            watermark={"found": False, "checked": False, "confidence": 0.0, "note": "file not read"},
                            provenance_note="file not read")
    result = verify_bytes(data, path.name)
    result.file = str(path)
    return result


_VERDICT_TEXT = {
    "intact": "studio output, credentials intact",
    "not_identified": "not identified as studio output (this does NOT mean the image is real)",
    "tampered": "TAMPERED: Content Credentials present but the file no longer matches them",
    "watermark_only": "studio output by its watermark; its Content Credentials are missing or stripped",
    "unreadable": "not a readable image",
}


def format_verification(result: Verification) -> str:
    """Plain-words report of one :class:`Verification`."""
    m, w = result.manifest, result.watermark
    lines = [f"{result.file}: {_VERDICT_TEXT[result.verdict]} (exit {result.exit_code})",
             f"  C2PA manifest: {m.get('state')} - {m.get('note', '')}"]
    if m.get("signer"):
        lines.append(f"    signer: {m['signer']} (issuer: {m.get('issuer')}; self-signed: "
                     f"{'yes' if m.get('self_signed') else 'no'}; trusted: {'yes' if m.get('trusted') else 'no'})")
    for i, step in enumerate(m.get("steps") or [], 1):
        params = step.get("parameters") or {}
        model = params.get("model", params.get("model_id", "")) if isinstance(params, dict) else ""
        lines.append(f"    step {i}: {step.get('action')} by {step.get('software')} {model}".rstrip())
    for ingredient in m.get("ingredients") or []:
        lines.append(f"    ingredient: {ingredient}")
    lines.append(f"  watermark: {w.get('note', '')}" + (f" (confidence {w.get('confidence'):.2f})" if w.get("checked") else ""))
    lines.append(f"  text provenance: {result.provenance_note}")
    if result.provenance:
        for key in ("model", "revision", "seed", "watermark"):
            if key in result.provenance:
                lines.append(f"    {key}: {result.provenance[key]}")
    return "\n".join(lines)
