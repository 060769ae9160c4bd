"""The counter loop: one tap or scan in, one short transaction, one plain result out.

This is the hot path. It speaks hand-written SQL through the database's cursor: building
Peewee queries costs more than SQLite itself does here (see bench/README.md).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from . import box as box_mod
from .birthdays import gift_on_card
from .chain.events import record_chain_event
from .clock import from_micros, iso, to_micros, utcnow
from .codes import CodeError, format_code, parse_code
from .db import sql
from .events import CounterResult, record_event
from .outbox import add_outbox
from .printing import enqueue
from .program import ProgramState, advance, load_program
from .receipts import last_valid_day, voucher_receipt
from .tokens import BadToken, classify, is_random_uid
from .vouchers import issue_voucher_sql, usable_vouchers, voucher_refusal

log = logging.getLogger(__name__)

MAX_STAMPS_PER_VISIT = 50
STATUSES = ("stamped", "cooldown", "unknown_card", "voucher", "refused")


# -- SQL of the hot path, written once with ? placeholders ---------------------------------

_CARD_BY_UID = (
    "SELECT c.id, c.code, c.blocked_at, m.id, m.external_id, m.name, m.stamps, m.rounds,"
    " m.last_stamp_at FROM card c JOIN member m ON m.id = c.member_id WHERE c.nfc_uid = ?"
)
_CARD_BY_CODE = _CARD_BY_UID.replace("c.nfc_uid = ?", "c.code = ?")
_STAMP = (
    "UPDATE member SET stamps = ?, rounds = ?, last_stamp_at = ?,"
    " visit_count = visit_count + 1, last_visit_at = ?,"
    " first_visit_at = COALESCE(first_visit_at, ?), spend_cents = spend_cents + ?"
    # the guard makes the read-check-write safe without relying on the lock kind:
    # a concurrent stamp changes stamps/rounds/last_stamp_at and this matches nothing
    " WHERE id = ? AND stamps = ? AND rounds = ?"
    " AND (last_stamp_at IS NULL OR last_stamp_at <= ?)"
)
_VISIT = (
    "INSERT INTO visit (member_id, card_id, at, stamps, amount_cents, source, staff_id,"
    " clock_synced) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_LAST_EVENT_AT = "SELECT at FROM counter_event ORDER BY id DESC LIMIT 1"
# a member with a wallet pass gets one pending pass update, however many taps (the key
# coalesces); the worker sends the latest state when the box is online (appliance.wallet)
_WALLET_DIRTY = (
    "INSERT INTO wallet_dirty (member_id, changed_at, attempts, last_error)"
    " SELECT ?, ?, 0, '' WHERE EXISTS (SELECT 1 FROM wallet_pass WHERE member_id = ?)"
    " ON CONFLICT (member_id) DO UPDATE SET changed_at = excluded.changed_at"
)


def _local(box, moment: datetime) -> str:
    return moment.astimezone(box.zone).strftime("%H:%M")


def handle(
    token,
    source: str = "counter",
    *,
    stamps: int = 1,
    now: datetime | None = None,
    amount_cents: int | None = None,
    staff_id: int | None = None,
    box=None,
) -> CounterResult:
    """Resolve a token and act on it: stamp a card, show a voucher, or refuse with a reason.

    Raises ValueError for a bad `stamps`/`amount_cents` argument (a programming or usage error);
    unreadable input is a refusal in the result and changes nothing; a phone's random UID or
    a forged/mistyped code is refused too, with a counter event so the screen shows why.
    """
    if not 1 <= stamps <= MAX_STAMPS_PER_VISIT:
        raise ValueError(f"stamps must be between 1 and {MAX_STAMPS_PER_VISIT}")
    if amount_cents is not None and not 0 <= amount_cents <= 10**9:
        raise ValueError("amount must be between 0 and 10,000,000")
    box = box or box_mod.current()
    now = now or utcnow()
    source = str(source)[:40]
    try:
        token = classify(token)
    except BadToken as exc:
        return CounterResult("refused", str(exc), reason=exc.reason, source=source, at=iso(now))
    refusal = _refuse_before_lookup(box, token)
    if refusal:
        reason, message = refusal
        result = CounterResult("refused", message, reason=reason, source=source, at=iso(now))
        # the screen shows a phone or a forged code, so staff know why nothing happened
        with box.db.atomic():
            result.event_id = record_event(box.db, result, None, now)
        return result
    kind = token.value[0] if token.kind == "code" else "C"
    db = box.db
    for _attempt in range(3):
        try:
            with db.atomic():
                synced = box.clock_trusted()
                at = now if synced else _not_before_last_event(db, now)
                if kind == "V":
                    result, member_id = _scan_voucher(db, box, token.value, at, source)
                else:
                    result, member_id = _tap_card(
                        db, box, token, at, source, stamps, amount_cents, staff_id, synced
                    )
                result.clock_synced = synced
                result.birthday = gift_on_card(result.vouchers)
                if result.birthday and result.status in ("stamped", "cooldown"):
                    through = _through(result.birthday["valid_until"], box.zone)
                    result.message += (
                        f" Birthday gift available: {result.birthday['gift']}, valid through"
                        f" {through}."
                    )
                result.event_id = record_event(db, result, member_id, at)
            return result
        except _Retry:
            continue
    raise RuntimeError("the card kept changing under this tap; try again")


def _through(valid_until: str, zone) -> str:
    """A validity's last day as staff read it ("28 Mar"): the end itself is the midnight after."""
    day = last_valid_day(valid_until, zone)
    return f"{day.day} {day:%b}"


