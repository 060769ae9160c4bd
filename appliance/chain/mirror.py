"""The centre's STATE stream, mirrored into the box's own SQLite.

Each box has a durable consumer on the centre's STATE stream (through its leaf server):
it applies each state and acks after the SQLite commit, and the box's SQLite is its copy
(a box cut off from the centre keeps what it applied, and resumes where it stopped). A
server-side JetStream mirror on the box was tried first: after the centre's restart
nats-server took ~50 s to retry it, against ~1 s for the leaf and this consumer.

States carry per-shop totals: the box adds only what other shops did
beyond what it already applied (chain_card_state), never its own visits, and writes no
chain event for it, so nothing it applies goes back to the centre.
"""

from __future__ import annotations

import json
import time

from ..clock import from_micros, to_micros, utcnow
from ..db import sql
from ..program import advance, load_program
from .claims import HELLO_SUBJECT
from .client import NatsClient
from .conflicts import default_policy, resolve
from .events import box_id as read_box_id
from .events import scrub_member_events
from .natsbin import fetch_soon
from .state import STATE
from .status import record_contact

CONTACT_EVERY_S = 5.0

_CARD = "SELECT id, member_id FROM card WHERE code = ?"
_BLOCK = "UPDATE card SET blocked_at = ? WHERE id = ? AND blocked_at IS NULL"
_BY_REF = (
    "SELECT id FROM member WHERE chain_ref = ? AND consent_source = 'chain'"
    " AND erased_at IS NULL ORDER BY id LIMIT 1"
)
_ERASED_HERE = "SELECT 1 FROM member WHERE chain_ref = ? AND erased_at IS NOT NULL LIMIT 1"
_RENAME = "UPDATE member SET name = ? WHERE id = ? AND consent_source = 'chain' AND name <> ?"
_APPLIED = "SELECT remote_stamps, remote_visits FROM chain_card_state WHERE card_code = ?"
_SAVE_APPLIED = (
    "INSERT INTO chain_card_state (card_code, remote_stamps, remote_visits, remote_last_at,"
    " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (card_code) DO UPDATE SET"
    " remote_stamps = excluded.remote_stamps, remote_visits = excluded.remote_visits,"
    " remote_last_at = excluded.remote_last_at, updated_at = excluded.updated_at"
)
_MEMBER = "SELECT stamps, rounds FROM member WHERE id = ?"
_ADD_REMOTE = (
    "UPDATE member SET stamps = ?, rounds = ?, visit_count = visit_count + ?,"
    # other shops' last stamp counts for the cooldown here too
    " last_stamp_at = CASE WHEN last_stamp_at IS NULL OR last_stamp_at < ? THEN ?"
    " ELSE last_stamp_at END,"
    " last_visit_at = CASE WHEN last_visit_at IS NULL OR last_visit_at < ? THEN ?"
    " ELSE last_visit_at END,"
    " first_visit_at = COALESCE(first_visit_at, ?) WHERE id = ?"
)
_VOUCHER = "SELECT id, redeemed_at, chain_event, chain_state, member_id FROM voucher WHERE code = ?"
_NEW_VOUCHER = (
    "INSERT INTO voucher (code, member_id, kind, reward, issued_at, valid_from, valid_until,"
    " source_key, chain_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'remote')"
)
_REDEEMED_ELSEWHERE = (
    "UPDATE voucher SET redeemed_at = ?, redeemed_by = ?, chain_state = 'remote'"
    " WHERE id = ? AND redeemed_at IS NULL"
)
_MARK = "UPDATE voucher SET chain_state = ? WHERE id = ?"
_CONFLICT = (
    "INSERT INTO chain_conflict (voucher_code, event_id, box_id, winner_box, at, recorded_at,"
    " note) VALUES (?, ?, ?, ?, ?, ?, '') ON CONFLICT (event_id) DO NOTHING"
)


