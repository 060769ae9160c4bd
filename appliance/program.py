"""The stamp program: reward tiers at stamp thresholds and how long vouchers last."""

from __future__ import annotations

from dataclasses import dataclass

from .audit import audit
from .clock import utcnow
from .db import database, sql
from .models import Program, RewardTier
from .refusal import N_, Refusal

DEFAULT_TIERS = ((10, "Free coffee"),)
DEFAULT_VOUCHER_DAYS = 90
MAX_STAMPS = 1000


class ProgramError(Refusal):
    """A program the owner has to correct; the message says what."""


@dataclass(frozen=True)
class Tier:
    stamps: int
    reward: str


@dataclass(frozen=True)
class ProgramState:
    id: int
    voucher_days: int
    tiers: tuple[Tier, ...]

    @property
    def stamps_needed(self) -> int:
        return self.tiers[-1].stamps

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "voucher_days": self.voucher_days,
            "stamps_needed": self.stamps_needed,
            "tiers": [{"stamps": t.stamps, "reward": t.reward} for t in self.tiers],
        }


def parse_tier(text: str) -> Tier:
    """'N:REWARD' → Tier. Raises ProgramError with a sentence for the owner."""
    count, sep, reward = text.partition(":")
    reward = reward.strip()
    try:
        stamps = int(count)
    except ValueError:
        stamps = 0
    if not sep or not reward or not 1 <= stamps <= MAX_STAMPS:
        raise ProgramError(
            N_(
                "%(text)r is not a tier: write stamps and reward like 10:Free coffee"
                " (stamps from 1 to %(most)s)."
            ),
            text=text,
            most=MAX_STAMPS,
        )
    if len(reward) > 120:
        raise ProgramError(N_("A reward name may have at most 120 characters."))
    return Tier(stamps, reward)


def load_program(db=None) -> ProgramState | None:
    """The active program, in one query (this runs on every tap)."""
    db = db or database.obj
    rows = db.execute_sql(
        sql(
            "SELECT p.id, p.voucher_days, t.stamps, t.reward FROM program p"
            " JOIN reward_tier t ON t.program_id = p.id"
            " WHERE p.active = ? ORDER BY t.stamps",
            db,
        ),
        (True,),
    ).fetchall()
    if not rows:
        return None
    return ProgramState(rows[0][0], rows[0][1], tuple(Tier(r[2], r[3]) for r in rows))


def set_program(
    tiers: list[Tier], voucher_days: int | None = None, now=None, actor: str = "system"
) -> ProgramState:
    """Replace the tiers (and optionally the voucher lifetime) of the active program."""
    if not tiers:
        raise ProgramError(N_("A program needs at least one tier."))
    if len({t.stamps for t in tiers}) != len(tiers):
        raise ProgramError(N_("Two tiers have the same number of stamps."))
    if voucher_days is not None and not 1 <= voucher_days <= 3650:
        raise ProgramError(N_("Vouchers must last between 1 and 3650 days."))
    now = now or utcnow()
    with database.atomic():
        program = Program.get_or_none(Program.active == True)  # noqa: E712
        if program is None:
            program = Program.create(
                voucher_days=voucher_days or DEFAULT_VOUCHER_DAYS, updated_at=now
            )
        else:
            program.updated_at = now
            if voucher_days is not None:
                program.voucher_days = voucher_days
            program.save()
        RewardTier.delete().where(RewardTier.program == program).execute()
        for tier in sorted(tiers, key=lambda t: t.stamps):
            RewardTier.create(program=program, stamps=tier.stamps, reward=tier.reward)
        audit(
            actor,
            "program.set",
            now,
            voucher_days=program.voucher_days,
            tiers=[[t.stamps, t.reward] for t in tiers],
        )
    return load_program()


def ensure_default_program(now=None) -> ProgramState:
    return load_program() or set_program(
        [Tier(s, r) for s, r in DEFAULT_TIERS], DEFAULT_VOUCHER_DAYS, now=now
    )


def advance(stamps: int, rounds: int, add: int, tiers: tuple[Tier, ...]):
    """Add stamps to a card; returns (stamps, rounds, [(round, tier) unlocked]).

    Reaching the last tier completes the card: a new one starts and keeps the surplus.
    A card left above the last tier by a program change completes on its next stamp.
    """
    unlocked = []
    needed = tiers[-1].stamps
    for _ in range(add):
        stamps += 1
        unlocked.extend((rounds, t) for t in tiers if t.stamps == stamps)
        if stamps >= needed:
            if stamps > needed:
                unlocked.append((rounds, tiers[-1]))
            stamps, rounds = 0, rounds + 1
    return stamps, rounds, unlocked