def _refuse_before_lookup(box, token) -> tuple[str, str] | None:
    """A token that is well formed but can be refused without touching the database."""
    if token.kind == "nfc" and is_random_uid(token.value):
        return "random_uid", (
            "This is a phone or bank card: its number changes at every tap. Use the loyalty card"
            " or the wallet QR code."
        )
    if token.kind == "code":
        try:
            parse_code(box.code_key, token.value)
        except CodeError as exc:
            return "invalid_code", f"Code refused: {exc}"
    return None


def _card_state(code: str, stamps: int, program: ProgramState) -> dict:
    return {"code": format_code(code), "stamps": stamps, "stamps_needed": program.stamps_needed}


def _not_before_last_event(db, now: datetime) -> datetime:
    """An unsynchronised clock may say 1970 or last year: never record time going backwards."""
    row = db.execute_sql(sql(_LAST_EVENT_AT, db)).fetchone()
    last = from_micros(row[0]) if row else None
    return max(now, last) if last else now


def _tap_card(db, box, token, now, source, stamps, amount_cents, staff_id, synced=True):
    query = _CARD_BY_UID if token.kind == "nfc" else _CARD_BY_CODE
    row = db.execute_sql(sql(query, db), (token.value,)).fetchone()
    at = iso(now)
    if row is None:
        enrol = {"nfc_uid": token.value} if token.kind == "nfc" else {"card_code": token.value}
        what = "card" if token.kind == "nfc" else "printed card"
        return CounterResult(
            "unknown_card",
            f"Unknown {what}: enrol this customer to start their stamp card.",
            reason="unknown_card",
            enrol=enrol,
            source=source,
            at=at,
        ), None
    card_id, code, blocked_at, member_id, external_id, name, cur, rounds, last = row
    member = {"id": member_id, "external_id": external_id, "name": name}
    program = load_program(db)
    if blocked_at is not None:
        return CounterResult(
            "refused",
            f"This card was blocked on {from_micros(blocked_at):%d %b %Y}. Ask the owner.",
            reason="card_blocked",
            member=member,
            card=_card_state(code, cur, program),
            source=source,
            at=at,
        ), member_id
    now_us = to_micros(now)
    waiting = usable_vouchers(db, member_id, now_us)
    who = name or "Customer"
    if last is not None and now_us - last < box.cooldown_micros:
        next_at = from_micros(last + box.cooldown_micros)
        ago = max(0, (now_us - last) // 60_000_000)
        return CounterResult(
            "cooldown",
            f"{who} already got a stamp {ago} min ago; next stamp from {_local(box, next_at)}.",
            reason="cooldown",
            member=member,
            card=_card_state(code, cur, program),
            vouchers=waiting,
            next_stamp_at=iso(next_at),
            source=source,
            at=at,
        ), member_id
    new_stamps, new_rounds, unlocked = advance(cur, rounds, stamps, program.tiers)
    changed = db.execute_sql(
        sql(_STAMP, db),
        (
            new_stamps,
            new_rounds,
            now_us,
            now_us,
            now_us,
            amount_cents or 0,
            member_id,
            cur,
            rounds,
            now_us - box.cooldown_micros,
        ),
    ).rowcount
    if changed != 1:
        # only reachable where another writer slipped in between (PostgreSQL): re-read
        raise _Retry()
    db.execute_sql(
        sql(_VISIT, db),
        (member_id, card_id, now_us, stamps, amount_cents, source, staff_id, synced),
    )
    db.execute_sql(sql(_WALLET_DIRTY, db), (member_id, now_us, member_id))
    issued = []
    for rnd, tier in unlocked:
        key = f"tier:{member_id}:{rnd}:{tier.stamps}"
        voucher = issue_voucher_sql(
            db,
            box.code_key,
            member_id,
            "tier",
            tier.reward,
            now,
            now + timedelta(days=program.voucher_days),
            key,
        )
        # the reward message goes out from the worker; written here, in the tap's transaction
        add_outbox(db, f"reward_unlocked:{key}", "reward_unlocked", member_id, voucher, now)
        issued.append(voucher)
    # the chain's copy of this visit (one row, same transaction): the relay sends it on
    until_us = now_us + program.voucher_days * 86_400_000_000
    record_chain_event(
        db,
        "stamp",
        {
            "card": code,
            "nfc_uid": token.value if token.kind == "nfc" else None,
            "member": {"id": member_id, "external_id": external_id, "name": name},
            "at": now_us,
            "stamps": stamps,
            "amount_cents": amount_cents,
            "source": source,
            "clock_synced": synced,
            "vouchers": [
                {
                    "code": v["code"].replace("-", ""),
                    "kind": v["kind"],
                    "reward": v["reward"],
                    "valid_from": now_us,
                    "valid_until": until_us,
                }
                for v in issued
            ],
        },
        now_us,
    )
    if issued:
        waiting = usable_vouchers(db, member_id, now_us)
        if box.settings.printer != "none":
            _queue_reward_slips(db, box, name, issued, now)
        message = f"{who}: card full! Reward unlocked: " + ", ".join(v["reward"] for v in issued)
    else:
        message = f"{who}: stamp {new_stamps} of {program.stamps_needed}."
    if waiting and not issued:
        message += f" {len(waiting)} reward(s) waiting."
    return CounterResult(
        "stamped",
        message,
        member=member,
        card=_card_state(code, new_stamps, program),
        stamps_added=stamps,
        vouchers=waiting,
        unlocked=issued,
        source=source,
        at=at,
    ), member_id


def _queue_reward_slips(db, box, name: str, issued: list[dict], now: datetime) -> None:
    """The voucher slips go into the print queue in the tap's own commit: a crash cannot lose
    them. A savepoint keeps a failing slip from undoing the stamp."""
    try:
        with db.atomic():
            for voucher in issued:
                enqueue(voucher_receipt(voucher, name, now=now, zone=box.zone), now=now, box=box)
    except Exception:
        log.exception("could not queue the voucher slip; the stamp stands")


class _Retry(Exception):
    pass


def _scan_voucher(db, box, code, now, source):
    now_us = to_micros(now)
    row = db.execute_sql(
        sql(
            "SELECT v.id, v.code, v.kind, v.reward, v.valid_from, v.valid_until, v.redeemed_at,"
            " m.id, m.external_id, m.name FROM voucher v JOIN member m ON m.id = v.member_id"
            " WHERE v.code = ?",
            db,
        ),
        (code,),
    ).fetchone()
    at = iso(now)
    if row is None:
        # correctly signed but unknown here: issued by another box or deleted
        return CounterResult(
            "refused",
            "This voucher is not known on this box.",
            reason="invalid_code",
            source=source,
            at=at,
        ), None
    member_id = row[7]
    member = {"id": member_id, "external_id": row[8], "name": row[9]}
    voucher = {
        "code": format_code(row[1]),
        "kind": row[2],
        "reward": row[3],
        "valid_from": iso(from_micros(row[4])),
        "valid_until": iso(from_micros(row[5])),
    }
    waiting = usable_vouchers(db, member_id, now_us)
    refusal = voucher_refusal(row[4], row[5], row[6], now_us, box.zone)
    if refusal:
        reason, message = refusal
        return CounterResult(
            "refused",
            message,
            reason=reason,
            member=member,
            voucher=voucher,
            vouchers=waiting,
            source=source,
            at=at,
        ), member_id
    who = row[9] or "Customer"
    if row[2] == "birthday":
        message = (
            f"{who}: birthday gift {row[3]}, valid through"
            f" {_through(voucher['valid_until'], box.zone)}. Redeem it?"
        )
    else:
        message = f"{who}: voucher for {row[3]} is valid. Redeem it?"
    return CounterResult(
        "voucher",
        message,
        member=member,
        voucher=voucher,
        vouchers=waiting,
        source=source,
        at=at,
    ), member_id
