"""The box's own HTTPS certificate, made at first boot: the shop network never sees a password
in clear. Its SHA-256 fingerprint goes on the setup slip so the owner can check it once."""

from __future__ import annotations

import ipaddress
import os
import socket
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .clock import utcnow

VALID_DAYS = 10 * 365


def tls_dir(settings) -> Path:
    return settings.secrets_dir / "tls"


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 fingerprint as browsers show it: AB:CD:..."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def ensure_certificate(settings, hostname: str = "stampbox", now=None) -> dict:
    """Create the key and self-signed certificate once; later calls return the existing one."""
    folder = tls_dir(settings)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    created = False
    if not cert_path.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        now = now or utcnow()
        names = [
            x509.DNSName(f"{hostname}.local"),
            x509.DNSName(hostname),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{hostname}.local"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stampbox"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        _write(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            0o600,
        )
        _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        created = True
    return {
        "cert": str(cert_path),
        "key": str(key_path),
        "created": created,
        "fingerprint_sha256": fingerprint(cert_path.read_bytes()),
    }


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def cmd_tls_init(args) -> int:
    from .cli import emit
    from .settings import load_settings

    info = ensure_certificate(load_settings(), hostname=args.hostname or socket.gethostname())
    verb = "Created" if info["created"] else "Kept"
    return emit(args, info, f"{verb} {info['cert']}\nSHA-256 {info['fingerprint_sha256']}")


def register(sub, add) -> None:
    tls = sub.add_parser("tls", help="the box's HTTPS certificate").add_subparsers(
        dest="tls_command", required=True, metavar="ACTION"
    )
    p = add("init", cmd_tls_init, "create the HTTPS certificate once (first boot)", tls)
    p.add_argument("--hostname", help="the box's name (default: this machine's)")
