"""Apple Wallet passes: pass.json for a member's stamp card, the signed .pkpass bundle.

The signature is a detached DER PKCS#7 (CMS) over manifest.json's bytes, by the Pass Type ID
certificate with a SHA-256 digest, embedding Apple's WWDR intermediate and a signing time
(cryptography adds the signing-time attribute). Binary mode is essential: without it the
manifest is canonicalised as text (LF → CRLF) before signing and no verifier agrees.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from ..codes import format_code
from ..refusal import N_
from .cards import CardState, PassRecord, WalletError
from .images import hex_rgb, pass_images, stamp_colours

WEB_SERVICE_PATH = "/wallet/apple"
PKPASS_TYPE = "application/vnd.apple.pkpass"
# strings shown on the pass, per language the shop enables (xx.lproj/pass.strings)
STRINGS = {
    "en": {"STAMPS": "Stamps", "NEXT": "Next reward", "VOUCHERS": "Rewards waiting",
           "STATUS": "Your card", "CODE": "Card code", "OFFER": "News"},
    "kk": {"STAMPS": "Мөрлер", "NEXT": "Келесі сыйлық", "VOUCHERS": "Күтіп тұрған сыйлықтар",
           "STATUS": "Сіздің картаңыз", "CODE": "Карта коды", "OFFER": "Жаңалықтар"},
    "zh": {"STAMPS": "印章", "NEXT": "下一个奖励", "VOUCHERS": "待领取的奖励",
           "STATUS": "您的卡", "CODE": "卡号", "OFFER": "消息"},
    "he": {"STAMPS": "חותמות", "NEXT": "הפרס הבא", "VOUCHERS": "פרסים ממתינים",
           "STATUS": "הכרטיס שלך", "CODE": "קוד כרטיס", "OFFER": "חדשות"},
}  # fmt: skip


@dataclass(frozen=True)
class AppleSigner:
    """The Pass Type ID certificate, its key and the WWDR intermediate."""

    cert: x509.Certificate
    key: object
    wwdr: x509.Certificate

    @property
    def pass_type_id(self) -> str:
        return _name_attr(self.cert.subject, NameOID.USER_ID)

    @property
    def team_id(self) -> str:
        return _name_attr(self.cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)


def _name_attr(name: x509.Name, oid) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def _load_cert(data: bytes) -> x509.Certificate:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def load_signer(settings) -> AppleSigner:
    """Read the certificate files named by the settings. Raises WalletError saying which."""
    names = {
        "STAMPBOX_APPLE_CERT": settings.apple_cert,
        "STAMPBOX_APPLE_KEY": settings.apple_key,
        "STAMPBOX_APPLE_WWDR": settings.apple_wwdr,
    }
    data = {}
    for name, path in names.items():
        if not path:
            raise WalletError(N_("Apple Wallet is not set up: %(name)s is empty."), name=name)
        try:
            data[name] = Path(path).read_bytes()
        except OSError as exc:
            raise WalletError(
                N_("%(name)s: cannot read %(path)s: %(problem)s"),
                name=name,
                path=path,
                problem=exc.strerror,
            ) from None
    try:
        cert = _load_cert(data["STAMPBOX_APPLE_CERT"])
        wwdr = _load_cert(data["STAMPBOX_APPLE_WWDR"])
        key = serialization.load_pem_private_key(data["STAMPBOX_APPLE_KEY"], password=None)
    except ValueError as exc:
        raise WalletError(
            N_("Apple Wallet certificate files are not usable: %(problem)s"), problem=str(exc)
        ) from None
    signer = AppleSigner(cert, key, wwdr)
    # identifiers typed into the settings must be the certificate's, or every phone refuses
    for name, wanted, actual in (
        ("STAMPBOX_APPLE_PASS_TYPE_ID", settings.apple_pass_type_id, signer.pass_type_id),
        ("STAMPBOX_APPLE_TEAM_ID", settings.apple_team_id, signer.team_id),
    ):
        if wanted and wanted != actual:
            raise WalletError(
                N_("%(name)s is %(wanted)r but the certificate is for %(actual)r."),
                name=name,
                wanted=wanted,
                actual=actual,
            )
    return signer


@dataclass(frozen=True)
class PassStyle:
    organization: str
    web_service_url: str = ""  # "" leaves the pass static (no public https address)
    foreground: str = "#ffffff"  # colours as #rrggbb (the owner's choice in the admin)
    background: str = "#3c2415"
    label: str = "#e6c8aa"
    languages: tuple[str, ...] = ("en",)
    logo: bytes | None = None  # the owner's logo (PNG); None draws the shop's name
    # where the lock screen offers the pass: ({"latitude", "longitude", "relevantText"},)
    locations: tuple = ()


def _rgb(colour: str) -> str:
    """pass.json wants rgb(r, g, b)."""
    return "rgb({}, {}, {})".format(*hex_rgb(colour))


def web_service_url(public_url: str) -> str:
    """Apple only calls https web services; a plain-http box keeps its passes static."""
    return public_url.rstrip("/") + WEB_SERVICE_PATH if public_url.startswith("https://") else ""


def pass_json(state: CardState, record: PassRecord, signer: AppleSigner, style: PassStyle) -> dict:
    """The pass.json of a member's stamp card."""
    code = state.code
    vouchers = ", ".join(v["reward"] for v in state.vouchers) or "—"
    content = {
        "formatVersion": 1,
        "passTypeIdentifier": signer.pass_type_id,
        "teamIdentifier": signer.team_id,
        "serialNumber": record.serial,
        "organizationName": style.organization,
        "description": f"{style.organization} stamp card",
        "logoText": style.organization,
        "foregroundColor": _rgb(style.foreground),
        "backgroundColor": _rgb(style.background),
        "labelColor": _rgb(style.label),
        "sharingProhibited": True,
        "barcodes": [
            {
                "format": "PKBarcodeFormatQR",
                "message": code,
                "messageEncoding": "iso-8859-1",
                "altText": format_code(code),
            }
        ],
        "storeCard": {
            "headerFields": [
                {
                    "key": "stamps",
                    "label": "STAMPS",
                    "value": f"{state.stamps} / {state.stamps_needed}",
                    "changeMessage": state.text("stamps_changed"),
                }
            ],
            "secondaryFields": [
                {"key": "next", "label": "NEXT", "value": state.next_reward},
                {
                    "key": "vouchers",
                    "label": "VOUCHERS",
                    "value": vouchers,
                    "changeMessage": state.text("vouchers_changed"),
                },
            ],
            "backFields": [
                # the whole sentence as a value: the lock screen then reads
                # "You have 8 stamps — 2 to free coffee"
                {
                    "key": "status",
                    "label": "STATUS",
                    "value": state.status_line,
                    "changeMessage": "%@",
                },
                {"key": "code", "label": "CODE", "value": format_code(code)},
            ],
        },
    }
    if state.offer:
        # campaign messages reach Apple passes as a changed field: the lock screen shows it
        content["storeCard"]["backFields"].insert(
            0, {"key": "offer", "label": "OFFER", "value": state.offer, "changeMessage": "%@"}
        )
    if state.closed:
        # erased: the phone keeps a voided card with no code, name or count on it
        content.pop("barcodes")
        content["voided"] = True
        content["storeCard"] = {
            "backFields": [
                {"key": "status", "label": "STATUS", "value": state.text("closed"),
                 "changeMessage": "%@"}
            ]
        }  # fmt: skip
    if style.locations and not state.closed:
        content["locations"] = [dict(place) for place in style.locations[:10]]
    if style.web_service_url:
        content["webServiceURL"] = style.web_service_url
        content["authenticationToken"] = record.auth_token
    return content


