"""Vouchers: issued once per source key, listed when usable, redeemed atomically at most once."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from . import box as box_mod
from .audit import audit
from .chain.events import record_chain_event
from .clock import from_micros, iso, to_micros, utcnow
from .codes import CodeError, format_code, make_code, parse_code
from .db import sql
from .events import CounterResult, record_event
from .tokens import BadToken, classify

REASONS = ("already_redeemed", "expired", "not_yet_valid", "invalid_code")

_USABLE = (
    "SELECT code, kind, reward, valid_from, valid_until FROM voucher"
    " WHERE member_id = ? AND redeemed_at IS NULL AND valid_from <= ? AND valid_until > ?"
    " ORDER BY valid_until, id"
)


def voucher_dict(code, kind, reward, valid_from, valid_until) -> dict:
    return {
        "code": format_code(code),
        "kind": kind,
        "reward": reward,
        "valid_from": iso(from_micros(valid_from)),
        "valid_until": iso(from_micros(valid_until)),
    }


def usable_vouchers(db, member_id: int, now_us: int) -> list[dict]:
    rows = db.execute_sql(sql(_USABLE, db), (member_id, now_us, now_us)).fetchall()
    return [voucher_dict(*row) for row in rows]


def issue_voucher_sql(
    db,
    key: bytes,
    member_id: int,
    kind: str,
    reward: str,
    valid_from: datetime,
    valid_until: datetime,
    source_key: str,
) -> dict:
    """Insert a voucher with a fresh signed code; call inside the caller's transaction."""
    while True:
        code = make_code(key, "V")
        if (
            db.execute_sql(sql("SELECT 1 FROM voucher WHERE code = ?", db), (code,)).fetchone()
            is None
        ):
            break
    start, end = to_micros(valid_from), to_micros(valid_until)
    db.execute_sql(
        sql(
            "INSERT INTO voucher (code, member_id, kind, reward, issued_at, valid_from,"
            " valid_until, source_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            db,
        ),
        (code, member_id, kind, reward, start, start, end, source_key),
    )
    return voucher_dict(code, kind, reward, start, end)


def _when(moment_us: int, zone) -> str:
    return from_micros(moment_us).astimezone(zone).strftime("%d %b %Y %H:%M")


def voucher_refusal(valid_from, valid_until, redeemed_at, now_us, zone):
    """(reason, sentence) if the voucher cannot be used now, else None."""
    if redeemed_at is not None:
        return "already_redeemed", f"Already redeemed on {_when(redeemed_at, zone)}."
    if now_us < valid_from:
        return "not_yet_valid", f"Not valid yet: usable from {_when(valid_from, zone)}."
    if now_us >= valid_until:
        return "expired", f"Expired on {_when(valid_until, zone)}."
    return None


_REDEEM = "UPDATE voucher SET redeemed_at = ?, redeemed_by = ? WHERE id = ? AND redeemed_at IS NULL"
_REDEEM_CHAIN = (
    "UPDATE voucher SET redeemed_at = ?, redeemed_by = ?, chain_state = ?, chain_event = ?"
    " WHERE id = ? AND redeemed_at IS NULL"
)
_LOCAL_STATE = "SELECT valid_from, valid_until, redeemed_at FROM voucher WHERE code = ?"


@dataclass
class _ChainClaim:
    state: str  # claimed | provisional
    event_id: str
    refusal: tuple[str, str] | None = None


def _claim_at_centre(box, code: str, now_us: int) -> _ChainClaim | None:
    """Chain mode: claim the voucher at the centre before redeeming it here.

    Outside the write transaction (the answer may take the whole timeout). Without an answer
    the redemption is provisional; a voucher this box refuses anyway is not claimed.
    """
    import uuid

    from .chain.claims import claim_voucher
    from .chain.events import box_id

    db = box.db
    row = db.execute_sql(sql(_LOCAL_STATE, db), (code,)).fetchone()
    if row is None or voucher_refusal(*row, now_us, box.zone):
        return None
    event_id = str(uuid.uuid4())
    request = {"voucher": code, "box": box_id(db), "event": event_id, "at": now_us}
    answer = claim_voucher(
        box.settings.chain_nats_url, request, box.settings.chain_claim_timeout_ms / 1000
    )
    if answer is None:
        return _ChainClaim("provisional", event_id)
    if answer["ok"]:
        return _ChainClaim("claimed", event_id)
    when = _when(answer["at"], box.zone)
    return _ChainClaim(
        "claimed", event_id, ("already_redeemed", f"Already redeemed in another shop on {when}.")
    )


