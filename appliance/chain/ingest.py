"""The hub's ingest: events from the EVENTS stream into PostgreSQL, each applied once.

Per fetched batch: one database transaction that first claims each event id in chain_inbox
(ON CONFLICT DO NOTHING) and applies only the events it could claim, then the commit, then
the acks. A crash after the commit and before the acks means a redelivery, which finds its
inbox row and changes nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from ..clock import to_micros, utcnow
from ..db import sql
from .claims import settle_redemption
from .client import NatsClient
from .events import EVENT_SCHEMA
from .natsbin import fetch_soon
from .relay import STREAM_MAX_AGE_S, member_subjects, stream_name
from .state import mark_dirty

EVENTS = "EVENTS"
# the EVENTS stream keeps a message as long as a box's own stream does: applied events live on
# in PostgreSQL, and personal data in old messages (an erased member's) must not stay forever
EVENTS_MAX_AGE_S = STREAM_MAX_AGE_S
REATTACH_AFTER_S = (0.0, 2.0, 5.0, 10.0, 20.0)
CONSUMER = "INGEST"

_CLAIM = (
    "INSERT INTO chain_inbox (event_id, box_id, type, created_at, applied_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
_ERASED = (
    "SELECT 1 FROM chain_member m WHERE m.member_ref = chain_card.member_ref"
    " AND m.erased_at IS NOT NULL"
)
_VISIT = (
    "INSERT INTO chain_visit (event_id, box_id, card_code, member_ref, at, stamps,"
    " amount_cents, source, clock_synced) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_VOUCHER = (
    "INSERT INTO chain_voucher (code, event_id, box_id, card_code, kind, reward, valid_from,"
    " valid_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING"
)
# the card's home box says where it belongs now (a replaced or merged card moves)
_CARD_MOVED = (
    "INSERT INTO chain_card (code, nfc_uid, member_ref, name, home_box, updated_at, blocked_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET"
    " nfc_uid = excluded.nfc_uid, member_ref = excluded.member_ref, name = excluded.name,"
    " updated_at = excluded.updated_at, blocked_at = excluded.blocked_at"
    " WHERE chain_card.home_box = excluded.home_box"
    f" AND NOT EXISTS ({_ERASED})"
)
_MEMBER = (
    "INSERT INTO chain_member (member_ref, box_id, payload, updated_at, erased_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_ref) DO UPDATE SET payload = excluded.payload,"
    " updated_at = excluded.updated_at, erased_at = excluded.erased_at"
    # once erased, stays erased (a late change event cannot bring the data back)
    " WHERE chain_member.erased_at IS NULL"
)
_REDEMPTION = (
    "INSERT INTO chain_redemption (event_id, box_id, voucher_code, at, by) VALUES (?, ?, ?, ?, ?)"
)
# the card's owner as first reported; a later report only fills in a missing NFC UID or name
_CARD = (
    "INSERT INTO chain_card (code, nfc_uid, member_ref, name, home_box, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET"
    " nfc_uid = COALESCE(chain_card.nfc_uid, excluded.nfc_uid),"
    " name = CASE WHEN chain_card.name = '' THEN excluded.name ELSE chain_card.name END,"
    " updated_at = excluded.updated_at"
    # an event from before the holder's erasure (late from another shop) brings nothing back
    f" WHERE NOT EXISTS ({_ERASED})"
)


@dataclass
class IngestStats:
    applied: int = 0
    absorbed: int = 0  # redelivered or republished: already in the inbox
    refused: int = 0  # a schema or type this hub does not know


def apply_event(db, event: dict, now_us: int) -> bool:
    """Apply one event inside the caller's transaction; False if it was applied before."""
    claimed = db.execute_sql(
        sql(_CLAIM, db),
        (event["id"], event["box"], event["type"], event["created_at"], now_us),
    ).fetchone()
    if claimed is None:
        return False
    body, box = event["payload"], event["box"]
    if event["type"] == "stamp":
        member_ref = f"{box}:{body['member']['id']}"
        db.execute_sql(
            sql(_VISIT, db),
            (
                event["id"],
                box,
                body["card"],
                member_ref,
                body["at"],
                body["stamps"],
                body["amount_cents"],
                body["source"],
                body["clock_synced"],
            ),  # fmt: skip
        )
        db.execute_sql(
            sql(_CARD, db),
            (
                body["card"],
                body.get("nfc_uid"),
                member_ref,
                body["member"].get("name") or "",
                box,
                now_us,
            ),  # fmt: skip
        )
        mark_dirty(db, "card", body["card"], now_us)
        for v in body["vouchers"]:
            db.execute_sql(
                sql(_VOUCHER, db),
                (
                    v["code"],
                    event["id"],
                    box,
                    body["card"],
                    v["kind"],
                    v["reward"],
                    v["valid_from"],
                    v["valid_until"],
                ),  # fmt: skip
            )
            mark_dirty(db, "voucher", v["code"], now_us)
    elif event["type"] == "redeem":
        db.execute_sql(
            sql(_REDEMPTION, db), (event["id"], box, body["voucher"], body["at"], body["by"])
        )
        # an online redemption claimed the voucher already (same event id); a provisional
        # one claims it now: the first to arrive wins, a later one is a conflict
        settle_redemption(db, body["voucher"], box, event["id"], body["at"], False, now_us)
    elif event["type"] == "member":
        _apply_member(db, box, body["member"], now_us)
    elif event["type"] == "erase":
        _apply_erase(db, box, body["member"]["id"], body["at"], now_us)
    elif event["type"] == "card":
        member = body["member"]
        db.execute_sql(
            sql(_CARD_MOVED, db),
            (
                body["card"],
                body.get("nfc_uid"),
                f"{box}:{member['id']}",
                member.get("name") or "",
                box,
                now_us,
                body.get("blocked_at"),
            ),  # fmt: skip
        )
        mark_dirty(db, "card", body["card"], now_us)
    return True


