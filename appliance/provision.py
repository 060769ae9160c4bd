"""First start: data folder, secrets, schema, the default program and the owner account."""

from __future__ import annotations

from . import box as box_mod
from .keys import secret_bytes
from .program import ensure_default_program
from .settings import Settings
from .staff import create_owner


def init_box(settings: Settings | None = None, now=None) -> dict:
    """Idempotent: the owner's generated password is returned only the first time."""
    box = box_mod.start(settings)
    with box.db.atomic():
        ensure_default_program(now=now)
        owner = create_owner(now=now)
    secret_bytes(box.settings.secrets_dir, "web_session_key")
    return {"data_dir": str(box.settings.data_dir.resolve()), "owner": owner}


def queue_setup_slip(settings: Settings, owner: dict, now=None) -> int:
    """First boot: make the HTTPS certificate and queue the setup slip (admin address as a QR,
    the one-time login, the certificate's fingerprint). It prints when a printer is attached."""
    from .printing import enqueue
    from .receipts import Receipt, Text, setup_receipt
    from .tls import ensure_certificate

    tls = ensure_certificate(settings)
    url = settings.public_url.rstrip("/") + "/login"
    slip = setup_receipt(url, owner["username"], owner["password"], now=now)
    # the owner checks this once against the browser's warning for the box's own certificate
    slip = Receipt(
        slip.kind, (*slip.blocks, Text(f"HTTPS SHA-256: {tls['fingerprint_sha256']}")), slip.title
    )
    return enqueue(slip, now=now)
