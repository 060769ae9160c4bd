"""The hashed suppression list: opt-outs and bounces that outlive the member who had them.

A member's own columns (email_unsubscribed_at, ...) go when the member is erased, and a
re-imported or re-signed-up address is a new member with clean columns. So every
unsubscribe, bounce and erasure also records HMAC-SHA256(suppression_key, normalised
address): the box can recognise the address again without keeping it. An entry is lifted
only by the address's owner: a confirmed double opt-in (email) or a START reply (SMS).
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from .clock import to_micros, utcnow
from .db import sql
from .keys import secret_bytes

REASONS = ("bounced", "erased", "unsubscribed")  # the first found is the one reported
# digits compared for a phone number: stored numbers are as typed ("+49 170 ...", "0170 ..."),
# so the last 9 digits stand for the number (the same rule as the STOP reply's matching)
PHONE_DIGITS = 9


def normalise(channel: str, address: str | None) -> str:
    """The address as compared: lower-case email, the last digits of a phone number."""
    text = (address or "").strip()
    if channel == "email":
        return text.lower()
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits[-PHONE_DIGITS:] if len(digits) >= 6 else ""


@lru_cache(maxsize=8)
def _key(secrets_dir: str) -> bytes:
    return secret_bytes(secrets_dir, "suppression_key")


def address_hash(channel: str, address: str | None, box) -> str | None:
    value = normalise(channel, address)
    if not value:
        return None
    key = _key(str(box.settings.secrets_dir))
    return hmac.new(key, f"{channel}:{value}".encode(), hashlib.sha256).hexdigest()


def add(box, channel: str, address: str | None, reason: str, now=None) -> bool:
    """Record the address as suppressed for `reason`; False if it already was (or is empty)."""
    digest = address_hash(channel, address, box)
    if digest is None:
        return False
    return (
        box.db.execute_sql(
            sql(
                "INSERT INTO suppression (channel, address_hash, reason, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (channel, address_hash, reason) DO NOTHING",
                box.db,
            ),
            (channel, digest, reason, to_micros(now or utcnow())),
        ).rowcount
        == 1
    )


def reason_for(box, channel: str, address: str | None, reasons=REASONS) -> str | None:
    """Why the address is on the list (the strongest of `reasons`), or None."""
    digest = address_hash(channel, address, box)
    if digest is None:
        return None
    found = {
        row[0]
        for row in box.db.execute_sql(
            sql("SELECT reason FROM suppression WHERE channel = ? AND address_hash = ?", box.db),
            (channel, digest),
        )
    }
    return next((r for r in reasons if r in found), None)


def lift(box, channel: str, address: str | None, reasons=REASONS) -> int:
    """The address's owner opted in again: remove those entries; returns how many."""
    digest = address_hash(channel, address, box)
    if digest is None:
        return 0
    marks = ", ".join("?" * len(reasons))
    return box.db.execute_sql(
        sql(
            f"DELETE FROM suppression WHERE channel = ? AND address_hash = ?"
            f" AND reason IN ({marks})",
            box.db,
        ),
        (channel, digest, *reasons),
    ).rowcount


def mark_member(box, member_id: int, email: str | None, phone: str | None, now=None) -> list:
    """A new member whose address is on the list gets the matching member columns at once,
    so campaigns count them as suppressed when queued (the send-time check would catch them
    anyway). Returns the columns set."""
    now_us = to_micros(now or utcnow())
    columns = []
    listed = reason_for(box, "email", email)
    if listed:  # a bounce is the stronger reason: it is what the campaign counts then
        columns.append("email_bounced_at" if listed == "bounced" else "email_unsubscribed_at")
    if reason_for(box, "sms", phone):
        columns.append("sms_unsubscribed_at")
    if columns:
        box.db.execute_sql(
            sql(f"UPDATE member SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?", box.db),
            (*[now_us] * len(columns), member_id),
        )
    return columns


def counts(box) -> dict[str, int]:
    """Entries per "channel:reason" (for the status page and tests)."""
    return {
        f"{channel}:{reason}": n
        for channel, reason, n in box.db.execute_sql(
            "SELECT channel, reason, COUNT(*) FROM suppression GROUP BY channel, reason"
        )
    }