def _apply_member(db, box: str, member: dict, now_us: int) -> None:
    """The centre's copy of a member; the name travels on with the member's cards."""
    ref = f"{box}:{member['id']}"
    erased = member.get("erased_at")
    if erased:
        member = {"id": member["id"], "erased_at": erased}
    payload = json.dumps(member, separators=(",", ":"))
    db.execute_sql(sql(_MEMBER, db), (ref, box, payload, now_us, erased))
    name = "" if member.get("erased_at") else member.get("name") or ""
    # (an erased member's cards stay nameless, whatever a late event says)
    db.execute_sql(sql(_RENAME_CARDS, db), (name, ref))
    for (code,) in db.execute_sql(
        sql("SELECT code FROM chain_card WHERE member_ref = ?", db), (ref,)
    ).fetchall():
        mark_dirty(db, "card", code, now_us)


# the member event before it may have marked the member erased already: make sure
_ERASE_MEMBER = "UPDATE chain_member SET payload = ?, erased_at = ? WHERE member_ref = ?"
_ERASE_CARDS = "UPDATE chain_card SET name = '', nfc_uid = NULL WHERE member_ref = ?"
_CARD_VOUCHERS = (
    "SELECT v.code FROM chain_voucher v JOIN chain_card c ON c.code = v.card_code"
    " WHERE c.member_ref = ?"
)


