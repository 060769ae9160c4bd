"""Members' data rights: everything the box holds about one member as JSON, and erasure.

Erasure removes personal data but keeps the member row with its anonymous counters and
visits, so the shop's statistics (visits per day, rewards) do not change after the fact.

In a chain, what remains after an erasure, and where:
- this box: event rows keep the card code and the counts, with name, email, phone, birthday,
  external id and chip UID blanked; the box's own JetStream stream drops the member's
  messages once the centre's state says it applied the erasure (mirror.purge_erased); those
  published before subjects named the member stay until the 30-day limit (STREAM_MAX_AGE_S).
- the centre: chain_member keeps only the id and erasure time; chain_card keeps the code (its
  visits are keyed by it) without name or UID; visits, vouchers and the inbox hold no personal
  data. The EVENTS stream loses the member's messages by subject once the erase event is
  applied; messages published before subjects named the member stay until the 30-day limit.
- other shops: their copy of the member is blanked, its card deleted and their own events about
  it blanked when the card's state arrives (the STATE stream then holds only the blanked
  state); their own streams keep their earlier messages naming it until the 30-day limit.
- erased in a shop that is not the member's home shop: only that shop's copy goes (and is not
  brought back by later states); the home shop must erase them for the chain to forget them.
"""

from __future__ import annotations

import json

from . import box as box_mod
from . import suppression
from .audit import audit
from .chain.events import record_chain_event, scrub_member_events
from .clock import iso, to_micros, utcnow
from .codes import format_code
from .db import database, sql
from .members import MemberError, member_dict
from .models import Card, Consent, Member, Outbox, Visit, Voucher
from .refusal import N_


def _moment(value):
    return iso(value) if value is not None else None


def export_member(member_id: int, actor: str, now=None) -> dict:
    """One member's data as plain JSON-ready data (audited: someone took a copy)."""
    member = Member.get_or_none(Member.id == member_id)
    if member is None:
        raise MemberError(N_("There is no member %(id)s."), id=member_id)
    data = {
        "member": member_dict(member)
        | {
            "locale": member.locale,
            "visit_count": member.visit_count,
            "rounds": member.rounds,
            "spend_cents": member.spend_cents,
            "erased_at": _moment(member.erased_at),
        },
        "cards": [
            {
                "code": format_code(c.code),
                "nfc_uid": c.nfc_uid,
                "created_at": _moment(c.created_at),
                "blocked_at": _moment(c.blocked_at),
            }
            for c in Card.select().where(Card.member == member).order_by(Card.id)
        ],
        "visits": [
            {
                "at": _moment(v.at),
                "stamps": v.stamps,
                "amount_cents": v.amount_cents,
                "source": v.source,
            }
            for v in Visit.select().where(Visit.member == member).order_by(Visit.at)
        ],  # fmt: skip
        "vouchers": [
            {
                "code": format_code(v.code),
                "kind": v.kind,
                "reward": v.reward,
                "valid_until": _moment(v.valid_until),
                "redeemed_at": _moment(v.redeemed_at),
                "voided_at": _moment(v.voided_at),
            }
            for v in Voucher.select().where(Voucher.member == member).order_by(Voucher.id)
        ],  # fmt: skip
        "consents": [consent_dict(c) for c in consents_of(member.id)],
        "messages": [
            {"kind": o.kind, "state": o.state, "created_at": _moment(o.created_at)}
            for o in Outbox.select().where(Outbox.member == member).order_by(Outbox.id)
        ],
    }
    audit(actor, "member.export", now, member_id=member.id)
    return data


def consents_of(member_id: int):
    return Consent.select().where(Consent.member == member_id).order_by(Consent.at, Consent.id)


def consent_dict(c: Consent) -> dict:
    return {
        "channel": c.channel,
        "granted": c.granted,
        "at": _moment(c.at),
        "source": c.source,
        "wording": c.wording,
        "version": c.version,
        "locale": c.locale,
        "confirmed_at": _moment(c.confirmed_at),
    }


def erase_member(member_id: int, actor: str, now=None) -> None:
    """Remove a member's personal data; visits and counters stay, without a name."""
    now = now or utcnow()
    with database.atomic():
        member = Member.get_or_none(Member.id == member_id)
        if member is None or member.erased_at is not None:
            raise MemberError(N_("There is no member %(id)s to erase."), id=member_id)
        # the addresses go, but not the promise to leave them alone: a re-import or a new
        # signup with them gets no marketing (only their hashes are kept)
        box = box_mod.current()
        suppression.add(box, "email", member.email, "erased", now)
        suppression.add(box, "sms", member.phone, "erased", now)
        Member.update(
            name="",
            email=None,
            phone=None,
            birthday_month=None,
            birthday_day=None,
            birthday_year=None,
            locale="",
            external_id=None,
            email_consent_at=None,
            sms_consent_at=None,
            consent_source="",
            erased_at=now,
        ).where(Member.id == member.id).execute()
        # the chain's copies: this box's event rows lose the personal fields (unsent ones
        # leave without them), and the centre and the other shops are told to erase theirs
        db = box.db
        codes = [c.code for c in Card.select(Card.code).where(Card.member == member)]
        scrub_member_events(db, member.id)
        record_chain_event(
            db, "erase", {"member": {"id": member.id}, "cards": codes, "at": to_micros(now)},
            to_micros(now),
        )  # fmt: skip
        # a card number identifies the person at the counter: it goes (visits keep card NULL)
        Card.delete().where(Card.member == member).execute()
        Consent.delete().where(Consent.member == member.id).execute()
        Outbox.delete().where(Outbox.member == member).execute()
        # vouchers stay counted, but can no longer be used by anyone
        Voucher.update(valid_until=now, voided_at=now, voided_by=str(actor)[:80]).where(
            (Voucher.member == member) & Voucher.redeemed_at.is_null() & (Voucher.valid_until > now)
        ).execute()
        # the counter screen's log carried the name in its sentences
        database.execute_sql(
            sql("UPDATE counter_event SET message = ?, payload = ? WHERE member_id = ?"),
            ("(erased member)", json.dumps({"status": "erased", "message": "(erased member)"}),
             member.id),
        )  # fmt: skip
        audit(actor, "member.erase", now, member_id=member.id)


__all__ = ["consent_dict", "consents_of", "erase_member", "export_member"]
