"""The centre's STATE stream: the latest state of every card and voucher, one message each.

The ingest and the claim service mark what changed (`chain_dirty`, in their own transaction);
the publisher reads a marked card or voucher, builds its whole state from PostgreSQL and
publishes it on `chain.state.<kind>.<code>`. The stream keeps one message per subject, so it
is a compacted snapshot every box mirrors, and a state applied twice changes nothing: it
carries totals per shop, never increments.
"""

from __future__ import annotations

import asyncio
import json

from ..db import sql
from .client import NatsClient

STATE = "STATE"
SUBJECTS = "chain.state.>"

_DIRTY = (
    "INSERT INTO chain_dirty (subject, changed_at) VALUES (?, ?)"
    # +1: a change while the publisher holds the old value must not be deleted with it
    " ON CONFLICT (subject) DO UPDATE SET changed_at = chain_dirty.changed_at + 1"
)
_PUBLISHED = "DELETE FROM chain_dirty WHERE subject = ? AND changed_at = ?"
_CARD = (
    "SELECT c.code, c.nfc_uid, c.member_ref, c.name, c.home_box, m.erased_at, c.blocked_at"
    " FROM chain_card c"
    " LEFT JOIN chain_member m ON m.member_ref = c.member_ref WHERE c.code = ?"
)
_PER_BOX = (
    "SELECT box_id, SUM(stamps), COUNT(*), MAX(at), SUM(COALESCE(amount_cents, 0))"
    " FROM chain_visit WHERE card_code = ? GROUP BY box_id"
)
_VOUCHER = (
    "SELECT card_code, kind, reward, valid_from, valid_until, box_id FROM chain_voucher"
    " WHERE code = ?"
)
_CLAIM = "SELECT box_id, event_id, at, online FROM chain_claim WHERE voucher_code = ?"
_CONFLICTS = (
    "SELECT box_id, event_id, at, winner_box FROM chain_conflict WHERE voucher_code = ? ORDER BY id"
)


def subject(kind: str, code: str) -> str:
    return f"chain.state.{kind}.{code}"


def mark_dirty(db, kind: str, code: str, now_us: int) -> None:
    """Publish this card's or voucher's state again; call inside the change's transaction."""
    db.execute_sql(sql(_DIRTY, db), (subject(kind, code), now_us))


def card_identity(db, code: str) -> dict | None:
    row = db.execute_sql(sql(_CARD, db), (code,)).fetchone()
    if row is None:
        return None
    card = {"code": row[0], "nfc_uid": row[1], "member": row[2], "name": row[3], "home": row[4]}
    if row[6] is not None:
        card["blocked_at"] = row[6]  # refused in every shop (a lost or replaced card)
    if row[5] is not None:
        card["erased"] = True  # every shop erases its copy of this member
    return card


def card_state(db, code: str) -> dict | None:
    card = card_identity(db, code)
    if card is None:
        return None
    rows = db.execute_sql(sql(_PER_BOX, db), (code,)).fetchall()
    card["boxes"] = {
        b: {"stamps": int(s), "visits": int(v), "last_at": last, "spend_cents": int(spend)}
        for b, s, v, last, spend in rows
    }
    return card


def voucher_state(db, code: str) -> dict:
    state = {"voucher": code, "card": None, "redeemed": None, "conflicts": []}
    row = db.execute_sql(sql(_VOUCHER, db), (code,)).fetchone()
    if row is not None:
        state.update(
            card=card_identity(db, row[0]),
            kind=row[1],
            reward=row[2],
            valid_from=row[3],
            valid_until=row[4],
            issued_by=row[5],
        )
    claim = db.execute_sql(sql(_CLAIM, db), (code,)).fetchone()
    if claim is not None:
        state["redeemed"] = {"box": claim[0], "event": claim[1], "at": claim[2]}
        state["redeemed"]["online"] = bool(claim[3])
    state["conflicts"] = [
        {"box": b, "event": e, "at": at, "winner": w}
        for b, e, at, w in db.execute_sql(sql(_CONFLICTS, db), (code,)).fetchall()
    ]
    return state


def build_state(db, subj: str) -> dict | None:
    _, _, kind, code = subj.split(".", 3)
    return card_state(db, code) if kind == "card" else voucher_state(db, code)


class Publisher(NatsClient):
    """Marked cards and vouchers → the STATE stream. initialize(), loop(), shutdown()."""

    def __init__(self, db, nats_url: str, batch: int = 500, timeout: float = 5.0) -> None:
        super().__init__(nats_url)
        self.db, self.batch, self.timeout = db, batch, timeout
        self.published = 0
        self._js = None

    def initialize(self) -> None:
        async def connect():
            self._js = (await self._connect()).jetstream(timeout=self.timeout)
            await ensure_state_stream(self._js)

        self._run(connect())

    def loop(self, now=None) -> int:
        """Publish up to one batch of marked states; returns how many were published."""
        from nats.errors import Error as NatsError

        marked = self.db.execute_sql(
            sql("SELECT subject, changed_at FROM chain_dirty ORDER BY changed_at LIMIT ?", self.db),
            (self.batch,),
        ).fetchall()
        if not marked:
            return 0
        # read every state in one snapshot, then publish them all at once (pipelined acks)
        with self.db.atomic():
            states = [(subj, at, build_state(self.db, subj)) for subj, at in marked]

        async def send():
            async def one(subj, state):
                try:
                    await self._js.publish(subj, json.dumps(state, separators=(",", ":")).encode())
                    return True
                except (NatsError, TimeoutError):
                    return False

            return await asyncio.gather(*(one(s, st) for s, _, st in states if st is not None))

        oks = iter(self._run(send()))
        done = [(s, at) for s, at, st in states if st is None or next(oks)]
        if done:
            with self.db.atomic():
                for subj, at in done:
                    self.db.execute_sql(
                        sql(_PUBLISHED, self.db),
                        (subj, at),
                    )
        self.published += len(done)
        return len(done)


async def ensure_state_stream(js) -> None:
    from nats.js.api import StreamConfig

    config = StreamConfig(name=STATE, subjects=[SUBJECTS], max_msgs_per_subject=1)
    try:
        await js.add_stream(config)
    except Exception:  # noqa: BLE001 - it exists (perhaps with other limits): make it ours
        await js.update_stream(config)
