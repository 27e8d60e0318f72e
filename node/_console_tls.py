"""The web console's certificate: made at ``init`` (or supplied), checked by its fingerprint.

A door tablet on the venue's network reaches the console over HTTPS only.
No certificate authority vouches for a venue's back-office box, so the node
makes a self-signed one (ECDSA P-256, ten years) and ``doorwatch status``
shows its SHA-256 fingerprint: staff compare it once with what the tablet's
browser shows. A venue with a certificate of its own sets ``console_cert``
and ``console_key`` (paths to PEM files) instead.
"""

from __future__ import annotations

import datetime
import hashlib
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from doorwatch.node._datadir import DataDir
from doorwatch.node._errors import DataDirError

__all__ = ["CERT_NAME", "KEY_NAME", "ensure_certificate", "fingerprint", "make_certificate"]

CERT_NAME = "console.crt"
KEY_NAME = "console.key"
LIFETIME = datetime.timedelta(days=3650)


def make_certificate(venue: str, now: datetime.datetime) -> tuple[bytes, bytes]:
    """A new self-signed certificate and its private key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Doorwatch console, {venue}"[:64])])
    host = socket.gethostname() or "localhost"
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + LIFETIME)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(host), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def ensure_certificate(d: DataDir, venue: str) -> tuple[Path, Path]:
    """The data directory's console certificate and key, made now if missing (a node
    initialised before the console existed)."""
    cert, key = d.path / CERT_NAME, d.path / KEY_NAME
    if not cert.exists() or not key.exists():
        cert_pem, key_pem = make_certificate(venue, datetime.datetime.now(datetime.UTC))
        d.write_secret(KEY_NAME, key_pem)
        d.write_secret(CERT_NAME, cert_pem)
    return cert, key


def fingerprint(cert_path: Path) -> str:
    """The certificate's SHA-256 fingerprint as browsers show it (AB:CD:...)."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise DataDirError(f"console certificate {cert_path}: cannot be read ({exc})") from None
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
