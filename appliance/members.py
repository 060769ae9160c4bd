"""Members and their cards: enrolment at the counter, from the CLI or from an import."""

from __future__ import annotations

import re
from dataclasses import dataclass

from peewee import IntegrityError

from . import box as box_mod
from . import suppression
from .audit import audit
from .clock import iso, utcnow
from .codes import format_code, make_code
from .db import database, sql
from .models import Card, Member
from .refusal import N_, Refusal
from .tokens import is_random_uid, normalize_uid

_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']+\.[^@\s<>\"']{2,}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-/]{4,24}$")
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class MemberError(Refusal):
    """Enrolment data a person has to correct; the message says what."""


def _card_taken(uid: str, owner) -> MemberError:
    if owner.name:
        name = owner.name
        return MemberError(N_("Card %(uid)s already belongs to %(name)s."), uid=uid, name=name)
    return MemberError(N_("Card %(uid)s already belongs to member %(id)s."), uid=uid, id=owner.id)


@dataclass(frozen=True)
class Birthday:
    month: int
    day: int
    year: int | None = None


def parse_birthday(text: str | None) -> Birthday | None:
    """'MM-DD' or 'YYYY-MM-DD' (empty → None). Raises MemberError."""
    if text is None or not text.strip():
        return None
    parts = text.strip().split("-")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 2:
        year, (month, day) = None, numbers
    elif len(numbers) == 3 and 1900 <= numbers[0] <= 2100:
        year, month, day = numbers
    else:
        raise MemberError(N_("Birthday %(text)r must be MM-DD or YYYY-MM-DD."), text=text)
    if not (1 <= month <= 12 and 1 <= day <= _DAYS[month - 1]):
        raise MemberError(N_("Birthday %(text)r is not a date."), text=text)
    if (
        year is not None
        and month == 2
        and day == 29
        and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
    ):
        raise MemberError(
            N_("Birthday %(text)r is not a date: %(year)s has no 29 February."),
            text=text,
            year=year,
        )
    return Birthday(month, day, year)


