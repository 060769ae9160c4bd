"""Coalesced pass updates: each dirty member's pass gets its latest state sent, once.

A tap upserts the member's `wallet_dirty` row (one per member). This worker step gives the
pass a new update tag, pushes every registered device and patches the Google object. The row
is deleted only if no tap came in meanwhile (compare on changed_at), so a change is never lost;
while offline the row waits with an exponential back-off, however many taps pile up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..clock import to_micros, utcnow
from ..db import sql
from .apns import PushFailed, PushUnregistered
from .cards import WalletError, touch_pass

log = logging.getLogger(__name__)
BACKOFF_START = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)


@dataclass
class UpdateCounts:
    passes: int = 0
    pushed: int = 0
    unregistered: int = 0
    google: int = 0
    later: int = 0
    errors: list = field(default_factory=list)


def mark_dirty(db, member_id: int, now: datetime) -> None:
    """What the tap does, for changes made elsewhere (vouchers, campaigns, admin edits)."""
    db.execute_sql(
        sql(
            "INSERT INTO wallet_dirty (member_id, changed_at, attempts, last_error)"
            " SELECT ?, ?, 0, '' WHERE EXISTS (SELECT 1 FROM wallet_pass WHERE member_id = ?)"
            " ON CONFLICT (member_id) DO UPDATE SET changed_at = excluded.changed_at",
            db,
        ),
        (member_id, to_micros(now), member_id),
    )


_VOUCHER_TIMES = ("issued_at", "valid_from", "valid_until", "redeemed_at", "voided_at")
_SWEEP = (
    "INSERT INTO wallet_dirty (member_id, changed_at, attempts, last_error)"
    " SELECT w.member_id, ?, 0, '' FROM wallet_pass w WHERE EXISTS (SELECT 1 FROM voucher v"
    " WHERE v.member_id = w.member_id AND ("
    + " OR ".join(f"(v.{c} > w.update_tag AND v.{c} <= ?)" for c in _VOUCHER_TIMES)
    + ")) ON CONFLICT (member_id) DO UPDATE SET changed_at = excluded.changed_at"
)


_ERASED = (
    "INSERT INTO wallet_dirty (member_id, changed_at, attempts, last_error)"
    " SELECT w.member_id, ?, 0, '' FROM wallet_pass w JOIN member m ON m.id = w.member_id"
    " WHERE m.erased_at IS NOT NULL AND m.erased_at > w.update_tag"
    " ON CONFLICT (member_id) DO UPDATE SET changed_at = excluded.changed_at"
)


def sweep_voucher_changes(db, now: datetime) -> int:
    """Mark passes whose vouchers changed since the pass was last sent: issued, redeemed,
    voided, become valid or expired, from wherever (counter, API, admin, birthdays, campaigns).

    A pass's update tag is at least the moment it was last sent, so each change marks it once.
    """
    now_us = to_micros(now)
    cursor = db.execute_sql(sql(_SWEEP, db), (now_us, *([now_us] * len(_VOUCHER_TIMES))))
    # an erased member's saved passes are voided and emptied (once, like any change)
    erased = db.execute_sql(sql(_ERASED, db), (now_us,))
    return cursor.rowcount + erased.rowcount


def due_updates(db, now: datetime, limit: int = 100) -> list[tuple[int, int, int]]:
    """(member_id, changed_at, attempts) of the passes whose update is due."""
    return db.execute_sql(
        sql(
            "SELECT member_id, changed_at, attempts FROM wallet_dirty"
            " WHERE next_at IS NULL OR next_at <= ? ORDER BY changed_at LIMIT ?",
            db,
        ),
        (to_micros(now), limit),
    ).fetchall()


def send_updates(db, now: datetime | None = None, apns=None, google=None, limit=100):
    """Send the due pass updates. `apns` is an ApnsClient (None: Apple passes stay static);
    `google` a callable(member_id) that patches the member's Google object."""
    now = now or utcnow()
    counts = UpdateCounts()
    sweep_voucher_changes(db, now)
    for member_id, changed_at, attempts in due_updates(db, now, limit):
        counts.passes += 1
        try:
            _update_one(db, member_id, now, apns, google, counts)
        except (PushFailed, WalletError) as exc:
            # a refusal (bad key, bad payload) waits too: the owner fixes the setup, then it goes
            counts.later += 1
            counts.errors.append(str(exc))
            wait = min(BACKOFF_MAX, BACKOFF_START * 2**attempts)
            db.execute_sql(
                sql(
                    "UPDATE wallet_dirty SET attempts = attempts + 1, next_at = ?, last_error = ?"
                    " WHERE member_id = ?",
                    db,
                ),
                (to_micros(now + wait), str(exc)[:500], member_id),
            )
            continue
        # a tap after we read the row changed changed_at: the row stays for the next round
        db.execute_sql(
            sql("DELETE FROM wallet_dirty WHERE member_id = ? AND changed_at = ?", db),
            (member_id, changed_at),
        )
    # the 3-a-day notification count only looks back 24 hours
    db.execute_sql(
        sql("DELETE FROM wallet_message WHERE sent_at < ?", db),
        (to_micros(now - timedelta(days=2)),),
    )
    return counts


def _update_one(db, member_id, now, apns, google, counts) -> None:
    record = touch_pass(db, member_id, now)
    if record is None:
        return
    if apns is not None:
        tokens = db.execute_sql(
            sql("SELECT id, push_token FROM wallet_registration WHERE serial = ?", db),
            (record.serial,),
        ).fetchall()
        failed = None
        for reg_id, token in tokens:
            try:
                apns.push(token)
                counts.pushed += 1
            except PushUnregistered:
                counts.unregistered += 1
                db.execute_sql(sql("DELETE FROM wallet_registration WHERE id = ?", db), (reg_id,))
            except PushFailed as exc:
                failed = exc
        if failed is not None:
            raise failed
    if google is not None:
        google(member_id)
        counts.google += 1
