"""The box's outgoing event log: one row per business change, in that change's transaction."""

from __future__ import annotations

import json
import uuid
from weakref import WeakKeyDictionary

from ..db import sql

# the payload's shape; the hub refuses what it does not know rather than guess
EVENT_SCHEMA = 1

_INSERT = (
    "INSERT INTO event (uuid, box_id, type, payload, schema_version, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_box_ids: WeakKeyDictionary = WeakKeyDictionary()


def box_id(db) -> str:
    """This box's id in the chain (made by schema 8), read once per open database."""
    found = _box_ids.get(db)
    if found is None:
        row = db.execute_sql(sql("SELECT value FROM shop_setting WHERE key = ?", db), ("box_id",))
        found = _box_ids[db] = row.fetchone()[0]
    return found


def record_chain_event(
    db, type_: str, payload: dict, now_us: int, event_id: str | None = None
) -> str:
    """Insert one event row; call inside the business change's transaction. Returns its UUID
    (`event_id` when the change was announced under it already, as a voucher claim is)."""
    event_id = event_id or str(uuid.uuid4())
    db.execute_sql(
        sql(_INSERT, db),
        (
            event_id,
            box_id(db),
            type_,
            json.dumps(payload, separators=(",", ":")),
            EVENT_SCHEMA,
            now_us,
        ),
    )
    return event_id
