"""Self-signup: a member created by the customer on their phone, with consents as proof.

Each consent is stored with its time, source, the exact wording shown and its version.
Email marketing consent counts only once confirmed (double opt-in): the confirmation email is
queued as an outbox row of kind "signup_confirm" for the email channel to send when online.
An enrolment slip carries a short code that ties the signup to the card it was printed for.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from . import box as box_mod
from . import suppression
from .audit import audit
from .clock import utcnow
from .db import database
from .members import MemberError, add_member
from .models import Consent, EnrolmentCode, Member
from .outbox import add_outbox
from .refusal import N_
from .tokens import normalize_uid

# no 0/O, 1/I/L: a code read off a slip and typed on a phone
SLIP_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SLIP_LEN = 6
SLIP_DAYS = 14
CONFIRM_DAYS = 30
# the web serves the confirmation link here (web/signup.py)
CONFIRM_PATH = "/join/confirm/"


@dataclass(frozen=True)
class ConsentShown:
    channel: str  # email | sms
    wording: str  # the exact sentence the customer ticked
    version: str


@dataclass(frozen=True)
class SignupResult:
    member_id: int
    card_code: str
    nfc_uid: str | None
    confirmation_queued: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_slip_code(text: str | None) -> str | None:
    value = "".join((text or "").split()).upper().replace("-", "")
    return value if value else None


def create_enrolment_code(nfc_uid: str, actor: str, now=None) -> str:
    """A short code for the slip printed with a new card."""
    now = now or utcnow()
    uid = normalize_uid(nfc_uid)
    if uid is None:
        raise MemberError(N_("%(uid)r is not an NFC card number."), uid=nfc_uid)
    with database.atomic():
        while True:
            code = "".join(secrets.choice(SLIP_ALPHABET) for _ in range(SLIP_LEN))
            if not EnrolmentCode.select().where(EnrolmentCode.code == code).exists():
                break
        EnrolmentCode.create(
            code=code, nfc_uid=uid, created_at=now, expires_at=now + timedelta(days=SLIP_DAYS)
        )
        audit(actor, "enrolment_code.create", now, nfc_uid=uid)
    return code


def signup(
    *,
    name: str,
    email: str | None,
    phone: str | None,
    birthday: str | None,
    consents: list[ConsentShown],
    locale: str,
    source: str,
    slip_code: str | None = None,
    now=None,
) -> SignupResult:
    """Create the member (and its card); raises MemberError with a sentence to show."""
    now = now or utcnow()
    if not (email or "").strip() and not (phone or "").strip():
        raise MemberError(N_("Give an email address or a phone number."))
    for consent in consents:
        if consent.channel == "email" and not (email or "").strip():
            raise MemberError(N_("Email offers need an email address."))
        if consent.channel == "sms" and not (phone or "").strip():
            raise MemberError(N_("SMS offers need a phone number."))
    with database.atomic():
        slip = None
        if slip_code:
            slip = EnrolmentCode.get_or_none(
                (EnrolmentCode.code == clean_slip_code(slip_code))
                & EnrolmentCode.used_at.is_null()
                & (EnrolmentCode.expires_at > now)
            )
            if slip is None:
                raise MemberError(N_("That code is unknown or already used. Ask at the counter."))
        member = add_member(
            name, email, phone, birthday, slip.nfc_uid if slip else None,
            locale=locale, now=now, actor="signup",
        )  # fmt: skip
        if slip is not None:
            slip.used_at, slip.member_id = now, member["id"]
            slip.save()
        # an address that opted out (or bounced, or was erased) before stays out of
        # marketing until its owner confirms again (double opt-in email, SMS START)
        suppression.mark_member(box_mod.current(), member["id"], email, phone, now)
        queued = _record_consents(member["id"], consents, locale, source, email, now)
    return SignupResult(
        member["id"], member["cards"][0]["code"], member["cards"][0]["nfc_uid"], queued
    )


def _record_consents(member_id, consents, locale, source, email, now) -> bool:
    queued = False
    for consent in consents:
        token = secrets.token_urlsafe(24) if consent.channel == "email" else None
        row = Consent.create(
            member=member_id,
            channel=consent.channel,
            granted=True,
            at=now,
            source=source[:80],
            wording=consent.wording,
            version=consent.version,
            locale=locale,
            confirm_token_hash=_hash(token) if token else None,
        )
        if token:
            add_outbox(
                database.obj,
                f"signup_confirm:{row.id}",
                "signup_confirm",
                member_id,
                {
                    "token": token,
                    "email": email.strip(),
                    "locale": locale,
                    "confirm_url": confirm_url(token),
                },  # fmt: skip
                now,
                # transactional: it asks for the consent, so it must not wait for one
                channel="email",
            )
            queued = True
        else:
            Member.update(sms_consent_at=now, consent_source=source[:80]).where(
                Member.id == member_id
            ).execute()
    return queued


def confirm_url(token: str) -> str:
    public = box_mod.current().settings.public_url.rstrip("/")
    return f"{public}{CONFIRM_PATH}{token}"


def confirm_email(token: str, now=None) -> int | None:
    """Double opt-in: the link in the confirmation email. Returns the member id, or None."""
    now = now or utcnow()
    if not token or len(token) > 100:
        return None
    with database.atomic():
        consent = Consent.get_or_none(Consent.confirm_token_hash == _hash(token))
        if consent is None or consent.at < now - timedelta(days=CONFIRM_DAYS):
            return None
        if consent.confirmed_at is None:
            consent.confirmed_at = now
            consent.save()
            Member.update(
                email_consent_at=now, email_unsubscribed_at=None, consent_source=consent.source
            ).where(Member.id == consent.member_id).execute()
            # the address's owner clicked: an earlier opt-out (or erasure) of it is undone,
            # and it evidently receives mail (a bounce on record is out of date)
            member = Member.get_by_id(consent.member_id)
            suppression.lift(box_mod.current(), "email", member.email)
            Member.update(email_bounced_at=None).where(Member.id == member.id).execute()
            audit("member", "consent.confirm", now, member_id=consent.member_id)
    return consent.member_id
