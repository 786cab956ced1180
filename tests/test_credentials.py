"""Content Credentials (C2PA), the invisible watermark and ``verify`` (gan_studio/credentials/).

Thresholds come from the measured table in docs/responsible-use.md (``python -m bench.credentials``).
The session's local signing key lives in a temporary folder (conftest ``local_signing_key``).
"""

from __future__ import annotations

import datetime
import io
import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from gan_studio.credentials import RESEARCH_NO_WATERMARK, output_bytes, save_png, strip_manifest
from gan_studio.credentials.signing import LOCAL_ORG, credentials_dir, load_identity
from gan_studio.credentials.verify import EXIT_CODES, verify_bytes, verify_file
from gan_studio.credentials.watermark import DETECT_MIN_MATCHES, METHOD, detect_watermark, embed_watermark
from gan_studio.errors import UserInputError
from gan_studio.metadata import DIGITAL_SOURCE_TYPE, png_bytes, read_metadata

REPO = Path(__file__).resolve().parent.parent
PARAMS = {"model": "photo2sketch", "revision": "abc123", "seed": 3, "task": "translation"}


def _photo(name: str = "coffee.jpg", size: int = 320) -> Image.Image:
    with Image.open(REPO / "examples" / name) as im:
        return im.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        out.append((kind, data[pos:pos + 12 + length]))
        pos += 12 + length
    return out


def _c2pa_state(data: bytes, mime: str = "image/png") -> tuple[str, dict[str, Any]]:
    import c2pa

    with c2pa.Reader(mime, io.BytesIO(data)) as reader:
        return str(reader.get_validation_state()), reader.get_active_manifest() or {}


@pytest.fixture(scope="module")
def signed() -> bytes:
    return output_bytes(_photo(), PARAMS)


def test_an_output_carries_a_manifest_that_c2pa_validates(signed: bytes) -> None:
    state, manifest = _c2pa_state(signed)
    assert state in ("Valid", "Trusted")
    actions = manifest["assertions"][0]["data"]["actions"]
    assert actions[0]["action"] == "c2pa.created" and actions[0]["digitalSourceType"] == DIGITAL_SOURCE_TYPE
    assert actions[0]["parameters"]["model"] == "photo2sketch" and actions[0]["parameters"]["revision"] == "abc123"
    assert actions[0]["parameters"]["watermark"] == METHOD
    assert manifest["signature_info"]["issuer"] == LOCAL_ORG  # no deployment key: the local one
    # the text provenance stays, and records the watermark
    params = read_metadata(signed)
    assert params["seed"] == 3 and params["watermark"] == METHOD
    result = verify_bytes(signed, "out.png")
    assert result.verdict == "intact" and result.exit_code == 0
    assert result.manifest["self_signed"] is True and result.manifest["trusted"] is False
    assert result.watermark["found"] and result.watermark["confidence"] >= DETECT_MIN_MATCHES / 48


def test_jpeg_outputs_are_signed_too(tmp_path: Path) -> None:
    path = save_png(_photo("chelsea.jpg"), tmp_path / "out.jpg", PARAMS)
    data = path.read_bytes()
    assert data.startswith(b"\xff\xd8")
    assert _c2pa_state(data, "image/jpeg")[0] in ("Valid", "Trusted")
    result = verify_file(path)
    assert result.verdict == "intact" and result.watermark["found"] and result.provenance is None


def test_the_watermark_is_embedded_before_signing_and_only_the_manifest_chunk_differs_between_runs(signed: bytes) -> None:
    again = output_bytes(_photo(), PARAMS)
    assert again != signed  # a fresh signature (time, instance id, randomised ECDSA)
    assert strip_manifest(again) == strip_manifest(signed)
    marked, record = embed_watermark(_photo())
    assert strip_manifest(signed) == png_bytes(marked, {**PARAMS, "watermark": record, "content_credentials":
                                                        read_metadata(signed)["content_credentials"]})
    # the model's own pixels (what tests/test_pinned_outputs.py pins) are untouched by png_bytes
    assert png_bytes(_photo(), PARAMS) != strip_manifest(signed)


