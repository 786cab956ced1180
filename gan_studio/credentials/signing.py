"""C2PA Content Credentials: the signing key, the manifest, and signing/reading with ``c2pa-python``.

Key and certificate come from the deployment: ``GAN_STUDIO_C2PA_CERT`` (a PEM certificate chain,
signer first) and ``GAN_STUDIO_C2PA_KEY`` (its PEM private key), each either a file path or the
PEM text itself (how Hugging Face Spaces hands secrets to an app). ``GAN_STUDIO_C2PA_TRUST`` may
name extra trust anchors (PEM) for verification.

Without them the studio makes a *local* key once: a small local CA and a signing certificate
under it (c2pa refuses a bare self-signed end-entity certificate), kept in the user's cache
directory (``GAN_STUDIO_CREDENTIALS_DIR``, else ``$XDG_CACHE_HOME/gan_studio/credentials``), file
mode 0600, never in the repository, never in outputs or logs. Its organisation name says
:data:`LOCAL_ORG`, and verification reports such manifests as self-signed: they prove the file is
unchanged since signing, not who signed it.
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import UserInputError
from ..metadata import DIGITAL_SOURCE_TYPE

__all__ = ["LOCAL_ORG", "SigningIdentity", "build_manifest", "load_identity", "sign_bytes"]

logger = logging.getLogger(__name__)

#: Organisation name of the locally generated certificates (verification looks for it).
LOCAL_ORG = "gan_studio local key (self-signed, not on any trust list)"
_CERT_ENV, _KEY_ENV = "GAN_STUDIO_C2PA_CERT", "GAN_STUDIO_C2PA_KEY"
MIME = {"PNG": "image/png", "JPEG": "image/jpeg"}


@dataclass(frozen=True)
class SigningIdentity:
    """A certificate chain and private key (PEM) to sign with; ``local`` when generated here."""

    chain_pem: bytes = b""
    key_pem: bytes = b""
    local: bool = True

    def __repr__(self) -> str:  # never print the key
        return f"SigningIdentity(local={self.local}, chain={len(self.chain_pem)} bytes, key=<hidden>)"


def _pem_from_env(name: str) -> bytes | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if value.startswith("-----BEGIN"):
        return value.encode("ascii") + b"\n"
    path = Path(value).expanduser()
    if not path.is_file():
        raise UserInputError(f"{name}={value!r}: no such file (give a PEM file path or the PEM text itself)")
    return path.read_bytes()


def credentials_dir() -> Path:
    """Where the local key lives (outside the repository)."""
    configured = os.environ.get("GAN_STUDIO_CREDENTIALS_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gan_studio" / "credentials"


def _generate_local(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, LOCAL_ORG)])

    def usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
                             crl_sign=not sign, encipher_only=False, decipher_only=False)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("gan_studio local CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(sign=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(name("gan_studio local signer")).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(sign=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    pem = serialization.Encoding.PEM
    key_bytes = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(folder / "signer.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_bytes)
    (folder / "chain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    logger.info("made a local self-signed C2PA signing key in %s (set %s/%s to sign with your own)",
                folder, _CERT_ENV, _KEY_ENV)


@functools.lru_cache(maxsize=4)
def _cached_identity(cert_env: str | None, key_env: str | None, folder: str) -> SigningIdentity:
    chain, key = _pem_from_env(_CERT_ENV), _pem_from_env(_KEY_ENV)
    if chain and key:
        return SigningIdentity(chain, key, local=False)
    if chain or key:
        raise UserInputError(f"set both {_CERT_ENV} and {_KEY_ENV} (only one is set)")
    path = Path(folder)
    if not ((path / "chain.pem").is_file() and (path / "signer.key").is_file()):
        _generate_local(path)
    return SigningIdentity((path / "chain.pem").read_bytes(), (path / "signer.key").read_bytes(), local=True)


def load_identity() -> SigningIdentity:
    """The deployment's signing identity, or the local one (made on first use)."""
    return _cached_identity(os.environ.get(_CERT_ENV), os.environ.get(_KEY_ENV), str(credentials_dir()))


def _signing_alg(key_pem: bytes) -> Any:
    import c2pa
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(key_pem, password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: c2pa.C2paSigningAlg.ES256, 384: c2pa.C2paSigningAlg.ES384}.get(key.curve.key_size,
                                                                                     c2pa.C2paSigningAlg.ES512)
    if isinstance(key, rsa.RSAPrivateKey):
        return c2pa.C2paSigningAlg.PS256
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return c2pa.C2paSigningAlg.ED25519
    raise UserInputError(f"unsupported C2PA signing key type {type(key).__name__} (use EC P-256/384, RSA-PSS or Ed25519)")


def build_manifest(params: Mapping[str, Any], *, title: str, fmt: str) -> dict[str, Any]:
    """The manifest definition: a ``c2pa.created`` action (trained algorithmic media) with the
    model, revision and parameters, and one ``c2pa.edited`` action per later step of a chain."""
    clean = json.loads(json.dumps(dict(params), default=str, sort_keys=True))
    chain = clean.pop("chain", None)
    agent = {"name": "gan_studio", "version": __version__}
    actions: list[dict[str, Any]] = []
    steps = chain if isinstance(chain, list) and chain else None
    if steps:
        for i, step in enumerate(steps):
            actions.append({"action": "c2pa.created" if i == 0 else "c2pa.edited", "softwareAgent": agent,
                            "digitalSourceType": DIGITAL_SOURCE_TYPE,
                            "parameters": {"step": i + 1, **(step if isinstance(step, dict) else {"value": step})}})
    actions.append({"action": "c2pa.edited" if steps else "c2pa.created", "softwareAgent": agent,
                    "digitalSourceType": DIGITAL_SOURCE_TYPE, "parameters": clean})
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": MIME[fmt],
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": actions}}],
    }


def _context(**settings: Any) -> Any:
    import c2pa

    base: dict[str, Any] = {"builder": {"thumbnail": {"enabled": False}}}
    base.update(settings)
    return c2pa.Context.from_dict(base)


def sign_bytes(data: bytes, fmt: str, params: Mapping[str, Any], *, title: str,
               ingredients: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """``data`` (an encoded PNG or JPEG) with a signed C2PA manifest embedded.

    ``ingredients``: ``(title, encoded image)`` pairs of inputs that carried studio provenance;
    each is recorded as a ``parentOf`` ingredient (its own manifest travels with it).
    """
    import c2pa

    identity = load_identity()
    info = c2pa.C2paSignerInfo(_signing_alg(identity.key_pem), identity.chain_pem, identity.key_pem, None)
    out = io.BytesIO()
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(build_manifest(params, title=title, fmt=fmt),
                                                             context=_context()) as builder:
        for name, blob in ingredients:
            kind = "image/png" if blob.startswith(b"\x89PNG") else "image/jpeg"
            try:
                builder.add_ingredient({"title": name, "relationship": "parentOf"}, kind, io.BytesIO(blob))
            except c2pa.C2paError as exc:  # a damaged input: the output is still written and signed
                logger.warning("input %s is not recorded as a C2PA ingredient: %s", name, str(exc)[:200])
        builder.sign(signer, MIME[fmt], io.BytesIO(data), out)
    return out.getvalue()


def trust_context() -> Any:
    """A c2pa context for reading: trust anchors from ``GAN_STUDIO_C2PA_TRUST`` when set."""
    anchors = _pem_from_env("GAN_STUDIO_C2PA_TRUST")
    if anchors:
        return _context(trust={"user_anchors": anchors.decode("ascii")}, verify={"verify_trust": True})
    return _context()
