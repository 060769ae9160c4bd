"""Signed unsubscribe links: one per (member, channel), valid without logging in.

The token is "member_id.channel.mac", mac being HMAC-SHA256 over "member_id.channel" with the
box's `unsubscribe_key` (first 15 bytes, URL-safe base64 without padding); nothing is stored, so
every message can carry its own link. The campaign code's `appliance.channels.unsubscribe`
makes the very same tokens, so links from either verify here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from . import box as box_mod
from .audit import audit
from .clock import utcnow
from .db import database
from .keys import secret_bytes
from .models import Consent, Member

CHANNELS = ("email", "sms")
# a preferences link covers every channel of the member; its MAC is over "member_id:prefs"
PREFS = "prefs"


def _key(settings=None) -> bytes:
    settings = settings or box_mod.current().settings
    return secret_bytes(settings.secrets_dir, "unsubscribe_key")


def _mac(key: bytes, member_id: int, channel: str) -> str:
    digest = hmac.new(key, f"{member_id}.{channel}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:15]).decode().rstrip("=")


def make_unsubscribe_token(member_id: int, channel: str, settings=None) -> str:
    """The token for /u/<token> (one channel) or, with channel "prefs", for /p/<token>."""
    if channel not in (*CHANNELS, PREFS):
        raise ValueError(f"unknown channel {channel!r}")
    return f"{int(member_id)}.{channel}.{_mac(_key(settings), int(member_id), channel)}"


def verify_unsubscribe_token(token: str, settings=None) -> tuple[int, str] | None:
    """(member_id, channel) for a genuine token, else None."""
    parts = (token or "").split(".")
    if (
        len(parts) != 3
        or not parts[0].isdigit()
        or parts[1] not in (*CHANNELS, PREFS)
        or len(token) > 100
    ):
        return None
    member_id, channel, mac = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(_mac(_key(settings), member_id, channel), mac):
        return None
    return member_id, channel


def unsubscribe(member_id: int, channel: str, source: str, wording: str, now=None) -> bool:
    """Withdraw the member's marketing consent on the channel; False if no such member."""
    now = now or utcnow()
    with database.atomic():
        member = Member.get_or_none(Member.id == member_id)
        if member is None or member.erased_at is not None:
            return False
        field = Member.email_consent_at if channel == "email" else Member.sms_consent_at
        Member.update({field: None}).where(Member.id == member_id).execute()
        # the campaign side's suppression (its columns, its queued messages) goes with it
        _suppress(member_id, channel, now)
        Consent.create(
            member=member_id, channel=channel, granted=False, at=now, source=source[:80],
            wording=wording, locale="",
        )  # fmt: skip
        audit("member", "consent.withdraw", now, member_id=member_id, channel=channel,
              source=source)  # fmt: skip
    return True


def make_preferences_token(member_id: int, settings=None) -> str:
    return make_unsubscribe_token(member_id, PREFS, settings)


def preferences(member_id: int) -> dict | None:
    """What the member's preference page shows: consent per channel and the language."""
    member = Member.get_or_none(Member.id == member_id)
    if member is None or member.erased_at is not None:
        return None
    return {
        "email": member.email_consent_at is not None,
        "sms": member.sms_consent_at is not None,
        "has_email": bool(member.email),
        "has_phone": bool(member.phone),
        "locale": member.locale,
    }


def set_language(member_id: int, locale: str, now=None) -> None:
    with database.atomic():
        Member.update(locale=locale[:16]).where(Member.id == member_id).execute()
        audit("member", "member.language", now, member_id=member_id, locale=locale[:16])


def _suppress(member_id: int, channel: str, now) -> None:
    try:
        from .channels.unsubscribe import unsubscribe as suppress
    except ImportError:  # a box without the campaign channels
        return
    suppress(member_id, channel, now=now)