def _local_card(db, card: dict, now_us: int) -> int | None:
    """The local member id of a chain card; enrols the card here when another shop made it."""
    row = db.execute_sql(sql(_CARD, db), (card["code"],)).fetchone()
    blocked = card.get("blocked_at")
    if row is not None:
        if card.get("member"):
            row = (row[0], _follow_member(db, row[1], card["member"]))
        if card.get("name") is not None:
            # a member another shop made follows its home shop's changes (no event: 'chain')
            db.execute_sql(sql(_RENAME, db), (card["name"], row[1], card["name"]))
        if blocked is not None:
            # blocked (lost, replaced) in its shop: refused here too ('chain' card: no event)
            db.execute_sql(sql(_BLOCK, db), (blocked, row[0]))
        return row[1]
    from ..models import Card, Member

    uid = card.get("nfc_uid")
    if uid and Card.select().where(Card.nfc_uid == uid).exists(db):
        uid = None  # this box gave that UID to a card of its own: keep ours, use the code
    now = from_micros(now_us)
    ref = card.get("member")
    # a replacement card (or another card of a member this shop knows) joins that member
    found = ref and db.execute_sql(sql(_BY_REF, db), (ref,)).fetchone()
    if ref and not found and db.execute_sql(sql(_ERASED_HERE, db), (ref,)).fetchone():
        return None  # erased in this shop on request: their cards stay unknown here
    if found:
        member_id = found[0]
    else:
        # the database is named (not the bound default): one process may hold several boxes
        member_id = Member.insert(
            name=card.get("name") or "", joined_at=now, consent_source="chain", chain_ref=ref
        ).execute(db)
    Card.insert(
        member=member_id, code=card["code"], nfc_uid=uid, label="chain", created_at=now,
        blocked_at=from_micros(blocked) if blocked is not None else None,
    ).execute(db)  # fmt: skip
    return member_id


_ERASE_MEMBER = (
    "UPDATE member SET name = '', email = NULL, phone = NULL, birthday_month = NULL,"
    " birthday_day = NULL, birthday_year = NULL, locale = '', external_id = NULL,"
    " erased_at = ? WHERE id = ? AND consent_source = 'chain' AND erased_at IS NULL"
)
_VOID = (
    "UPDATE voucher SET valid_until = ?, voided_at = ?, voided_by = 'chain'"
    " WHERE member_id = ? AND redeemed_at IS NULL AND valid_until > ?"
)
_ERASED_LOG = "UPDATE counter_event SET message = ?, payload = ? WHERE member_id = ?"


def erase_card(db, code: str, now_us: int) -> bool:
    """The member of this card was erased in their home shop: erase this shop's copy.

    The member row stays with its counters (visits here keep being counted, without a name), as
    erase_member does; the card goes, so the code is nobody's here any more. Only a member the
    mirror made is blanked: a member of this shop keeps what this shop was told by them."""
    db.execute_sql(sql("DELETE FROM chain_card_state WHERE card_code = ?", db), (code,))
    row = db.execute_sql(sql(_CARD, db), (code,)).fetchone()
    if row is None:
        return False  # never here, or erased here already (its home shop)
    card_id, member_id = row
    from ..models import Card

    # moments are stored as UTC microseconds
    db.execute_sql(sql(_ERASE_MEMBER, db), (now_us, member_id))
    # this shop's own events about that member (its stamps on the card) lose the name too
    scrub_member_events(db, member_id)
    db.execute_sql(sql(_VOID, db), (now_us, now_us, member_id, now_us))
    gone = json.dumps({"status": "erased", "message": "(erased member)"})
    db.execute_sql(sql(_ERASED_LOG, db), ("(erased member)", gone, member_id))
    Card.delete().where(Card.id == card_id).execute(db)
    return True


# the tables merge_members moves too (a member's rows)
_MEMBER_TABLES = ("card", "visit", "voucher", "consent", "outbox", "counter_event")
_COUNTERS = (
    "SELECT stamps, rounds, visit_count, spend_cents, first_visit_at, last_visit_at,"
    " last_stamp_at FROM member WHERE id = ?"
)
_FOLD = (
    "UPDATE member SET stamps = ?, rounds = ?, visit_count = ?, spend_cents = ?,"
    " first_visit_at = ?, last_visit_at = ?, last_stamp_at = ? WHERE id = ?"
)


def _follow_member(db, member_id: int, ref: str) -> int:
    """A card moved to another member in its home shop (a merge there): this shop's copy of
    the card follows, and a copy of the member left without cards is folded in, as
    merge_members does. Returns the card's member here."""
    row = db.execute_sql(
        sql("SELECT chain_ref, consent_source FROM member WHERE id = ?", db), (member_id,)
    ).fetchone()
    if row is None or row[1] != "chain" or row[0] in (None, ref):
        return member_id  # this shop's own member, or no change
    found = db.execute_sql(sql(_BY_REF, db), (ref,)).fetchone()
    if found is None:
        db.execute_sql(sql("UPDATE member SET chain_ref = ? WHERE id = ?", db), (ref, member_id))
        return member_id
    keep = found[0]
    mine = db.execute_sql(sql(_COUNTERS, db), (member_id,)).fetchone()
    theirs = db.execute_sql(sql(_COUNTERS, db), (keep,)).fetchone()
    pick = (None, None, None, None, min, max, max)
    folded = [
        a + b if how is None else how([v for v in (a, b) if v is not None], default=None)
        for how, a, b in zip(pick, mine, theirs, strict=True)
    ]
    for table in _MEMBER_TABLES:
        db.execute_sql(
            sql(f"UPDATE {table} SET member_id = ? WHERE member_id = ?", db), (keep, member_id)
        )
    db.execute_sql(sql(_FOLD, db), (*folded, keep))
    db.execute_sql(sql("DELETE FROM member WHERE id = ?", db), (member_id,))
    return keep


