"""A voucher redeemed offline in two shops: the centre kept one, this box's lost.

The mirror records the lost redemption here (and marks the voucher 'conflict'); the owner
decides what happens, one conflict at a time or with a default for new ones:

- absorb: the shop takes the cost; closed.
- claw_back: one other usable voucher of the same member is voided (the one expiring first);
  closed. With none to take, the conflict stays open.
- alert: stays open and counted in the box's sync state until the owner decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..audit import audit
from ..clock import from_micros, iso, to_micros, utcnow
from ..db import sql
from ..refusal import N_, Refusal, Sentence

POLICIES = ("absorb", "claw_back", "alert")
DEFAULT_POLICY = "alert"
_SETTING = "chain_conflict_policy"

_LIST = (
    "SELECT c.id, c.voucher_code, c.winner_box, c.at, c.recorded_at, c.policy, c.resolved_at,"
    " c.resolved_by, c.note, v.reward, m.id, m.name FROM chain_conflict c"
    " LEFT JOIN voucher v ON v.code = c.voucher_code LEFT JOIN member m ON m.id = v.member_id"
    " ORDER BY c.resolved_at IS NOT NULL, c.id DESC LIMIT ?"
)
_ONE = (
    "SELECT c.id, c.voucher_code, c.resolved_at, v.member_id FROM chain_conflict c"
    " LEFT JOIN voucher v ON v.code = c.voucher_code WHERE c.id = ?"
)
_TO_CLAW = (
    "SELECT id, code FROM voucher WHERE member_id = ? AND code <> ? AND redeemed_at IS NULL"
    " AND voided_at IS NULL AND valid_until > ? ORDER BY valid_until, id LIMIT 1"
)
_VOID = "UPDATE voucher SET valid_until = ?, voided_at = ?, voided_by = ? WHERE id = ?"
_SET = (
    "UPDATE chain_conflict SET policy = ?, resolved_at = ?, resolved_by = ?, note = ? WHERE id = ?"
)


# the notes a settled conflict records (in English, as the audit log does) and its readers
# see in their own language (_read_note)
_VOIDED = N_("voided %(code)s")
_NOTHING_YET = N_("no other voucher to take back yet")
_VOIDED_PREFIX = _VOIDED.split("%(", 1)[0]  # "voided "


def _read_note(text: str | None) -> str:
    """A recorded note as the sentence it was written from: the record stays English, the
    chain page translates it (web.refusals.explain). Any other text reads as it was."""
    if text == _NOTHING_YET:
        return Sentence(_NOTHING_YET)
    if text and text.startswith(_VOIDED_PREFIX) and len(text) > len(_VOIDED_PREFIX):
        return Sentence(_VOIDED, code=text[len(_VOIDED_PREFIX) :])
    return text or ""


class ConflictError(Refusal):
    """A policy or conflict the owner cannot apply (unknown, or already closed)."""


@dataclass
class Conflict:
    id: int
    voucher: str
    winner_box: str
    at: str
    recorded_at: str
    policy: str | None
    resolved_at: str | None
    resolved_by: str | None
    note: str
    reward: str | None
    member_id: int | None
    member_name: str | None


def list_conflicts(db, limit: int = 200) -> list[Conflict]:
    """Open conflicts first, newest first."""
    rows = db.execute_sql(sql(_LIST, db), (limit,)).fetchall()
    return [
        Conflict(
            r[0],
            r[1],
            r[2],
            iso(from_micros(r[3])),
            iso(from_micros(r[4])),
            r[5],
            iso(from_micros(r[6])) if r[6] else None,
            r[7],
            _read_note(r[8]),
            r[9],
            r[10],
            r[11],
        )  # fmt: skip
        for r in rows
    ]


def open_conflicts(db) -> int:
    row = db.execute_sql("SELECT COUNT(*) FROM chain_conflict WHERE resolved_at IS NULL")
    return row.fetchone()[0]


def default_policy(db) -> str:
    row = db.execute_sql(
        sql("SELECT value FROM shop_setting WHERE key = ?", db), (_SETTING,)
    ).fetchone()
    return row[0] if row and row[0] in POLICIES else DEFAULT_POLICY


def set_default_policy(db, policy: str, actor: str, now=None) -> None:
    if policy not in POLICIES:
        raise ConflictError(N_("Choose one of: %(policies)s."), policies=", ".join(POLICIES))
    now = now or utcnow()
    with db.atomic():
        db.execute_sql(
            sql(
                "INSERT INTO shop_setting (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                db,
            ),
            (_SETTING, policy),
        )
        audit(actor, "chain.conflict_policy", now, policy=policy)


def resolve(db, conflict_id: int, policy: str, actor: str, now=None) -> str:
    """Apply a policy to one open conflict; returns the note recorded. Raises ConflictError."""
    if policy not in POLICIES:
        raise ConflictError(N_("Choose one of: %(policies)s."), policies=", ".join(POLICIES))
    now = now or utcnow()
    now_us = to_micros(now)
    with db.atomic():
        row = db.execute_sql(sql(_ONE, db), (conflict_id,)).fetchone()
        if row is None or row[2] is not None:
            raise ConflictError(N_("That conflict is unknown or already closed."))
        _id, code, _resolved, member_id = row
        closed, note = now_us, ""
        if policy == "claw_back":
            other = (
                member_id
                and db.execute_sql(sql(_TO_CLAW, db), (member_id, code, now_us)).fetchone()
            )
            if other:
                db.execute_sql(
                    sql(_VOID, db), (now_us, now_us, f"claw back: {code}"[:80], other[0])
                )
                note = Sentence(_VOIDED, code=other[1])
            else:
                closed, note = None, Sentence(_NOTHING_YET)
        elif policy == "alert":
            closed = None
        db.execute_sql(
            sql(_SET, db),
            (policy, closed, str(actor)[:80] if closed else None, note, conflict_id),
        )
        audit(actor, "chain.conflict", now, id=conflict_id, voucher=code, policy=policy, note=note)
    return note
