"""Outbox rows: work for other processes, written inside the transaction that caused it.

Two sorts of rows share the table:
- trigger rows (channel ""): an event other code reacts to, e.g. "reward_unlocked" written
  by the tap; `dispatch_due` hands them to HANDLERS[kind] and marks them done;
- message rows (kind "message", channel "email"/"sms"/...): one message to one member for
  one event; `deliver_due` sends them through their channel. A transactional message (kind
  "signup_confirm": the double opt-in email) is a message row of its own kind.

(event_key, channel) is unique, and every event key names its member (e.g.
"campaign:7:123", "reward_unlocked:tier:123:0:10"), so a member never gets two messages for
one event on one channel, however often a campaign is sent or a job runs.

A message row goes pending → sending (claimed, committed before the hand-over) → sent |
failed | suppressed. A worker that dies leaves "sending" rows behind; the next worker decides
by channel: email is sent again with the same Message-ID (receivers fold the two into one),
SMS is marked "uncertain" for the owner instead of risking a second, different text.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta

from .clock import to_micros
from .db import sql

log = logging.getLogger(__name__)

STATES = ("pending", "sending", "sent", "failed", "suppressed", "uncertain", "done")
# kinds of row a channel delivers (the others are triggers for HANDLERS)
MESSAGE_KINDS = ("message", "signup_confirm")
_KINDS_SQL = "kind IN (" + ", ".join(f"'{k}'" for k in MESSAGE_KINDS) + ")"

_INSERT = (
    "INSERT INTO outbox (event_key, kind, member_id, payload, state, due_at, attempts,"
    " last_error, created_at, channel, campaign_id) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)"
    # the unique key is what makes "never two messages for one event" hold
    " ON CONFLICT (event_key, channel) DO NOTHING"
)


def add_outbox(
    db,
    event_key: str,
    kind: str,
    member_id,
    payload: dict,
    now: datetime,
    due_at: datetime | None = None,
    *,
    channel: str = "",
    campaign_id: int | None = None,
    state: str = "pending",
    reason: str = "",
) -> bool:
    """Queue one piece of work per (event key, channel); a second call adds nothing."""
    cursor = db.execute_sql(
        sql(_INSERT, db),
        (
            event_key,
            kind,
            member_id,
            json.dumps(payload, separators=(",", ":")),
            state,
            to_micros(due_at or now),
            reason,
            to_micros(now),
            channel,
            campaign_id,
        ),
    )
    return cursor.rowcount == 1


# kind → callable(row) reacting to a trigger row; channels deliver message rows instead
HANDLERS: dict = {}


def dispatch_due(db, now: datetime, limit: int = 100) -> int:
    """Hand due pending trigger rows to their kind's handler; returns rows handled.

    Kinds without a handler stay pending (nothing reacts to them yet); a failing handler
    leaves the row pending with the error and one more attempt counted.
    """
    kinds = tuple(HANDLERS)
    if not kinds:
        return 0
    marks = ", ".join("?" * len(kinds))
    rows = db.execute_sql(
        sql(
            f"SELECT id, event_key, kind, member_id, payload, created_at FROM outbox"
            f" WHERE state = 'pending' AND due_at <= ? AND channel = '' AND kind IN ({marks})"
            f" ORDER BY due_at, id LIMIT ?",
            db,
        ),
        (to_micros(now), *kinds, limit),
    ).fetchall()
    delivered = 0
    for row_id, event_key, kind, member_id, payload, created_at in rows:
        try:
            with db.atomic():  # a savepoint: what a failing handler wrote is undone
                HANDLERS[kind](
                    {
                        "id": row_id,
                        "event_key": event_key,
                        "kind": kind,
                        "member_id": member_id,
                        "payload": json.loads(payload),
                        "created_at": created_at,
                    }
                )
        except Exception as exc:  # one reaction failing must not stop the others
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


# -- message rows: claims, outcomes, crash recovery ----------------------------------------

_HOST = socket.gethostname()
_ident: tuple[int, str] | None = None


_ident_lock = threading.Lock()


def worker_id() -> str:
    """host:pid:token of this process (recomputed after a fork).

    Under a lock: two threads racing here must not mint two tokens, or each would take the
    other's claims for a dead process's and recover them while they are being sent.
    """
    global _ident
    with _ident_lock:
        if _ident is None or _ident[0] != os.getpid():
            _ident = (os.getpid(), f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
        return _ident[1]


def _owner_alive(claimed_by: str) -> bool:
    host, _, rest = claimed_by.partition(":")
    pid_text, _, _token = rest.partition(":")
    if claimed_by == worker_id():
        return True
    if host != _HOST or not pid_text.isdigit():
        return True  # another machine's worker: only the lease can free its rows
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # our pid, another token: a previous life of this process id
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


LEASE = timedelta(hours=1)


def recover_orphans(db, now: datetime, resend: dict[str, bool]) -> dict[str, int]:
    """Rows left "sending" by a dead worker: resend (email) or mark uncertain (SMS).

    `resend` maps channel → whether sending twice is harmless for it.
    """
    rows = db.execute_sql(
        sql("SELECT id, channel, claimed_by, claimed_at FROM outbox WHERE state = 'sending'", db)
    ).fetchall()
    stale = to_micros(now - LEASE)
    counts = {"resend": 0, "uncertain": 0}
    for row_id, channel, claimed_by, claimed_at in rows:
        if _owner_alive(claimed_by) and (claimed_at or 0) > stale:
            continue
        if resend.get(channel, False):
            state, note, key = "pending", "the worker stopped while sending; sent again", "resend"
        else:
            state, note, key = (
                "uncertain",
                "the worker stopped while handing this over: it may or may not have gone",
                "uncertain",
            )
        changed = db.execute_sql(
            sql(
                "UPDATE outbox SET state = ?, last_error = ?, claimed_by = ''"
                " WHERE id = ? AND state = 'sending' AND claimed_by = ?",
                db,
            ),
            (state, note, row_id, claimed_by),
        ).rowcount
        counts[key] += changed
    return counts


_CLAIM_COLUMNS = (
    "id, event_key, kind, channel, member_id, campaign_id, payload, attempts, created_at"
)


def claim_due(db, now: datetime, limit: int = 100, channels=None) -> list[dict]:
    """Mark up to `limit` due pending message rows as sending by this worker; returns them."""
    me = worker_id()
    where = f"state = 'pending' AND {_KINDS_SQL} AND due_at <= ?"
    args: list = [to_micros(now)]
    if channels is not None:
        where += f" AND channel IN ({', '.join('?' * len(channels))})"
        args += list(channels)
    with db.atomic():
        ids = [
            r[0]
            for r in db.execute_sql(
                sql(f"SELECT id FROM outbox WHERE {where} ORDER BY due_at, id LIMIT ?", db),
                (*args, limit),
            ).fetchall()
        ]
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        # the state guard makes a concurrent claimer (PostgreSQL) take a row only once
        db.execute_sql(
            sql(
                f"UPDATE outbox SET state = 'sending', claimed_by = ?, claimed_at = ?"
                f" WHERE id IN ({marks}) AND state = 'pending'",
                db,
            ),
            (me, to_micros(now), *ids),
        )
        rows = db.execute_sql(
            sql(
                f"SELECT {_CLAIM_COLUMNS} FROM outbox WHERE id IN ({marks})"
                f" AND state = 'sending' AND claimed_by = ? ORDER BY due_at, id",
                db,
            ),
            (*ids, me),
        ).fetchall()
    names = _CLAIM_COLUMNS.split(", ")
    out = []
    for row in rows:
        item = dict(zip(names, row, strict=True))
        item["payload"] = json.loads(item["payload"])
        out.append(item)
    return out


def mark(db, row_id: int, state: str, now: datetime, reason: str = "", provider_id: str = ""):
    """Record a claimed row's outcome (sent, failed, suppressed) in its own transaction."""
    with db.atomic():
        db.execute_sql(
            sql(
                "UPDATE outbox SET state = ?, last_error = ?, provider_id = ?, claimed_by = '',"
                " attempts = attempts + 1, sent_at = ? WHERE id = ?",
                db,
            ),
            (
                state,
                reason[:500],
                provider_id[:255],
                to_micros(now) if state == "sent" else None,
                row_id,
            ),
        )


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Exponential: base, 2x base, 4x base, ... capped at one hour."""
    return timedelta(seconds=min(3600, base_seconds * 2 ** max(0, attempts)))


def release(db, rows: list[dict], now: datetime, reason: str, base_seconds: int) -> None:
    """Give claimed rows back for a later try (the channel is offline); nothing is dropped."""
    with db.atomic():
        for row in rows:
            due = now + backoff(row["attempts"], base_seconds)
            db.execute_sql(
                sql(
                    "UPDATE outbox SET state = 'pending', claimed_by = '', due_at = ?,"
                    " attempts = attempts + 1, last_error = ? WHERE id = ? AND state = 'sending'",
                    db,
                ),
                (to_micros(due), reason[:500], row["id"]),
            )


def next_due(db) -> datetime | None:
    from .clock import from_micros

    value = db.execute_sql(
        sql(f"SELECT MIN(due_at) FROM outbox WHERE state = 'pending' AND {_KINDS_SQL}", db)
    ).fetchone()[0]
    return from_micros(value)


# -- the owner's view: what went wrong, and sending again on purpose -----------------------

PROBLEM_STATES = ("failed", "uncertain", "suppressed")


def list_messages(db, states=None, limit: int = 50) -> list[dict]:
    """The latest message rows (newest first), optionally only in `states`, with reasons."""
    where, args = f"WHERE {_KINDS_SQL}", []
    if states:
        where += f" AND state IN ({', '.join('?' * len(states))})"
        args += list(states)
    from .clock import from_micros, iso

    rows = db.execute_sql(
        sql(
            "SELECT id, kind, channel, member_id, campaign_id, event_key, state, attempts,"
            f" last_error, created_at, sent_at FROM outbox {where} ORDER BY id DESC LIMIT ?",
            db,
        ),
        (*args, limit),
    ).fetchall()
    names = (
        "id kind channel member_id campaign_id event_key state attempts reason created_at sent_at"
    ).split()
    out = []
    for row in rows:
        item = dict(zip(names, row, strict=True))
        for key in ("created_at", "sent_at"):
            item[key] = iso(from_micros(item[key])) if item[key] is not None else None
        out.append(item)
    return out


def send_again(db, row_id: int, now: datetime) -> bool:
    """The owner's decision: a failed or uncertain message goes again (the same message:
    same event key, same Message-ID for email). Consent and suppression are checked anew."""
    with db.atomic():
        changed = db.execute_sql(
            sql(
                "UPDATE outbox SET state = 'pending', due_at = ?, claimed_by = '',"
                " last_error = 'sent again by the owner' WHERE id = ?"
                f" AND state IN ('failed', 'uncertain') AND {_KINDS_SQL}",
                db,
            ),
            (to_micros(now), row_id),
        ).rowcount
    return changed == 1