def apply_card(db, me: str, state: dict, now_us: int) -> int:
    """Add other shops' new stamps on this card; returns the stamps added."""
    if state.get("erased"):
        # the last stamps made before the erasure still count here, then the copy goes
        row = db.execute_sql(sql(_CARD, db), (state["code"],)).fetchone()
        added = _add_remote(db, me, state, row[1], now_us) if row is not None else 0
        erase_card(db, state["code"], now_us)
        return added
    member_id = _local_card(db, state, now_us)
    if member_id is None:
        return 0
    return _add_remote(db, me, state, member_id, now_us)


def _add_remote(db, me: str, state: dict, member_id: int, now_us: int) -> int:
    others = [v for b, v in state["boxes"].items() if b != me]
    stamps = sum(v["stamps"] for v in others)
    visits = sum(v["visits"] for v in others)
    last = max((v["last_at"] for v in others), default=None)
    code = state["code"]
    applied = db.execute_sql(sql(_APPLIED, db), (code,)).fetchone()
    before_stamps, before_visits = applied or (0, 0)
    add, more_visits = stamps - before_stamps, visits - before_visits
    if add <= 0 and more_visits <= 0:
        return 0  # an old or repeated state
    cur, rounds = db.execute_sql(sql(_MEMBER, db), (member_id,)).fetchone()
    # the shop where a tier was reached issued its voucher: here the stamps only move on
    new_stamps, new_rounds, _unlocked = advance(cur, rounds, max(add, 0), load_program(db).tiers)
    db.execute_sql(
        sql(_ADD_REMOTE, db),
        (new_stamps, new_rounds, max(more_visits, 0), last, last, last, last, last, member_id),
    )
    db.execute_sql(sql(_SAVE_APPLIED, db), (code, stamps, visits, last, now_us))
    return max(add, 0)


def apply_voucher(db, me: str, state: dict, now_us: int) -> str | None:
    """Bring a voucher in line with the centre; returns what changed (or None)."""
    code = state["voucher"]
    row = db.execute_sql(sql(_VOUCHER, db), (code,)).fetchone()
    if row is None:
        if state.get("card") is None:
            return None  # the centre has its redemption but not yet where it came from
        if state["card"].get("erased"):
            return None  # its holder was erased: nothing to bring in
        member_id = _local_card(db, state["card"], now_us)
        if member_id is None:
            return None
        db.execute_sql(
            sql(_NEW_VOUCHER, db),
            (
                code,
                member_id,
                state["kind"],
                state["reward"],
                state["valid_from"],
                state["valid_from"],
                state["valid_until"],
                f"chain:{code}",
            ),  # fmt: skip
        )
        row = db.execute_sql(sql(_VOUCHER, db), (code,)).fetchone()
        changed = "added"
    else:
        changed = None
    vid, redeemed_at, my_event, chain_state, _member = row
    won = state.get("redeemed")
    if won is None:
        return changed
    mine = won["box"] == me and won["event"] == my_event
    if mine:
        if chain_state != "claimed":
            db.execute_sql(sql(_MARK, db), ("claimed", vid))
            return "claimed"
        return changed
    if redeemed_at is None:
        db.execute_sql(sql(_REDEEMED_ELSEWHERE, db), (won["at"], f"chain:{won['box'][:8]}", vid))
        return "redeemed_elsewhere"
    lost = [c for c in state["conflicts"] if c["box"] == me and c["event"] == my_event]
    if lost and chain_state != "conflict":
        c = lost[0]
        db.execute_sql(sql(_MARK, db), ("conflict", vid))
        db.execute_sql(sql(_CONFLICT, db), (code, c["event"], me, c["winner"], c["at"], now_us))
        policy = default_policy(db)
        if policy != "alert":  # the owner chose to settle new conflicts without asking
            [(conflict_id,)] = db.execute_sql(
                sql("SELECT id FROM chain_conflict WHERE event_id = ?", db), (c["event"],)
            ).fetchall()
            resolve(db, conflict_id, policy, "chain", from_micros(now_us))
        return "conflict"
    return changed


