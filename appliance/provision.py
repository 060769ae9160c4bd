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
