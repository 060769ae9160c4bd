"""Vouchers the owner issues by hand or voids (a voided voucher is refused at the counter)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from . import box as box_mod
from .audit import audit
from .clock import utcnow
from .codes import CodeError, parse_code
from .db import database
from .members import MemberError
from .models import Member, Voucher
from .refusal import N_
from .vouchers import issue_voucher_sql

MAX_DAYS = 3650


def issue_manual_voucher(member_id: int, reward: str, days: int, actor: str, now=None) -> dict:
    """A voucher given by hand (a complaint, a gift); valid from now for `days` days."""
    now = now or utcnow()
    reward = " ".join((reward or "").split())
    if not reward or len(reward) > 120:
        raise MemberError(N_("Name the reward in 1 to 120 characters."))
    if not 1 <= days <= MAX_DAYS:
        raise MemberError(N_("A voucher lasts from 1 to %(most)s days."), most=MAX_DAYS)
    box = box_mod.current()
    with database.atomic():
        member = Member.get_or_none(Member.id == member_id)
        if member is None or member.erased_at is not None:
            raise MemberError(N_("There is no member %(id)s."), id=member_id)
        voucher = issue_voucher_sql(
            box.db, box.code_key, member.id, "manual", reward, now, now + timedelta(days=days),
            f"manual:{member.id}:{secrets.token_hex(8)}",
        )  # fmt: skip
        audit(actor, "voucher.issue", now, member_id=member.id, code=voucher["code"],
              reward=reward)  # fmt: skip
    return voucher


def void_voucher(code: str, actor: str, now=None) -> None:
    """Stop a voucher from being redeemed: it expires now and is marked void."""
    now = now or utcnow()
    try:
        kind, canonical = parse_code(box_mod.current().code_key, code)
    except CodeError as exc:
        raise MemberError.wrapping(exc) from None
    with database.atomic():
        changed = (
            Voucher.update(valid_until=now, voided_at=now, voided_by=str(actor)[:80])
            .where(
                (Voucher.code == canonical)
                & Voucher.redeemed_at.is_null()
                & Voucher.voided_at.is_null()
            )
            .execute()
        )
        if not changed:
            raise MemberError(N_("That voucher is unknown, already redeemed or already void."))
        audit(actor, "voucher.void", now, code=canonical)


def recent_vouchers(limit: int = 50, offset: int = 0):
    return (
        Voucher.select(Voucher, Member.id, Member.name)
        .join(Member)
        .order_by(Voucher.id.desc())
        .limit(limit)
        .offset(offset)
    )
