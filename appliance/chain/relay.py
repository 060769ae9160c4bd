"""The relay: unsent event rows → the box's own JetStream, marked sent only after the ack.

A row is published with its UUID as Nats-Msg-Id, so when the relay dies between the ack and
the mark, the republish is recognised by the stream (`duplicate`) and stored once. The box's
server is a leaf of the hub: it accepts while the hub is away, and the hub's EVENTS stream
sources this stream when it can reach it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from ..clock import to_micros, utcnow
from ..db import sql
from .client import NatsClient
from .events import box_id as read_box_id

_PENDING = (
    "SELECT id, uuid, type, payload, schema_version, created_at FROM event"
    " WHERE sent_at IS NULL ORDER BY id LIMIT ?"
)
_PRUNE = (
    "DELETE FROM event WHERE id IN (SELECT id FROM event WHERE sent_at IS NOT NULL"
    " AND sent_at < ? ORDER BY id LIMIT 5000)"
)
# the box's stream keeps a message this long (the centre must have sourced it by then)
STREAM_MAX_AGE_S = 30 * 86_400
# sent events kept on the box's SQLite this long
KEEP_SENT_DAYS = 14
# JetStream's dedup window: a republish within it is dropped by the stream itself (the hub's
# inbox catches any later one)
DUPLICATE_WINDOW_S = 24 * 3600


def stream_name(box_id: str) -> str:
    return "OUT_" + box_id.replace("-", "")


def subject_of(box_id: str, type_: str) -> str:
    # each box publishes under its own subjects: leaf nodes share interest, and another
    # box's stream must never capture these
    return f"chain.out.{box_id.replace('-', '')}.{type_}"


_MEMBER_ID = re.compile(r'"member":\{"id":(\d+)')


def event_subject(box_id: str, type_: str, payload: str) -> str:
    """An event about a member ends in `.m<id>`, so the centre can purge one member's events
    from its stream by subject once they are applied and the member is erased."""
    found = _MEMBER_ID.search(payload)
    return subject_of(box_id, f"{type_}.m{found.group(1)}" if found else type_)


def member_subjects(box_id: str, member_id: int) -> str:
    """Every subject this box published about one member (any event type)."""
    return subject_of(box_id, f"*.m{int(member_id)}")


def envelope(box_id: str, row) -> bytes:
    _id, event_id, type_, payload, schema, created_at = row
    return (
        f'{{"id":"{event_id}","box":"{box_id}","type":{json.dumps(type_)},'
        f'"schema":{schema},"created_at":{created_at},"payload":{payload}}}'
    ).encode()


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0
    marked: int = 0


class Relay(NatsClient):
    """initialize() once, loop(now) as often as wanted, shutdown() at the end."""

    def __init__(self, db, nats_url: str, batch: int = 200, timeout: float = 2.0) -> None:
        super().__init__(nats_url)
        self.db, self.batch, self.timeout = db, batch, timeout
        self.box_id = read_box_id(db)
        self.stats = RelayStats()
        self._next_prune = 0.0
        self._js = None

    def initialize(self) -> None:
        async def connect():
            nc = await self._connect(connect_timeout=self.timeout)
            self._js = nc.jetstream(timeout=self.timeout)
            await self._js.add_stream(
                name=stream_name(self.box_id),
                subjects=[subject_of(self.box_id, ">")],
                duplicate_window=DUPLICATE_WINDOW_S,
                # the box's own copy is a buffer for the centre, not an archive
                max_age=STREAM_MAX_AGE_S,
            )

        self._run(connect())

    def pending(self) -> list:
        return self.db.execute_sql(sql(_PENDING, self.db), (self.batch,)).fetchall()

    def publish(self, rows) -> list[int]:
        """Publish rows in order; returns the ids JetStream acknowledged (stops at a failure)."""

        async def send():
            acked = []
            for row in rows:
                try:
                    ack = await self._js.publish(
                        event_subject(self.box_id, row[2], row[3]),
                        envelope(self.box_id, row),
                        headers={"Nats-Msg-Id": row[1]},
                    )
                except Exception:  # noqa: BLE001 - offline or timed out: the row stays unsent
                    break
                acked.append(row[0])
                self.stats.published += 1
                self.stats.duplicates += bool(ack.duplicate)
            return acked

        return self._run(send())

    def mark(self, ids: list[int], now=None) -> None:
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        with self.db.atomic():
            self.db.execute_sql(
                sql(f"UPDATE event SET sent_at = ? WHERE id IN ({marks})", self.db),
                (to_micros(now or utcnow()), *ids),
            )
        self.stats.marked += len(ids)

    def prune(self, now=None, keep_days: float = KEEP_SENT_DAYS) -> int:
        """Delete events sent more than keep_days ago (batches of 5,000); returns how many.

        Unsent events are never deleted. The window outlives JetStream's duplicate window
        and lets an owner see what left the box recently."""
        cutoff = to_micros(now or utcnow()) - int(keep_days * 86_400_000_000)
        total = 0
        while True:
            with self.db.atomic():
                gone = self.db.execute_sql(sql(_PRUNE, self.db), (cutoff,)).rowcount
            total += gone
            if gone < 5000:
                return total

    def loop(self, now=None) -> int:
        """One pass: publish a batch of unsent rows and mark those acknowledged; returns count.
        Once an hour it also prunes old sent events."""
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + 3600
            self.prune(now)
        acked = self.publish(self.pending())
        self.mark(acked, now)
        return len(acked)
