"""The box's sync state for the admin, `stampbox chain status` and /admin/status.json."""

from __future__ import annotations

from ..clock import from_micros, iso, to_micros, utcnow
from ..db import sql
from .events import box_id

_CONTACT = "chain_last_contact"
_STATES_WAITING = "chain_states_waiting"
_SAVE = (
    "INSERT INTO shop_setting (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def record_contact(db, now_us: int, states_waiting: int) -> None:
    """The centre answered now, with this many states still to apply here."""
    with db.atomic():
        db.execute_sql(sql(_SAVE, db), (_CONTACT, str(now_us)))
        db.execute_sql(sql(_SAVE, db), (_STATES_WAITING, str(states_waiting)))


def _setting(db, key: str) -> str | None:
    row = db.execute_sql(sql("SELECT value FROM shop_setting WHERE key = ?", db), (key,))
    found = row.fetchone()
    return found[0] if found else None


def sync_state(db, now=None) -> dict:
    """Events waiting to be sent (and the oldest one's age: the lag), the last event handed
    to the box's JetStream, the last answer from the centre, states still to apply here,
    and the voucher conflicts the owner has not settled."""
    now_us = to_micros(now or utcnow())
    pending, oldest = db.execute_sql(
        "SELECT COUNT(*), MIN(created_at) FROM event WHERE sent_at IS NULL"
    ).fetchone()
    last_sent = db.execute_sql("SELECT MAX(sent_at) FROM event").fetchone()[0]
    contact = _setting(db, _CONTACT)
    conflicts = db.execute_sql(
        "SELECT COUNT(*) FROM chain_conflict WHERE resolved_at IS NULL"
    ).fetchone()[0]
    return {
        "box_id": box_id(db),
        "pending_events": pending,
        "oldest_pending_at": iso(from_micros(oldest)) if oldest else None,
        "lag_seconds": round(max(0, now_us - oldest) / 1e6, 1) if oldest else 0.0,
        "last_sent_at": iso(from_micros(last_sent)) if last_sent else None,
        "last_contact_at": iso(from_micros(int(contact))) if contact else None,
        "states_waiting": int(_setting(db, _STATES_WAITING) or 0),
        "open_conflicts": conflicts,
    }