def _apply_erase(db, box: str, member_id: int, at_us: int, now_us: int) -> None:
    """A member erased in their shop: the centre keeps only the fact and the visits.

    The member's cards keep their codes (the visits are keyed by them; no shop has a card with
    that code any more) but lose name and chip UID; their states and their vouchers' states are
    published again, so every shop's mirror erases its copy and the STATE stream (one message
    per subject) drops the old ones."""
    ref = f"{box}:{member_id}"
    payload = json.dumps({"id": member_id, "erased_at": at_us}, separators=(",", ":"))
    db.execute_sql(sql(_MEMBER, db), (ref, box, payload, now_us, at_us))
    db.execute_sql(sql(_ERASE_MEMBER, db), (payload, at_us, ref))
    db.execute_sql(sql(_ERASE_CARDS, db), (ref,))
    for (code,) in db.execute_sql(
        sql("SELECT code FROM chain_card WHERE member_ref = ?", db), (ref,)
    ).fetchall():
        mark_dirty(db, "card", code, now_us)
    for (code,) in db.execute_sql(sql(_CARD_VOUCHERS, db), (ref,)).fetchall():
        mark_dirty(db, "voucher", code, now_us)


_RENAME_CARDS = (
    f"UPDATE chain_card SET name = CASE WHEN EXISTS ({_ERASED}) THEN '' ELSE ? END"
    " WHERE member_ref = ?"
)
_OTHER_REFS = (
    "SELECT DISTINCT v.member_ref FROM chain_visit v JOIN chain_card c ON c.code = v.card_code"
    " WHERE c.member_ref = ?"
)


def _erased_refs(db, event: dict) -> list[tuple[str, int]]:
    """(box, member id) of an erased member, and of the other shops' copies of them (their
    stamps on the member's cards carried the name as those shops knew it)."""
    ref = f"{event['box']}:{event['payload']['member']['id']}"
    refs = {ref} | {r for (r,) in db.execute_sql(sql(_OTHER_REFS, db), (ref,)).fetchall()}
    return [(r.split(":")[0], int(r.split(":")[1])) for r in sorted(refs)]


TYPES = ("stamp", "redeem", "member", "card", "erase")


def known(event: dict) -> bool:
    return event.get("schema") == EVENT_SCHEMA and event.get("type") in TYPES


async def _each(calls) -> None:
    for call in calls:
        await call()