def _dumps(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode()


def _strings(language: str) -> bytes:
    table = STRINGS.get(language, STRINGS["en"])
    lines = [f'"{k}" = "{v}";' for k, v in sorted(table.items())]
    # .strings files are read as UTF-16 by older iOS; UTF-8 works on current ones
    return ("\n".join(lines) + "\n").encode("utf-8")


def pass_files(state: CardState, record, signer: AppleSigner, style: PassStyle) -> dict:
    """Every file of the bundle except manifest.json and signature."""
    files = {"pass.json": _dumps(pass_json(state, record, signer, style))}
    colours = stamp_colours(style.background, style.foreground)
    files.update(
        pass_images(style.organization, state.stamps, state.stamps_needed, colours, style.logo)
    )
    for language in style.languages:
        files[f"{language}.lproj/pass.strings"] = _strings(language)
    return files


def manifest(files: dict[str, bytes]) -> bytes:
    return _dumps({name: hashlib.sha1(data).hexdigest() for name, data in files.items()})


def sign_manifest(manifest_bytes: bytes, signer: AppleSigner) -> bytes:
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest_bytes)
        .add_signer(signer.cert, signer.key, hashes.SHA256())
        .add_certificate(signer.wwdr)
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )


def build_pkpass(files: dict[str, bytes], signer: AppleSigner, modified: datetime | None = None):
    """Zip the files with their manifest and signature; returns the .pkpass bytes."""
    files = dict(files)
    files["manifest.json"] = manifest(files)
    files["signature"] = sign_manifest(files["manifest.json"], signer)
    out = io.BytesIO()
    stamp = (modified.timetuple()[:6]) if modified else (2026, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            zf.writestr(zipfile.ZipInfo(name, date_time=stamp), files[name])
    return out.getvalue()
