"""Outbox rows: work for other processes, written inside the transaction that caused it."""

from __future__ import annotations

import json
from datetime import datetime

from .clock import to_micros
from .db import sql

_INSERT = (
    "INSERT INTO outbox (event_key, kind, member_id, payload, state, due_at, attempts,"
    " last_error, created_at) VALUES (?, ?, ?, ?, 'pending', ?, 0, '', ?)"
    # the unique event key is what makes "never two messages for one event" hold
    " ON CONFLICT (event_key) DO NOTHING"
)


def add_outbox(
    db,
    event_key: str,
    kind: str,
    member_id,
    payload: dict,
    now: datetime,
    due_at: datetime | None = None,
) -> bool:
    """Queue one piece of work per event key; a second call for the same key adds nothing."""
    cursor = db.execute_sql(
        sql(_INSERT, db),
        (
            event_key,
            kind,
            member_id,
            json.dumps(payload, separators=(",", ":")),
            to_micros(due_at or now),
            to_micros(now),
        ),
    )
    return cursor.rowcount == 1


# kind → callable(row) doing the delivery; channels (email, SMS, wallet) register here
HANDLERS: dict = {}


def dispatch_due(db, now: datetime, limit: int = 100) -> int:
    """Hand due pending rows to their kind's handler; returns rows delivered.

    Kinds without a handler stay pending (their channel is not configured yet); a failing
    handler leaves the row pending with the error and one more attempt counted.
    """
    kinds = tuple(HANDLERS)
    if not kinds:
        return 0
    marks = ", ".join("?" * len(kinds))
    rows = db.execute_sql(
        sql(
            f"SELECT id, event_key, kind, member_id, payload FROM outbox WHERE state = 'pending'"
            f" AND due_at <= ? AND kind IN ({marks}) ORDER BY due_at, id LIMIT ?",
            db,
        ),
        (to_micros(now), *kinds, limit),
    ).fetchall()
    delivered = 0
    for row_id, event_key, kind, member_id, payload in rows:
        try:
            HANDLERS[kind](
                {
                    "id": row_id,
                    "event_key": event_key,
                    "member_id": member_id,
                    "payload": json.loads(payload),
                }
            )
        except Exception as exc:  # a channel failure must not stop the others
            db.execute_sql(
                sql("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", db),
                (str(exc)[:500], row_id),
            )
            continue
        db.execute_sql(
            sql("UPDATE outbox SET state = 'done', attempts = attempts + 1 WHERE id = ?", db),
            (row_id,),
        )
        delivered += 1
    return delivered
