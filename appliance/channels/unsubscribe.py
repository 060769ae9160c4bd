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


def preferences_url(member_id: int, box=None) -> str:
    """The member's preference page (every channel and the language; web/signup.py's /p/)."""
    box = box or box_mod.current()
    return f"{box.settings.public_url.rstrip('/')}/p/{make_token(member_id, 'prefs', box)}"


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
    """Suppress the member on the channel; queued messages to them there are suppressed too.

    The address also goes on the hashed suppression list, which outlives the member row.
    """
    from ..suppression import add

    box = box or box_mod.current()
    now = now or utcnow()
    db = box.db
    column = CHANNEL_COLUMNS[channel]
    address_column = "email" if channel == "email" else "phone"
    with db.atomic():
        row = db.execute_sql(
            sql(f"SELECT {address_column} FROM member WHERE id = ?", db), (member_id,)
        ).fetchone()
        if row:
            add(box, channel, row[0], "unsubscribed", now)
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
# and the opt-in words that undo it (Twilio's START/YES/UNSTOP)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})


def _digits(phone: str) -> str:
    return "".join(ch for ch in str(phone) if ch.isdigit())


def reply_word(body: str) -> str:
    return " ".join(str(body).upper().replace("-", " ").split()).strip(" .!")


def sms_reply(from_number: str, body: str, now=None, box=None) -> list[int]:
    """An inbound SMS (the provider's webhook): a stop word withdraws SMS consent from every
    member with that number and puts the number on the suppression list (even when no member
    has it any more); a start word undoes that. Returns the members changed."""
    from .. import suppression

    box = box or box_mod.current()
    now = now or utcnow()
    word = reply_word(body)
    if word not in STOP_WORDS and word not in START_WORDS:
        return []
    hits = _members_with_number(box, from_number)
    with box.db.atomic():
        if word in START_WORDS:
            suppression.lift(box, "sms", from_number)
            for member_id in hits:
                _opt_in_again(box, member_id, str(body).strip(), now)
            return hits
        suppression.add(box, "sms", from_number, "unsubscribed", now)
        for member_id in hits:
            _stop(member_id, str(body).strip(), now, box)
    return hits


def _stop(member_id: int, body: str, now, box) -> None:
    """Consent withdrawn with the reply as its proof (appliance.unsubscribe), suppressed here."""
    from ..unsubscribe import unsubscribe as withdraw

    if not withdraw(member_id, "sms", "sms-reply", body[:160], now=now):
        unsubscribe(member_id, "sms", now, box)


def _opt_in_again(box, member_id: int, body: str, now) -> None:
    """Only a member who had stopped is opted in again: a START out of the blue is no consent
    to marketing the shop can prove against its own records."""
    from ..audit import audit
    from ..models import Consent

    db = box.db
    changed = db.execute_sql(
        sql(
            "UPDATE member SET sms_unsubscribed_at = NULL, sms_consent_at = ?,"
            " consent_source = 'sms-reply' WHERE id = ? AND erased_at IS NULL"
            " AND sms_unsubscribed_at IS NOT NULL",
            db,
        ),
        (to_micros(now), member_id),
    ).rowcount
    if not changed:
        return
    Consent.create(
        member=member_id, channel="sms", granted=True, at=now, source="sms-reply",
        wording=body[:160], locale="",
    )  # fmt: skip
    audit("member", "consent.grant", now, member_id=member_id, channel="sms", source="sms-reply")


def _members_with_number(box, from_number: str) -> list[int]:
    wanted = _digits(from_number)
    if len(wanted) < 6:
        return []
    # numbers are stored as typed ("+49 170 ..."): compare digits, tolerating a missing
    # country code on either side by matching the last 9 digits, then confirming exactly
    rows = box.db.execute_sql(
        sql("SELECT id, phone FROM member WHERE phone IS NOT NULL AND phone LIKE ?", box.db),
        (f"%{wanted[-4:]}",),
    ).fetchall()
    return [mid for mid, phone in rows if _digits(phone)[-9:] == wanted[-9:]]
