"""The box's HTTPS certificate: made once, valid for stampbox.local, fingerprint as openssl says."""

import json
import subprocess

from cryptography import x509

from appliance.tls import ensure_certificate

from .conftest import T0


def test_the_certificate_is_made_once_and_names_the_box(settings):
    first = ensure_certificate(settings, hostname="stampbox", now=T0)
    again = ensure_certificate(settings, hostname="other", now=T0)
    assert first["created"] is True and again["created"] is False
    assert again["fingerprint_sha256"] == first["fingerprint_sha256"]
    cert = x509.load_pem_x509_certificate(open(first["cert"], "rb").read())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "stampbox.local" in names.get_values_for_type(x509.DNSName)
    assert (settings.secrets_dir / "tls" / "key.pem").stat().st_mode & 0o777 == 0o600


def test_the_fingerprint_is_what_openssl_shows(settings):
    info = ensure_certificate(settings, now=T0)
    out = subprocess.run(
        ["openssl", "x509", "-in", info["cert"], "-noout", "-fingerprint", "-sha256"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip().split("=", 1)[1] == info["fingerprint_sha256"]


def test_the_cli_makes_it_at_first_boot(init_info, stampbox):
    out = json.loads(stampbox("tls", "init", "--hostname", "stampbox", "--json").stdout)
    assert out["created"] is True and len(out["fingerprint_sha256"]) == 95
