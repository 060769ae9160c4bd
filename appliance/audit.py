"""The audit log: who changed what, for the owner to read back later."""

from __future__ import annotations

import json

from .clock import utcnow
from .models import AuditLog


def audit(actor: str, action: str, now=None, **detail) -> None:
    """Record one change; call inside the transaction that made it."""
    AuditLog.create(
        at=now or utcnow(),
        actor=str(actor)[:80],
        action=action,
        detail=json.dumps(detail, default=str, ensure_ascii=False),
    )
