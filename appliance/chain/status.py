"""The box's sync state for the admin and `stampbox chain status`."""

from __future__ import annotations

from ..clock import from_micros, iso, to_micros, utcnow
from .events import box_id


def sync_state(db, now=None) -> dict:
    """Pending events, the last event sent (last contact with JetStream) and the lag."""
    now_us = to_micros(now or utcnow())
    pending, oldest = db.execute_sql(
        "SELECT COUNT(*), MIN(created_at) FROM event WHERE sent_at IS NULL"
    ).fetchone()
    last_sent = db.execute_sql("SELECT MAX(sent_at) FROM event").fetchone()[0]
    return {
        "box_id": box_id(db),
        "pending_events": pending,
        "oldest_pending_at": iso(from_micros(oldest)) if oldest else None,
        "lag_seconds": round(max(0, now_us - oldest) / 1e6, 1) if oldest else 0.0,
        "last_sent_at": iso(from_micros(last_sent)) if last_sent else None,
    }