def _tamper_pixels(data: bytes) -> bytes:
    """Change pixels, keep the manifest: re-encode edited pixels and put the original caBX chunk back."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    arr = np.array(image)
    arr[10:40, 10:40] = 255 - arr[10:40, 10:40]
    params = read_metadata(data)
    plain = png_bytes(Image.fromarray(arr), params)
    manifest = next(chunk for kind, chunk in _chunks(data) if kind == b"caBX")
    ihdr_end = 8 + 25
    return plain[:ihdr_end] + manifest + plain[ihdr_end:]


def test_a_tampered_file_fails_validation_and_verify_says_so(signed: bytes, tmp_path: Path, capsys: Any) -> None:
    from gan_studio.cli import main

    tampered = _tamper_pixels(signed)
    assert _c2pa_state(tampered)[0] == "Invalid"
    result = verify_bytes(tampered, "tampered.png")
    assert result.verdict == "tampered" and result.exit_code == EXIT_CODES["tampered"] == 2
    assert any("dataHash.mismatch" in f for f in result.manifest["failures"])
    path = tmp_path / "tampered.png"
    path.write_bytes(tampered)
    good = tmp_path / "good.png"
    good.write_bytes(signed)
    assert main(["verify", str(good)]) == 0
    assert "credentials intact" in capsys.readouterr().out
    assert main(["verify", str(good), str(path)]) == 2  # the most serious finding wins
    assert "TAMPERED" in capsys.readouterr().out
    assert main(["verify", "--json", str(path), str(REPO / "examples" / "chelsea.jpg")]) == 2
    records = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in records] == ["tampered", "not_identified"]
    assert records[1]["exit_code"] == 1 and records[1]["manifest"]["state"] == "absent"
    assert set(records[0]) >= {"manifest", "watermark", "provenance", "verdict", "exit_code"}
    assert "confidence" in records[1]["watermark"] and records[1]["watermark"]["found"] is False


def test_verify_reports_missing_and_non_image_files(tmp_path: Path, capsys: Any) -> None:
    from gan_studio.cli import main

    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert main(["verify", str(tmp_path / "missing.png")]) == 4
    assert "not a readable image" in capsys.readouterr().out
    assert main(["verify", "--json", str(text), str(tmp_path)]) == 4
    records = json.loads(capsys.readouterr().out)
    assert [r["verdict"] for r in records] == ["unreadable", "unreadable"]


def test_a_stripped_and_resaved_output_is_still_found_by_its_watermark(signed: bytes) -> None:
    buf = io.BytesIO()
    Image.open(io.BytesIO(signed)).convert("RGB").save(buf, format="JPEG", quality=90)
    result = verify_bytes(buf.getvalue(), "resaved.jpg")
    assert result.manifest["state"] == "absent" and result.provenance is None
    assert result.verdict == "watermark_only" and result.exit_code == 3


def test_the_research_switch_turns_the_watermark_off_and_the_provenance_records_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_toml: str) -> None:
    from gan_studio.cli import main

    monkeypatch.setenv("GAN_STUDIO_WATERMARK", "0")
    data = output_bytes(_photo(), PARAMS)
    assert read_metadata(data)["watermark"] == RESEARCH_NO_WATERMARK
    assert not detect_watermark(Image.open(io.BytesIO(data))).found
    result = verify_bytes(data)
    assert result.verdict == "intact" and not result.watermark["found"]  # still signed
    monkeypatch.delenv("GAN_STUDIO_WATERMARK")
    out = tmp_path / "g.png"
    assert main(["generate", "--models", models_toml, "--model", "tiny-dcgan", "-o", str(out), "--device", "cpu",
                 "--no-watermark"]) == 0
    assert read_metadata(out)["watermark"] == RESEARCH_NO_WATERMARK
    os.environ.pop("GAN_STUDIO_WATERMARK", None)  # main() set it for its process


def test_an_input_saved_next_to_an_output_is_not_labelled_generated() -> None:
    data = output_bytes(_photo(), {"mode": "projection-target", "model": "x", "ai_generated": False})
    assert not detect_watermark(Image.open(io.BytesIO(data))).found
    assert verify_bytes(data).manifest["state"] == "absent" and read_metadata(data)["mode"] == "projection-target"


def test_without_the_watermark_library_outputs_are_still_signed_and_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """opencv needs libGL.so.1; a slim container without it cannot load the watermark library."""
    import sys

    from gan_studio.credentials import watermark

    monkeypatch.setitem(sys.modules, "imwatermark.dwtDctSvd", None)  # import now raises ImportError
    monkeypatch.setattr(watermark, "_IMPORT_ERROR", None)
    data = output_bytes(_photo(), PARAMS)
    assert "could not be loaded" in read_metadata(data)["watermark"]
    result = verify_bytes(data)
    assert result.verdict == "intact" and not result.watermark["checked"]
    assert "could not be loaded" in result.watermark["note"]


def test_small_outputs_are_left_unmarked_and_say_so() -> None:
    digit = Image.new("RGB", (32, 32), (10, 10, 10))
    marked, record = embed_watermark(digit)
    assert marked is digit and "below the watermark's minimum" in record
    assert not detect_watermark(digit).checked


def test_watermark_found_on_studio_outputs_and_not_on_real_photos() -> None:
    """The measured behaviour at small scale: outputs of two embedded models, clean and after JPEG q90
    and a PNG→JPEG→PNG round trip, are found; none of the bundled real photos (and crops) is."""
    import torch

    from bench.credentials import ATTACKS, real_photos
    from gan_studio.studio import Studio

    torch.set_num_threads(1)
    studio = Studio(device="cpu", precision="fp32", batching=False)
    outputs = [studio.translate("photo2sketch", _photo("coffee.jpg", 288), direction="AtoB").image,
               studio.colorize("photo-colorizer", _photo("chelsea-bw.jpg", 288).convert("L")).image]
    outputs = [im if im.width * im.height >= 256 * 256 else im.resize((288, 288)) for im in outputs]
    for clean in outputs:
        marked, _ = embed_watermark(clean)
        for attack in ("none", "JPEG q90", "PNG→JPEG→PNG"):
            assert detect_watermark(ATTACKS[attack](marked)).found, attack
    photos = real_photos()
    assert len(photos) >= 50
    worst = max(detect_watermark(im).matches for _, im in photos)
    assert worst < DETECT_MIN_MATCHES


def test_verify_survives_the_hostile_corpus(tmp_path: Path) -> None:
    from hostile_images import hostile_corpus

    corpus = hostile_corpus(tmp_path)
    for name, path, expected in corpus:
        result = verify_file(path)
        assert result.verdict in ("not_identified", "unreadable", "tampered"), name
        if expected == "error":
            assert result.verdict != "not_identified" or result.decode_error is None, name
        json.dumps(result.to_json(), default=str)
    assert len(corpus) > 10


def test_the_local_key_stays_in_the_cache_and_out_of_outputs(signed: bytes, local_signing_key: Path) -> None:
    identity = load_identity()
    assert identity.local and credentials_dir() == local_signing_key
    key_file = local_signing_key / "signer.key"
    assert key_file.stat().st_mode & 0o077 == 0
    body = b"".join(line for line in identity.key_pem.splitlines() if not line.startswith(b"-----"))
    assert body and body not in signed and identity.key_pem not in signed
    assert "hidden" in repr(identity) and body.decode() not in repr(identity)
    assert not (REPO / "signer.key").exists()


def _ca_and_leaf(org: str) -> tuple[bytes, bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{org} CA"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{org} signer"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])

    def usage(sign: bool) -> Any:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=not sign, crl_sign=not sign,
                             encipher_only=False, decipher_only=False)

    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(leaf_name).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (leaf.public_bytes(pem) + ca.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), ca.public_bytes(pem))


def test_a_deployment_key_from_the_environment_signs_and_its_trust_anchor_makes_it_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chain, key, anchor = _ca_and_leaf("Example Deployer")
    key_file = tmp_path / "deploy.key"
    key_file.write_bytes(key)
    monkeypatch.setenv("GAN_STUDIO_C2PA_CERT", chain.decode())  # PEM text, as a Spaces secret gives it
    monkeypatch.setenv("GAN_STUDIO_C2PA_KEY", str(key_file))     # or a file path
    assert load_identity().local is False
    data = output_bytes(_photo(), PARAMS)
    result = verify_bytes(data)
    assert result.manifest["issuer"] == "Example Deployer" and result.manifest["self_signed"] is True  # no anchor yet
    monkeypatch.setenv("GAN_STUDIO_C2PA_TRUST", anchor.decode())
    result = verify_bytes(data)
    assert result.verdict == "intact" and result.manifest["trusted"] and not result.manifest["self_signed"]
    monkeypatch.setenv("GAN_STUDIO_C2PA_KEY", "")
    with pytest.raises(UserInputError, match="set both"):
        load_identity()
    monkeypatch.setenv("GAN_STUDIO_C2PA_TRUST", str(tmp_path / "missing.pem"))
    with pytest.raises(UserInputError, match="no such file"):
        verify_bytes(data)


def test_c2pa_refuses_a_bare_self_signed_certificate() -> None:
    """Why the local key is a CA plus a signing certificate: c2pa rejects a self-signed end entity."""
    import c2pa
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bare")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3))
            .sign(key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, cert.public_bytes(pem),
                               key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), None)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    buf.seek(0)
    with pytest.raises(c2pa.C2paError, match="certificate"):
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder({"claim_generator_info": [{"name": "t"}]}) as builder:
            builder.sign(signer, "image/png", buf, io.BytesIO())


def test_chain_steps_and_studio_inputs_are_recorded(signed: bytes) -> None:
    params = {**PARAMS, "chain": [{"model": "digits-dcgan", "seed": 1}, {"model": "photo2sketch", "direction": "AtoB"}]}
    data = output_bytes(_photo(), params, ingredients=[("input.png", signed)])
    result = verify_bytes(data)
    assert result.verdict == "intact"
    steps = result.manifest["steps"]
    assert [s["action"] for s in steps] == ["c2pa.created", "c2pa.edited", "c2pa.edited"]
    assert steps[0]["parameters"]["model"] == "digits-dcgan"
    assert result.manifest["ingredients"] == ["input.png"]


def test_the_cli_records_a_studio_input_as_an_ingredient(tmp_path: Path, signed: bytes) -> None:
    from gan_studio.cli import main

    first = tmp_path / "first.png"
    first.write_bytes(signed)
    out = tmp_path / "second.png"
    assert main(["translate", "--model", "photo2sketch", str(first), "--direction", "AtoB", "-o", str(out),
                 "--device", "cpu"]) == 0
    result = verify_file(out)
    assert result.verdict == "intact" and result.manifest["ingredients"] == ["first.png"]
    # a photo from elsewhere is no ingredient; a damaged "studio-looking" file does not stop the output
    plain, odd = tmp_path / "plain.png", tmp_path / "odd.png"
    assert main(["translate", "--model", "photo2sketch", str(REPO / "examples" / "coffee.jpg"), "-o", str(plain),
                 "--device", "cpu"]) == 0
    assert verify_file(plain).manifest["ingredients"] == []
    up = tmp_path / "up"
    assert main(["upscale", str(first), "-o", str(up), "--scale", "2", "--device", "cpu"]) == 0
    assert verify_file(next(up.glob("*.png"))).manifest["ingredients"] == ["first.png"]
    odd_input = tmp_path / "odd-input.png"
    odd_input.write_bytes(_damaged_png(signed))
    assert main(["translate", "--model", "photo2sketch", str(odd_input), "-o", str(odd), "--device", "cpu"]) == 0
    assert verify_file(odd).verdict == "intact"


def _damaged_png(signed: bytes) -> bytes:
    chunks = _chunks(signed)
    manifest = next(c for k, c in chunks if k == b"caBX")
    broken = manifest[:8] + bytes(len(manifest) - 12) + struct.pack(">I", zlib.crc32(manifest[4:8] + bytes(len(manifest) - 12)))
    return signed.replace(manifest, broken)


def test_a_garbled_manifest_is_reported_not_fatal(signed: bytes) -> None:
    result = verify_bytes(_damaged_png(signed))
    assert result.verdict == "tampered" and result.manifest["state"] == "tampered"


@pytest.fixture(scope="module")
def editing_off_app(app_env: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from launched_app import launch_app

    app = launch_app(tmp_path_factory.mktemp("editing-off"), public=True, photo_editing=False)
    yield app
    app.close()


def test_photo_editing_can_be_switched_off_by_the_deployer(editing_off_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from gradio_client import handle_file

    from gan_studio.app import parse_args

    assert parse_args(["--no-photo-editing"]).photo_editing is False
    assert parse_args([]).photo_editing is True
    monkeypatch.setenv("GAN_STUDIO_PHOTO_EDITING", "0")
    assert parse_args([]).photo_editing is False
    app = editing_off_app
    notices = [c["props"].get("value") for c in app.demo.config["components"] if c.get("props", {}).get("elem_id") == "style-consent"]
    assert notices and "switched off" in str(notices[0])
    photo = REPO / "examples" / "astronaut.jpg"
    with pytest.raises(Exception, match="switched off"):
        app.client.predict("ui-stylegan2", handle_file(str(photo)), 20, "w", api_name="/style_project")


def test_the_inspect_tab_checks_credentials(editing_off_app: Any, signed: bytes, tmp_path: Path) -> None:
    from gradio_client import handle_file

    good = tmp_path / "studio.png"
    good.write_bytes(signed)
    report, record = editing_off_app.client.predict(handle_file(str(good)), api_name="/verify_image")
    assert "Studio output, Content Credentials intact" in report and "self-signed: yes" in report
    assert record["verdict"] == "intact" and record["file"] == "uploaded image"
    report, record = editing_off_app.client.predict(handle_file(str(REPO / "examples" / "chelsea.jpg")),
                                                    api_name="/verify_image")
    assert "does *not* mean the image is real" in report and record["exit_code"] == 1


def test_the_app_records_a_studio_upload_as_an_ingredient(editing_off_app: Any, signed: bytes, tmp_path: Path) -> None:
    """As the CLI does: a studio output uploaded to a tab (Upscale, Colorize) is the result's C2PA
    ingredient; a photo from elsewhere is none."""
    from gradio_client import handle_file

    first = tmp_path / "first.png"
    first.write_bytes(signed)
    client = editing_off_app.client
    (_, _), download = client.predict(image=handle_file(str(first)), model="ui-upscaler", scale=2, tile=256,
                                      api_name="/upscale")
    result = verify_file(download)
    assert result.verdict == "intact" and result.manifest["ingredients"] == ["first.png"]
    (_, _), colorized = client.predict(handle_file(str(first)), "ui-colorizer", 0, api_name="/colorize")
    assert verify_file(colorized).manifest["ingredients"] == ["first.png"]
    plain = tmp_path / "plain.png"
    _photo().save(plain)
    (_, _), download = client.predict(image=handle_file(str(plain)), model="ui-upscaler", scale=2, tile=256,
                                      api_name="/upscale")
    assert verify_file(download).verdict == "intact" and verify_file(download).manifest["ingredients"] == []