class Ingest(NatsClient):
    """initialize() once, loop(now) repeatedly, shutdown(); fetch/apply/ack are its steps."""

    def __init__(self, db, nats_url: str, batch: int = 256, ack_wait: float = 30.0) -> None:
        super().__init__(nats_url)
        self.db, self.batch, self.ack_wait = db, batch, ack_wait
        self.stats = IngestStats()
        self._js = self._sub = None
        # when to re-attach the sources (monotonic times): after a reconnect, at once and a few
        # times more, since each box's leaf comes back on its own time; a box saying hello
        # (its leaf is back) asks for one too
        self._reattach_due: list[float] = []
        self._sources: list = []
        # members erased by an applied event: their messages go from the EVENTS stream
        self._purge: list[tuple[str, int]] = []

    async def _on_reconnect(self) -> None:
        now = time.monotonic()
        self._reattach_due.extend(now + delay for delay in REATTACH_AFTER_S)

    def initialize(self, box_ids=()) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig

        async def connect():
            nc = await self._connect(reconnected_cb=self._on_reconnect)
            self._js = nc.jetstream()
            await self._ensure_stream(box_ids)
            await self._js.add_consumer(
                EVENTS,
                ConsumerConfig(
                    durable_name=CONSUMER,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=self.ack_wait,
                    max_ack_pending=10_000,
                ),
            )
            self._sub = await self._js.pull_subscribe_bind(durable=CONSUMER, stream=EVENTS)

        self._run(connect())

    async def _ensure_stream(self, box_ids) -> None:
        from nats.js.api import ExternalStream, StreamConfig, StreamSource
        from nats.js.errors import NotFoundError

        from .natsbin import domain_of

        sources = [
            StreamSource(
                name=stream_name(b), external=ExternalStream(api=f"$JS.{domain_of(b)}.API")
            )
            for b in box_ids
        ]
        try:
            info = await self._js.stream_info(EVENTS)
        except NotFoundError:
            await self._js.add_stream(
                StreamConfig(name=EVENTS, sources=sources, max_age=EVENTS_MAX_AGE_S)
            )
            self._sources = sources
            return
        have = {s.name for s in info.config.sources or []}
        missing = [s for s in sources if s.name not in have]
        if missing or info.config.max_age != EVENTS_MAX_AGE_S:
            info.config.sources = [*(info.config.sources or []), *missing]
            info.config.max_age = EVENTS_MAX_AGE_S  # a stream made before the limit gets it
            await self._js.update_stream(info.config)
        self._sources = info.config.sources or []

    def reattach_sources(self) -> None:
        """Re-attach every box's source now (after the hub's server came back).

        Left alone, nats-server retries a lost source on its own schedule (~40 s here). Removing
        and re-adding the sources starts them at once; the server resumes each one after the
        last message the stream holds from it, and the inbox would absorb anything sent twice.
        """
        from nats.errors import Error as NatsError

        async def reattach():
            info = await self._js.stream_info(EVENTS)
            # the list known at start, not the stream's: a pass cut between the two updates
            # must not leave the stream without its sources
            sources = self._sources or info.config.sources or []
            if sources:
                info.config.sources = []
                await self._js.update_stream(info.config)
                info.config.sources = sources
                await self._js.update_stream(info.config)

        try:
            self._run(reattach())
        except (NatsError, TimeoutError):
            return  # JetStream still restoring its streams: the next pass tries again
        now = time.monotonic()
        self._reattach_due = [t for t in self._reattach_due if t > now]

    def request_reattach(self) -> None:
        """Re-attach the sources at the next pass (any thread may ask)."""
        self._reattach_due.append(time.monotonic())

    def add_boxes(self, box_ids) -> None:
        """Source these boxes' streams too (provisioning a new box)."""
        self._run(self._ensure_stream(box_ids))

    def fetch(self, timeout: float = 1.0) -> list:
        from nats.errors import Error as NatsError

        try:
            return self._run(fetch_soon(self._sub, self.batch, timeout))
        except (TimeoutError, NatsError):
            # nothing waiting, or the hub's server is away: the client reconnects by itself
            return []

    def apply(self, msgs, now=None) -> list:
        """Apply a fetched batch in one transaction and commit; returns the messages to ack."""
        now_us = to_micros(now or utcnow())
        done, refused = [], []
        with self.db.atomic():
            for msg in msgs:
                event = json.loads(msg.data)
                if not known(event):
                    refused.append(msg)
                    continue
                if apply_event(self.db, event, now_us):
                    self.stats.applied += 1
                    if event["type"] == "erase":
                        self._purge.extend(_erased_refs(self.db, event))
                else:
                    self.stats.absorbed += 1
                done.append(msg)
        if refused:
            self.stats.refused += len(refused)
            self._run(_each(m.term for m in refused))
        return done

    def ack(self, msgs) -> None:
        self._run(_each(m.ack for m in msgs))
        if self._purge:
            self.purge_erased()

    def purge_erased(self) -> None:
        """Drop erased members' messages from the EVENTS stream (applied and acked by now: a
        box's stream is sourced in order, so nothing of theirs from that box comes later).

        Best effort: a purge that fails is retried after the next acked batch. Messages
        published before the member-suffixed subjects (and the box's own stream, which keeps
        them until its max age) are not reached."""
        from nats.errors import Error as NatsError

        async def purge():
            while self._purge:
                box, member_id = self._purge[0]
                await self._js.purge_stream(EVENTS, subject=member_subjects(box, member_id))
                self._purge.pop(0)

        try:
            self._run(purge())
        except (NatsError, TimeoutError):
            return

    def loop(self, now=None, timeout: float = 1.0) -> int:
        if self._reattach_due and min(self._reattach_due) <= time.monotonic():
            self.reattach_sources()
        msgs = self.fetch(timeout)
        self.ack(self.apply(msgs, now))
        return len(msgs)