@dataclass
class RedeemResult:
    status: str  # redeemed | refused
    reason: str | None
    message: str
    voucher: dict | None = None
    member: dict | None = None
    redeemed_at: str | None = None
    event_id: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def redeem_voucher(
    text, *, now: datetime | None = None, by: str = "counter", source: str = "counter", box=None
) -> RedeemResult:
    """Redeem a voucher code once. Refusals carry a reason from REASONS and a sentence."""
    box = box or box_mod.current()
    now = now or utcnow()
    try:
        token = classify(text)
        if token.kind != "code":
            raise CodeError("malformed", "That is not a voucher code.")
        kind, code = parse_code(box.code_key, token.value)
        if kind != "V":
            raise CodeError("malformed", "That is a card code, not a voucher.")
    except (BadToken, CodeError) as exc:
        return RedeemResult("refused", "invalid_code", f"Voucher refused: {exc}")
    db = box.db
    now_us = to_micros(now)
    chain = _claim_at_centre(box, code, now_us) if box.settings.chain_nats_url else None
    with db.atomic():
        row = db.execute_sql(
            sql(
                "SELECT v.id, v.kind, v.reward, v.valid_from, v.valid_until, v.redeemed_at,"
                " m.id, m.external_id, m.name FROM voucher v"
                " JOIN member m ON m.id = v.member_id WHERE v.code = ?",
                db,
            ),
            (code,),
        ).fetchone()
        if row is None:
            return RedeemResult("refused", "invalid_code", "This voucher is not known on this box.")
        vid, vkind, reward, start, end, redeemed_at, member_id, external_id, name = row
        voucher = voucher_dict(code, vkind, reward, start, end)
        member = {"id": member_id, "external_id": external_id, "name": name}
        refusal = voucher_refusal(start, end, redeemed_at, now_us, box.zone)
        if refusal is None and chain is not None:
            refusal = chain.refusal
        if refusal is None:
            # the guard is the single-use rule: of two redeemers only one matches a NULL
            if chain is None:
                changed = db.execute_sql(sql(_REDEEM, db), (now_us, str(by)[:80], vid)).rowcount
            else:
                changed = db.execute_sql(
                    sql(_REDEEM_CHAIN, db),
                    (now_us, str(by)[:80], chain.state, chain.event_id, vid),
                ).rowcount
            if changed != 1:
                refusal = "already_redeemed", "Already redeemed a moment ago."
        if refusal:
            result = RedeemResult(
                "refused",
                refusal[0],
                f"Voucher refused: {refusal[1]}",
                voucher=voucher,
                member=member,
            )
            status = "refused"
        else:
            result = RedeemResult(
                "redeemed",
                None,
                f"Redeemed: {reward} for {name or 'customer'}.",
                voucher=voucher,
                member=member,
                redeemed_at=iso(now),
            )
            status = "redeemed"
            audit(by, "voucher.redeem", now, code=code, member_id=member_id, source=source)
            record_chain_event(
                db,
                "redeem",
                {
                    "voucher": code,
                    "member": {"id": member_id, "external_id": external_id},
                    "at": now_us,
                    "by": str(by)[:80],
                    "source": str(source)[:40],
                    "provisional": chain is not None and chain.state == "provisional",
                },
                now_us,
                chain.event_id if chain is not None else None,
            )
        event = CounterResult(
            status,
            result.message,
            reason=result.reason,
            member=member,
            voucher=voucher,
            source=str(source)[:40],
            at=iso(now),
        )
        result.event_id = record_event(db, event, member_id, now)
    return result