def clean_email(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise MemberError(N_("%(value)r is not an email address."), value=value)
    return value


def clean_phone(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = text.strip()
    if not _PHONE.match(value):
        raise MemberError(N_("%(value)r is not a phone number."), value=value)
    return value


def clean_name(text: str | None) -> str:
    value = " ".join((text or "").split())
    if len(value) > 120:
        raise MemberError(N_("A name may have at most 120 characters."))
    if any(ord(ch) < 32 for ch in value):
        raise MemberError(N_("A name may not contain control characters."))
    return value


def clean_uid(text: str) -> str:
    uid = normalize_uid(text)
    if uid is None:
        raise MemberError(
            N_("%(text)r is not an NFC card number (4, 7 or 10 bytes in hex)."), text=text
        )
    if is_random_uid(uid):
        raise MemberError(
            N_("That is a phone or bank card with a changing number: use a loyalty card.")
        )
    return uid


def new_card(
    member: Member, nfc_uid: str | None = None, now=None, key: bytes | None = None
) -> Card:
    key = key or box_mod.current().code_key
    while True:
        code = make_code(key, "C")
        if not Card.select().where(Card.code == code).exists():
            break
    try:
        with database.atomic():
            return Card.create(
                member=member, code=code, nfc_uid=nfc_uid, created_at=now or utcnow()
            )
    except IntegrityError:
        owner = Card.get(Card.nfc_uid == nfc_uid).member
        raise _card_taken(nfc_uid, owner) from None


def add_member(
    name: str = "",
    email: str | None = None,
    phone: str | None = None,
    birthday: str | None = None,
    card_uid: str | None = None,
    *,
    external_id: str | None = None,
    locale: str = "",
    now=None,
    actor: str = "system",
) -> dict:
    """Enrol a member with a printed card code (and the NFC card, if given)."""
    now = now or utcnow()
    bday = parse_birthday(birthday)
    uid = clean_uid(card_uid) if card_uid else None
    with database.atomic():
        if uid and Card.select().where(Card.nfc_uid == uid).exists():
            owner = Card.get(Card.nfc_uid == uid).member
            raise _card_taken(uid, owner)
        member = Member.create(
            name=clean_name(name),
            email=clean_email(email),
            phone=clean_phone(phone),
            birthday_month=bday and bday.month,
            birthday_day=bday and bday.day,
            birthday_year=bday and bday.year,
            locale=locale[:16],
            joined_at=now,
            external_id=external_id,
        )
        new_card(member, uid, now)
        # an address on the suppression list is marked at once, so campaigns count it
        suppressed = suppression.mark_member(
            box_mod.current(), member.id, member.email, member.phone, now
        )
        audit(actor, "member.add", now, member_id=member.id, nfc_uid=uid)
    if suppressed:
        member = Member.get_by_id(member.id)
    return member_dict(member)


def member_dict(member: Member) -> dict:
    birthday = None
    if member.birthday_month:
        birthday = f"{member.birthday_month:02d}-{member.birthday_day:02d}"
        if member.birthday_year:
            birthday = f"{member.birthday_year:04d}-{birthday}"
    return {
        "id": member.id,
        "external_id": member.external_id,
        "name": member.name,
        "email": member.email,
        "phone": member.phone,
        "birthday": birthday,
        "joined_at": iso(member.joined_at),
        "stamps": member.stamps,
        "cards": [
            {"code": format_code(c.code), "nfc_uid": c.nfc_uid}
            for c in Card.select().where(Card.member == member).order_by(Card.id)
        ],
    }


def replace_card(member_id: int, nfc_uid: str, actor: str, now=None) -> dict:
    """A lost card: block the member's cards and give a new one. Stamps live on the member,
    so they carry over to the new card as they are."""
    now = now or utcnow()
    uid = clean_uid(nfc_uid)
    with database.atomic():
        member = _live_member(member_id)
        blocked = (
            Card.update(blocked_at=now)
            .where((Card.member == member) & Card.blocked_at.is_null())
            .execute()
        )
        card = new_card(member, uid, now)
        audit(actor, "member.replace_card", now, member_id=member.id, nfc_uid=uid, blocked=blocked)
    return {"member_id": member.id, "code": format_code(card.code), "nfc_uid": card.nfc_uid}


def _live_member(member_id: int) -> Member:
    member = Member.get_or_none(Member.id == member_id)
    if member is None or member.erased_at is not None:
        raise MemberError(N_("There is no member %(id)s."), id=member_id)
    return member


def merge_members(keep_id: int, other_id: int, actor: str, now=None) -> dict:
    """Fold `other` into `keep`: cards, visits, vouchers, consents and counters; `other` goes."""
    now = now or utcnow()
    if keep_id == other_id:
        raise MemberError(N_("A member cannot be merged with itself."))
    with database.atomic():
        keep, other = _live_member(keep_id), _live_member(other_id)
        for table in ("card", "visit", "voucher", "consent", "outbox", "counter_event"):
            database.execute_sql(
                sql(f"UPDATE {table} SET member_id = ? WHERE member_id = ?"), (keep.id, other.id)
            )
        for field in ("name", "email", "phone", "birthday_month", "birthday_day", "locale"):
            if not getattr(keep, field) and getattr(other, field):
                setattr(keep, field, getattr(other, field))
        if keep.birthday_year is None and keep.birthday_month == other.birthday_month:
            keep.birthday_year = other.birthday_year
        for field in ("email_consent_at", "sms_consent_at"):
            setattr(keep, field, getattr(keep, field) or getattr(other, field))
        # stamps add up; a card above the last tier completes on its next stamp
        keep.stamps += other.stamps
        keep.rounds += other.rounds
        keep.visit_count += other.visit_count
        keep.spend_cents += other.spend_cents
        keep.joined_at = min(keep.joined_at, other.joined_at)
        keep.first_visit_at = _pick(min, keep.first_visit_at, other.first_visit_at)
        keep.last_visit_at = _pick(max, keep.last_visit_at, other.last_visit_at)
        keep.last_stamp_at = _pick(max, keep.last_stamp_at, other.last_stamp_at)
        keep.save()
        other.delete_instance()
        audit(actor, "member.merge", now, member_id=keep.id, merged_id=other.id)
    return member_dict(keep)


def _pick(choose, a, b):
    values = [v for v in (a, b) if v is not None]
    return choose(values) if values else None
