"""Device health: what the bridge last saw of each device, for the admin and counter screen.

The bridge writes a row when a device's state changes (not on every tap: the hot path stays
one transaction), and stamps `last_event_at` at most once a minute per device.
"""

from __future__ import annotations

from datetime import datetime

from . import box as box_mod
from .clock import from_micros, iso, to_micros, utcnow
from .db import sql

_UPSERT = (
    "INSERT INTO device_health (name, kind, state, detail, last_event_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET kind = excluded.kind,"
    " state = excluded.state, detail = excluded.detail,"
    " last_event_at = COALESCE(excluded.last_event_at, device_health.last_event_at),"
    " updated_at = excluded.updated_at"
)


def record_health(
    name: str,
    kind: str,
    state: str,
    detail: str = "",
    *,
    event_at: datetime | None = None,
    now: datetime | None = None,
    box=None,
) -> None:
    """Write (or replace) a device's row; `event_at` is the moment of its last tap or slip."""
    box = box or box_mod.current()
    db = box.db
    now = now or utcnow()
    event = to_micros(event_at) if event_at else None
    with db.atomic():
        db.execute_sql(sql(_UPSERT, db), (name, kind, state, detail[:500], event, to_micros(now)))


def device_health(*, box=None) -> list[dict]:
    """Every device the bridge has reported, by name."""
    box = box or box_mod.current()
    rows = box.db.execute_sql(
        "SELECT name, kind, state, detail, last_event_at, updated_at FROM device_health"
        " ORDER BY name"
    ).fetchall()
    return [
        {
            "name": name,
            "kind": kind,
            "state": state,
            "detail": detail,
            "last_event_at": iso(from_micros(last)) if last else None,
            "updated_at": iso(from_micros(updated)),
        }
        for name, kind, state, detail, last, updated in rows
    ]
