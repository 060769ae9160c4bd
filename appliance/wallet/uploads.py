"""The owner's uploads, checked before they are stored: a certificate must carry the identifiers
the box uses, a key must belong to its certificate, the WWDR intermediate must have issued it,
a Google key must be a service account's JSON key. A refusal says what is wrong and what to do.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from PIL import Image, UnidentifiedImageError

from ..audit import audit
from ..clock import utcnow
from ..refusal import N_, Refusal
from .apple import AppleSigner
from .setup import (
    WalletLook,
    fixed_by_box,
    load_look,
    logo_file,
    setup_settings,
    store_values,
    upload_path,
    write_secret,
)

PASS_TYPE_ID = re.compile(r"^pass(\.[A-Za-z0-9-]+){2,}$")
TEAM_ID = re.compile(r"^[A-Z0-9]{10}$")
ISSUER_ID = re.compile(r"^[0-9]{6,25}$")
KEY_ID = re.compile(r"^[A-Z0-9]{10}$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_LOGO_PIXELS = 4000 * 4000


class SetupError(Refusal):
    """An upload or value the wallet cannot work with; the message is for the owner."""


def _refuse_fixed(settings, names) -> None:
    fixed = fixed_by_box(settings) & set(names)
    if fixed:
        env = ", ".join(sorted(f"STAMPBOX_{n.upper()}" for n in fixed))
        raise SetupError(
            N_("The box's configuration sets %(names)s: change it there, not here."), names=env
        )


# each refusal about one of the files, whole for each file (a sentence is translated whole)
_NOT_A_CERTIFICATE = {
    "Pass Type ID certificate": N_(
        "The Pass Type ID certificate is not a certificate (a .cer or .pem file)."
    ),
    "WWDR certificate": N_("The WWDR certificate is not a certificate (a .cer or .pem file)."),
    "certificate": N_("The certificate is not a certificate (a .cer or .pem file)."),
}
_PROTECTED = {
    "private key": N_(
        "The private key is protected by a password: export it without one, or upload the"
        " .p12 file with its password."
    ),
    "Google key's private key": N_(
        "The Google key's private key is protected by a password: export it without one, or"
        " upload the .p12 file with its password."
    ),
    "APNs key": N_(
        "The APNs key is protected by a password: export it without one, or upload the .p12"
        " file with its password."
    ),
}
_NOT_A_KEY = {
    "private key": N_("The private key is not a private key file (.pem or .key)."),
    "Google key's private key": N_(
        "The Google key's private key is not a private key file (.pem or .key)."
    ),
    "APNs key": N_("The APNs key is not a private key file (.pem or .key)."),
}
_MISSING = {
    "Pass Type ID certificate": N_(
        "The Pass Type ID certificate is missing: upload it together with the others."
    ),
    "WWDR certificate": N_("The WWDR certificate is missing: upload it together with the others."),
}


def load_certificate(data: bytes, what: str) -> x509.Certificate:
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise SetupError(_NOT_A_CERTIFICATE[what]) from None


def load_private_key(data: bytes, what: str = "private key"):
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_der_private_key(data, password=None)
    except TypeError:
        raise SetupError(_PROTECTED[what]) from None
    except ValueError:
        raise SetupError(_NOT_A_KEY[what]) from None


def _public(key) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def check_apple(cert, key, wwdr, pass_type_id: str, team_id: str, now=None) -> AppleSigner:
    """The combination must sign passes phones accept. Raises SetupError."""
    signer = AppleSigner(cert, key, wwdr)
    if not signer.pass_type_id:
        raise SetupError(
            N_("This is not a Pass Type ID certificate: it names no pass type identifier.")
        )
    for template, wanted, actual in (
        (
            N_(
                "The certificate is for the pass type identifier %(actual)r, but the box uses"
                " %(wanted)r: upload the certificate made for %(wanted)r or change the"
                " identifier."
            ),
            pass_type_id,
            signer.pass_type_id,
        ),
        (
            N_(
                "The certificate is for the team identifier %(actual)r, but the box uses"
                " %(wanted)r: upload the certificate made for %(wanted)r or change the"
                " identifier."
            ),
            team_id,
            signer.team_id,
        ),
    ):
        if wanted and wanted != actual:
            raise SetupError(template, actual=actual, wanted=wanted)
    if _public(key.public_key()) != _public(cert.public_key()):
        raise SetupError(
            N_(
                "The private key does not belong to this certificate: upload the key that was"
                " made with its signing request (or the .p12 exported with it)."
            )
        )
    try:
        cert.verify_directly_issued_by(wwdr)
    except (ValueError, TypeError, InvalidSignature):
        raise SetupError(
            N_(
                "The WWDR certificate did not issue this Pass Type ID certificate: download the"
                " intermediate named in it (Apple's WWDR G4) and upload that."
            )
        ) from None
    now = now or utcnow()
    if cert.not_valid_after_utc < now.astimezone(UTC):
        day = cert.not_valid_after_utc.date().isoformat()
        raise SetupError(
            N_("The certificate expired on %(day)s: make a new one at Apple."), day=day
        )
    return signer


def save_apple(
    box, actor: str, cert=b"", key=b"", wwdr=b"", p12=b"", p12_password="", now=None
) -> AppleSigner:
    """Store the Pass Type ID certificate, its key and the WWDR certificate.

    Missing parts are taken from what is stored already, so a renewed certificate or a new WWDR
    can come alone; the combination is checked before anything is written.
    """
    names = [n for n, d in (("apple_cert", cert or p12), ("apple_key", key or p12),
                            ("apple_wwdr", wwdr)) if d]  # fmt: skip
    if not names:
        raise SetupError(N_("Choose the files to upload."))
    _refuse_fixed(box.settings, names)
    current = setup_settings(box.settings, box.db)
    if p12:
        try:
            p12_key, p12_cert, extra = pkcs12.load_key_and_certificates(
                p12, p12_password.encode() or None
            )
        except ValueError:
            raise SetupError(
                N_("Cannot open the .p12 file: wrong password or not a .p12.")
            ) from None
        if p12_key is None or p12_cert is None:
            raise SetupError(N_("The .p12 file must hold the certificate and its private key."))
        cert_obj, key_obj = p12_cert, p12_key
    else:
        cert_obj = load_certificate(cert, "Pass Type ID certificate") if cert else None
        key_obj = load_private_key(key) if key else None
    wwdr_obj = load_certificate(wwdr, "WWDR certificate") if wwdr else None
    if p12 and wwdr_obj is None and "apple_wwdr" not in fixed_by_box(box.settings):
        # Keychain exports may carry the intermediate along: use it when it is the issuer
        wwdr_obj = next((c for c in extra or () if c.subject == cert_obj.issuer), None)
        if wwdr_obj is not None:
            names.append("apple_wwdr")
    cert_obj = cert_obj or _stored_cert(current.apple_cert, "Pass Type ID certificate")
    key_obj = key_obj or _stored_key(current.apple_key)
    wwdr_obj = wwdr_obj or _stored_cert(current.apple_wwdr, "WWDR certificate")
    signer = check_apple(
        cert_obj, key_obj, wwdr_obj, current.apple_pass_type_id, current.apple_team_id, now
    )
    pem = serialization.Encoding.PEM
    files = {
        "apple_cert": cert_obj.public_bytes(pem),
        "apple_key": key_obj.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "apple_wwdr": wwdr_obj.public_bytes(pem),
    }
    for name in names:
        write_secret(upload_path(box.settings, name), files[name])
    with box.db.atomic():
        audit(actor, "wallet.apple", now, files=names, pass_type_id=signer.pass_type_id,
              team_id=signer.team_id)  # fmt: skip
    return signer


def _stored_cert(path: str, what: str) -> x509.Certificate:
    if not path:
        raise SetupError(_MISSING[what])
    return load_certificate(Path(path).read_bytes(), what)


def _stored_key(path: str):
    if not path:
        raise SetupError(N_("The private key is missing: upload it together with the certificate."))
    return load_private_key(Path(path).read_bytes())


def check_google_key(data: bytes) -> dict:
    """A service account's JSON key as Google's console downloads it. Raises SetupError."""
    try:
        info = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SetupError(N_("The Google key is not a JSON file: download the JSON key.")) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise SetupError(N_("The Google key must be a service account's JSON key."))
    missing = [k for k in ("client_email", "private_key", "token_uri")
               if not isinstance(info.get(k), str) or not info[k]]  # fmt: skip
    if missing:
        raise SetupError(
            N_("The Google key lacks %(fields)s: download a new JSON key."),
            fields=", ".join(missing),
        )
    key = load_private_key(info["private_key"].encode(), "Google key's private key")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SetupError(N_("The Google key's private key must be an RSA key."))
    return info


def save_google_key(box, actor: str, data: bytes, now=None) -> dict:
    _refuse_fixed(box.settings, ["google_service_account"])
    info = check_google_key(data)
    write_secret(upload_path(box.settings, "google_service_account"), data)
    with box.db.atomic():
        audit(actor, "wallet.google_key", now, client_email=info["client_email"])
    return info


def save_apns_key(box, actor: str, data: bytes, key_id: str, team_id: str, now=None) -> None:
    """The .p8 key for APNs token authentication (an option to the certificate)."""
    _refuse_fixed(box.settings, ["apns_key_file"])
    key = load_private_key(data, "APNs key")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SetupError(N_("The APNs key must be the .p8 file Apple gives (an ES256 key)."))
    values = _checked_ids(box, {"apns_key_id": key_id, "apns_team_id": team_id})
    if not values.get("apns_key_id") and not box.settings.apns_key_id:
        raise SetupError(
            N_("Give the key's Key ID (10 characters, shown next to the key at Apple).")
        )
    write_secret(upload_path(box.settings, "apns_key_file"), data)
    with box.db.atomic():
        store_values(box.db, values)
        audit(actor, "wallet.apns_key", now, **values)


def remove_apns_key(box, actor: str, now=None) -> None:
    """Back to certificate authentication."""
    _refuse_fixed(box.settings, ["apns_key_file"])
    upload_path(box.settings, "apns_key_file").unlink(missing_ok=True)
    with box.db.atomic():
        store_values(box.db, {"apns_key_id": "", "apns_team_id": ""})
        audit(actor, "wallet.apns_key_removed", now)


_ID_FORMATS = {
    "apple_pass_type_id": (PASS_TYPE_ID, N_("The pass type identifier looks like "
                                            "pass.com.example.cafe.")),
    "apple_team_id": (TEAM_ID, N_("The team identifier is 10 capital letters and digits.")),
    "google_issuer_id": (ISSUER_ID, N_("The Google issuer ID is the number shown in the Google "
                                       "Pay & Wallet console.")),
    "apns_key_id": (KEY_ID, N_("The key ID is 10 capital letters and digits.")),
    "apns_team_id": (TEAM_ID, N_("The team identifier is 10 capital letters and digits.")),
}  # fmt: skip


def _checked_ids(box, values: dict) -> dict:
    out = {}
    for name, raw in values.items():
        if name in fixed_by_box(box.settings):
            continue  # shown read-only; the configuration's value stays
        value = str(raw or "").strip()
        pattern, message = _ID_FORMATS[name]
        if value and not pattern.match(value):
            raise SetupError(message)
        out[name] = value
    return out


def save_identifiers(box, actor: str, values: dict, now=None) -> dict:
    """Pass type id, team id, Google issuer id; checked against a stored certificate."""
    names = ("apple_pass_type_id", "apple_team_id", "google_issuer_id")
    checked = _checked_ids(box, {n: values.get(n, "") for n in names})
    current = setup_settings(box.settings, box.db)
    if current.apple_cert:
        cert = load_certificate(Path(current.apple_cert).read_bytes(), "certificate")
        signer = AppleSigner(cert, None, None)
        for name, actual in (("apple_pass_type_id", signer.pass_type_id),
                             ("apple_team_id", signer.team_id)):  # fmt: skip
            if checked.get(name) and checked[name] != actual:
                raise SetupError(
                    N_(
                        "The uploaded certificate is for %(actual)r, not %(wanted)r: upload the"
                        " certificate made for it first."
                    ),
                    actual=actual,
                    wanted=checked[name],
                )
    with box.db.atomic():
        store_values(box.db, checked)
        audit(actor, "wallet.identifiers", now, **checked)
    return checked


def save_look(box, actor: str, values: dict, now=None) -> WalletLook:
    """Colours and the optional shop location (empty latitude and longitude: none)."""
    colours = {}
    for name in ("background", "foreground", "label"):
        value = str(values.get(name, "")).strip() or getattr(WalletLook, name)
        if not COLOUR.match(value):
            raise SetupError(N_("Colours are written like #3c2415."))
        colours[name] = value.lower()
    lat, lon = (str(values.get(n, "")).strip().replace(",", ".") for n in ("latitude", "longitude"))
    if bool(lat) != bool(lon):
        raise SetupError(N_("Give both latitude and longitude of the shop, or neither."))
    place = {"latitude": "", "longitude": ""}
    if lat:
        try:
            latitude, longitude = float(lat), float(lon)
        except ValueError:
            raise SetupError(
                N_("Latitude and longitude are numbers like 52.5200 and 13.4050.")
            ) from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise SetupError(N_("Latitude is between -90 and 90, longitude between -180 and 180."))
        place = {"latitude": f"{latitude:.6f}", "longitude": f"{longitude:.6f}"}
    text = " ".join(str(values.get("relevant_text", "")).split())[:80]
    stored = {**colours, **place, "relevant_text": text}
    with box.db.atomic():
        store_values(box.db, stored)
        audit(actor, "wallet.look", now, **stored)
    return load_look(box.db)


def save_pass_logo(box, actor: str, data: bytes, now=None) -> None:
    """The pass logo: any PNG or JPEG, stored as a PNG at most 480x150 (3x of 160x50 points)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG"):
                raise SetupError(N_("The logo must be a PNG or JPEG picture."))
            if image.width * image.height > MAX_LOGO_PIXELS:
                raise SetupError(N_("The logo is too large: at most 4000 by 4000 pixels."))
            picture = image.convert("RGBA")
    except Image.DecompressionBombError:
        raise SetupError(N_("The logo is too large: at most 4000 by 4000 pixels.")) from None
    except (UnidentifiedImageError, OSError):
        raise SetupError(N_("The logo must be a PNG or JPEG picture.")) from None
    picture.thumbnail((480, 150))
    out = io.BytesIO()
    picture.save(out, "PNG")
    path = logo_file(box.settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(out.getvalue())
    tmp.replace(path)
    with box.db.atomic():
        audit(actor, "wallet.logo", now, width=picture.width, height=picture.height)
