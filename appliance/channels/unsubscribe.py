"""Signed unsubscribe links (RFC 8058 one-click) and what following one does.

The web owner serves POST (and GET, for a confirmation page) at `<public_url>/u/<token>`
and calls `unsubscribe_token(token)`; the token is an HMAC under a box secret, so a link
cannot be forged or pointed at another member.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from .. import box as box_mod
from ..clock import to_micros, utcnow
from ..db import sql
from ..keys import secret_bytes

CHANNEL_COLUMNS = {"email": "email_unsubscribed_at", "sms": "sms_unsubscribed_at"}


class BadUnsubscribeToken(ValueError):
    pass


def _key(box) -> bytes:
    return _key_at(str(box.settings.secrets_dir))


@lru_cache(maxsize=8)
def _key_at(secrets_dir: str) -> bytes:
    # read once per process: every message carries a link
    return secret_bytes(secrets_dir, "unsubscribe_key")


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()[:15]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(member_id: int, channel: str, box=None) -> str:
    box = box or box_mod.current()
    body = f"{member_id}.{channel}"
    return f"{body}.{_mac(_key(box), body)}"


def unsubscribe_url(member_id: int, channel: str, box=None) -> str:
    box = box or box_mod.current()
    return f"{box.settings.public_url.rstrip('/')}/u/{make_token(member_id, channel, box)}"


def parse_token(token: str, box=None) -> tuple[int, str]:
    box = box or box_mod.current()
    member_text, _, rest = str(token).partition(".")
    channel, _, mac = rest.partition(".")
    if not member_text.isdigit() or channel not in CHANNEL_COLUMNS:
        raise BadUnsubscribeToken("This unsubscribe link is not valid.")
    if not hmac.compare_digest(_mac(_key(box), f"{member_text}.{channel}"), mac):
        raise BadUnsubscribeToken("This unsubscribe link is not valid.")
    return int(member_text), channel


def unsubscribe(member_id: int, channel: str, now=None, box=None) -> bool:
    """Suppress the member on the channel; queued messages to them there are suppressed too."""
    box = box or box_mod.current()
    now = now or utcnow()
    db = box.db
    column = CHANNEL_COLUMNS[channel]
    with db.atomic():
        changed = db.execute_sql(
            sql(f"UPDATE member SET {column} = ? WHERE id = ? AND {column} IS NULL", db),
            (to_micros(now), member_id),
        ).rowcount
        db.execute_sql(
            sql(
                "UPDATE outbox SET state = 'suppressed', last_error = 'unsubscribed'"
                " WHERE member_id = ? AND channel = ? AND state = 'pending'",
                db,
            ),
            (member_id, channel),
        )
    return changed == 1


def unsubscribe_token(token: str, now=None, box=None) -> tuple[int, str]:
    """What the one-click endpoint calls: verify, unsubscribe, return (member, channel)."""
    member_id, channel = parse_token(token, box)
    unsubscribe(member_id, channel, now, box)
    return member_id, channel


# US carriers' and Twilio's opt-out words; a reply that is only one of these revokes consent
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"}
)


def _digits(phone: str) -> str:
    return "".join(ch for ch in str(phone) if ch.isdigit())


def sms_reply(from_number: str, body: str, now=None, box=None) -> list[int]:
    """An inbound SMS (the provider's webhook, a route for the web owner): a stop word
    unsubscribes every member with that number from SMS. Returns the members unsubscribed."""
    box = box or box_mod.current()
    word = " ".join(str(body).upper().replace("-", " ").split()).strip(" .!")
    if word not in STOP_WORDS:
        return []
    wanted = _digits(from_number)
    if len(wanted) < 6:
        return []
    # numbers are stored as typed ("+49 170 ..."): compare digits, tolerating a missing
    # country code on either side by matching the last 9 digits, then confirming exactly
    rows = box.db.execute_sql(
        sql("SELECT id, phone FROM member WHERE phone IS NOT NULL AND phone LIKE ?", box.db),
        (f"%{wanted[-4:]}",),
    ).fetchall()
    hits = [mid for mid, phone in rows if _digits(phone)[-9:] == wanted[-9:]]
    for member_id in hits:
        unsubscribe(member_id, "sms", now, box)
    return hits