def apply_state(db, me: str, subject: str, state: dict, now_us: int):
    if subject.startswith("chain.state.card."):
        return apply_card(db, me, state, now_us)
    return apply_voucher(db, me, state, now_us)


class Mirror(NatsClient):
    """initialize() once, loop(now) repeatedly, shutdown(): the box's STATE copy → SQLite."""

    def __init__(self, db, nats_url: str, batch: int = 256, timeout: float = 5.0) -> None:
        super().__init__(nats_url)
        self.db, self.batch, self.timeout = db, batch, timeout
        self.me = read_box_id(db)
        self.applied = 0
        self._purge: set[int] = set()  # this shop's erased members, to purge from its stream
        self._next_contact = 0.0
        self._in_contact = False
        self._sub = None

    def initialize(self) -> None:
        self._run(self._connect())
        self._attach()

    def _attach(self) -> bool:
        """The box's durable consumer on the centre's STATE stream (reached through the leaf).

        False while the centre is unreachable: the next pass tries again. The consumer lives
        at the centre, so a box that was away resumes where it stopped, and a restarted
        centre serves it again as soon as the leaf reconnects.
        """
        from nats.errors import Error as NatsError
        from nats.js.api import AckPolicy, ConsumerConfig

        from .natsbin import domain_of

        async def attach():
            js = self._nc.jetstream(domain="hub", timeout=self.timeout)
            durable = "APPLY_" + domain_of(self.me)
            await js.add_consumer(
                STATE,
                ConsumerConfig(
                    durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=30,
                    max_ack_pending=10_000,
                ),
            )  # fmt: skip
            self._sub = await js.pull_subscribe_bind(durable=durable, stream=STATE)

        try:
            self._run(attach())
        except (NatsError, TimeoutError):
            return False
        return True

    def fetch(self, timeout: float = 1.0) -> list:
        from nats.errors import Error as NatsError

        if self._sub is None and not self._attach():
            return []
        try:
            return self._run(fetch_soon(self._sub, self.batch, timeout))
        except (TimeoutError, NatsError):
            return []

    def apply(self, msgs, now=None) -> None:
        now_us = to_micros(now or utcnow())
        with self.db.atomic():
            for msg in msgs:
                state = json.loads(msg.data)
                apply_state(self.db, self.me, msg.subject, state, now_us)
                ref = state.get("member") or ""
                if state.get("erased") and ref.startswith(self.me + ":"):
                    self._purge.add(int(ref.split(":")[1]))
        self.applied += len(msgs)

    def purge_erased(self) -> None:
        """A member of this shop erased and the centre says so: it applied the erase event, so
        it had sourced every earlier message about them from this box's stream (in order), and
        those go from the box's own stream now. Best effort: retried after the next batch.

        (Another shop's copy of the member is not purged here: its own stamps on the card may
        not have reached the centre yet; they go with the stream's age limit.)"""
        from nats.errors import Error as NatsError

        from .relay import member_subjects, stream_name

        async def purge():
            js = self._nc.jetstream(timeout=self.timeout)
            for member_id in sorted(self._purge):
                await js.purge_stream(
                    stream_name(self.me), subject=member_subjects(self.me, member_id)
                )
                self._purge.discard(member_id)

        try:
            self._run(purge())
        except (NatsError, TimeoutError):
            return

    def check_contact(self, now=None) -> bool:
        """Ask the centre how many states wait for this box; record the answer and its time
        (the admin's "last contact"). False when the centre did not answer."""
        from nats.errors import Error as NatsError

        if self._sub is None and not self._attach():
            return False
        try:
            info = self._run(self._sub.consumer_info())
            if not self._in_contact:
                # back in touch (or first contact): tell the centre, whose source of this
                # box's events may need re-attaching
                self._run(self._nc.request(HELLO_SUBJECT, self.me.encode(), timeout=self.timeout))
        except (NatsError, TimeoutError):
            self._in_contact = False
            return False
        self._in_contact = True
        record_contact(self.db, to_micros(now or utcnow()), info.num_pending or 0)
        return True

    def loop(self, now=None, timeout: float = 1.0) -> int:
        if time.monotonic() >= self._next_contact:
            ok = self.check_contact(now)
            # out of touch: look again soon, to say hello as soon as the centre is back
            self._next_contact = time.monotonic() + (CONTACT_EVERY_S if ok else 1.0)
        msgs = self.fetch(timeout)
        if msgs:
            self.apply(msgs, now)

            async def ack():
                for m in msgs:
                    await m.ack()

            self._run(ack())
        if self._purge:
            self.purge_erased()
        return len(msgs)
