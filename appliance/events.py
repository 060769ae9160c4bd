"""The counter's durable event log: every tap, scan and redemption, for screens and bridge."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from .clock import to_micros
from .db import sql


@dataclass
class CounterResult:
    """What staff see after a tap; `to_dict` is the JSON contract of the CLI and the API."""

    status: str
    message: str
    reason: str | None = None
    member: dict | None = None
    card: dict | None = None
    stamps_added: int = 0
    vouchers: list = field(default_factory=list)
    unlocked: list = field(default_factory=list)
    voucher: dict | None = None
    enrol: dict | None = None
    next_stamp_at: str | None = None
    at: str | None = None
    source: str = ""
    event_id: int | None = None
    # False when the box's clock was not synchronised: `at` is then "not before the last event"
    clock_synced: bool = True
    # the member's birthday gift, when one is waiting: {"gift", "code", "valid_until"}
    birthday: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


_EVENT = (
    "INSERT INTO counter_event (at, source, status, message, member_id, payload)"
    " VALUES (?, ?, ?, ?, ?, ?) RETURNING id"
)


def record_event(db, result: CounterResult, member_id, now: datetime) -> int:
    """Write the result to the durable counter log (the screen and other processes follow it)."""
    cursor = db.execute_sql(
        sql(_EVENT, db),
        (
            to_micros(now),
            result.source,
            result.status,
            result.message,
            member_id,
            # vars(), not to_dict(): the fields are plain data already, and asdict's
            # recursive deep copy costs ~40 µs on every tap
            json.dumps(vars(result), separators=(",", ":")),
        ),
    )
    return cursor.fetchone()[0]
