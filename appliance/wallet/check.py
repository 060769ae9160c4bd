"""Our own checks of a .pkpass, covering what Apple's validator looks at before a phone does."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from ..clock import utcnow
from .images import SCALES, SIZES

STYLES = ("boardingPass", "coupon", "eventTicket", "generic", "storeCard")
REQUIRED = ("formatVersion", "passTypeIdentifier", "teamIdentifier", "serialNumber",
            "organizationName", "description")  # fmt: skip
BARCODE_FORMATS = ("PKBarcodeFormatQR", "PKBarcodeFormatPDF417", "PKBarcodeFormatAztec",
                   "PKBarcodeFormatCode128")  # fmt: skip


def _attr(cert, oid) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def check_pkpass(data: bytes, root: x509.Certificate | None = None, now: datetime | None = None):
    """Problems found in a .pkpass as sentences; [] when it is good.

    With `root`, the certificate chain must lead to it and the CMS signature is verified by
    openssl against it (the same check Apple's side makes with Apple's root).
    """
    now = now or utcnow()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        files = {name: zf.read(name) for name in zf.namelist()}
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        return [f"not a zip archive: {exc}"]
    problems = []
    for name in ("pass.json", "manifest.json", "signature", "icon.png"):
        if name not in files:
            problems.append(f"{name} is missing")
    if problems:
        return problems
    problems += _check_manifest(files)
    try:
        content = json.loads(files["pass.json"])
    except ValueError as exc:
        return problems + [f"pass.json is not JSON: {exc}"]
    problems += _check_content(content)
    problems += _check_images(files)
    problems += _check_signature(files, content, root, now)
    return problems


def _check_manifest(files) -> list[str]:
    try:
        listed = json.loads(files["manifest.json"])
    except ValueError:
        return ["manifest.json is not JSON"]
    problems = []
    for name, data in files.items():
        if name in ("manifest.json", "signature") or name.endswith("/"):
            continue
        if listed.get(name) != hashlib.sha1(data).hexdigest():
            problems.append(f"manifest.json has no or a wrong SHA-1 for {name}")
    problems += [f"manifest.json lists {n}, which is not in the bundle"
                 for n in listed if n not in files]  # fmt: skip
    return problems


def _check_content(content: dict) -> list[str]:
    problems = [f"pass.json lacks {key}" for key in REQUIRED if key not in content]
    if content.get("formatVersion") != 1:
        problems.append("formatVersion must be 1")
    styles = [s for s in STYLES if s in content]
    if len(styles) != 1:
        problems.append(f"pass.json needs exactly one style key, has {styles}")
    url, token = content.get("webServiceURL"), content.get("authenticationToken")
    if (url is None) != (token is None):
        problems.append("webServiceURL and authenticationToken go together")
    if url is not None and not str(url).startswith("https://"):
        problems.append("webServiceURL must be https")
    if token is not None and len(str(token)) < 16:
        problems.append("authenticationToken must have at least 16 characters")
    for barcode in content.get("barcodes", []):
        if barcode.get("format") not in BARCODE_FORMATS or not barcode.get("message"):
            problems.append(f"bad barcode {barcode}")
        if not barcode.get("messageEncoding"):
            problems.append("a barcode lacks messageEncoding")
    for field in _fields(content, styles):
        if "key" not in field or "value" not in field:
            problems.append(f"a field lacks key or value: {field}")
        elif "changeMessage" in field and "%@" not in field["changeMessage"]:
            problems.append(f"changeMessage of {field['key']} lacks %@")
    keys = [f.get("key") for f in _fields(content, styles)]
    if len(keys) != len(set(keys)):
        problems.append("field keys must be unique")
    for name in ("foregroundColor", "backgroundColor", "labelColor"):
        if name in content and not _RGB.match(str(content[name])):
            problems.append(f"{name} must be written rgb(r, g, b)")
    return problems + _check_locations(content.get("locations", []))


_RGB = re.compile(r"^rgb\(\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*\)$")


def _check_locations(locations) -> list[str]:
    if not isinstance(locations, list) or len(locations) > 10:
        return ["locations must be a list of at most 10 places"]
    problems = []
    for place in locations:
        lat, lon = place.get("latitude"), place.get("longitude")
        if not all(isinstance(v, int | float) for v in (lat, lon)) or not (
            -90 <= lat <= 90 and -180 <= lon <= 180
        ):
            problems.append(f"a location needs latitude and longitude in range: {place}")
    return problems


def _fields(content, styles):
    for style in styles:
        for group in ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields",
                      "backFields"):  # fmt: skip
            yield from content[style].get(group, [])


def _check_images(files) -> list[str]:
    from PIL import Image

    problems = []
    for kind, (width, height) in SIZES.items():
        for scale in SCALES:
            name = f"{kind}{'' if scale == 1 else f'@{scale}x'}.png"
            if name not in files:
                continue
            try:
                size = Image.open(io.BytesIO(files[name])).size
            except (OSError, ValueError):  # PIL's UnidentifiedImageError is an OSError
                problems.append(f"{name} is not a PNG picture")
                continue
            exact = kind == "icon"
            limit = (width * scale, height * scale)
            if (size != limit) if exact else (size[0] > limit[0] or size[1] > limit[1]):
                problems.append(f"{name} is {size[0]}x{size[1]}, expected {limit[0]}x{limit[1]}")
    return problems


def _check_signature(files, content, root, now) -> list[str]:
    try:
        certs = pkcs7.load_der_pkcs7_certificates(files["signature"])
    except ValueError as exc:
        return [f"signature is not DER PKCS#7: {exc}"]
    signer = [c for c in certs if _attr(c, NameOID.USER_ID)]
    if len(signer) != 1:
        return ["signature must carry one Pass Type ID certificate"]
    cert = signer[0]
    problems = []
    if _attr(cert, NameOID.USER_ID) != content.get("passTypeIdentifier"):
        problems.append("passTypeIdentifier does not match the certificate's UID")
    if _attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME) != content.get("teamIdentifier"):
        problems.append("teamIdentifier does not match the certificate's OU")
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        problems.append("the pass certificate is not valid now")
    issuers = [c for c in certs if c.subject == cert.issuer]
    if not issuers:
        return problems + ["signature does not embed the WWDR intermediate"]
    try:
        cert.verify_directly_issued_by(issuers[0])
        if root is not None:
            issuers[0].verify_directly_issued_by(root)
    except (ValueError, TypeError, Exception) as exc:  # InvalidSignature has no message
        problems.append(f"certificate chain broken: {type(exc).__name__} {exc}")
    if root is not None and not problems:
        problems += verify_cms(files["manifest.json"], files["signature"], root)
    return problems


def verify_cms(manifest: bytes, signature: bytes, root: x509.Certificate) -> list[str]:
    """openssl cms -verify -binary (the detached signature over the manifest's exact bytes)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return ["openssl is not installed: the signature cannot be verified here"]
    from cryptography.hazmat.primitives.serialization import Encoding

    with tempfile.TemporaryDirectory() as tmp:
        paths = {n: Path(tmp, n) for n in ("manifest.json", "signature", "root.pem")}
        paths["manifest.json"].write_bytes(manifest)
        paths["signature"].write_bytes(signature)
        paths["root.pem"].write_bytes(root.public_bytes(Encoding.PEM))
        run = subprocess.run(
            [openssl, "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
             "-in", paths["signature"], "-content", paths["manifest.json"],
             "-CAfile", paths["root.pem"], "-out", "/dev/null"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    if run.returncode != 0:
        return [f"signature does not verify: {run.stderr.strip()[-300:]}"]
    return []
