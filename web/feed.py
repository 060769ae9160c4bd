"""The counter's live feed: the durable `counter_event` log as a server-sent-events stream.

Taps come from other processes (the bridge, the CLI, another web worker), so the stream
polls the table instead of listening in memory; ids are the SSE event ids, so a browser
that reconnects with Last-Event-ID misses nothing and repeats nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from appliance import box as box_mod
from appliance.db import database, sql
from appliance.feedback import signal_for
from appliance.receipts import last_valid_day

_AFTER = "SELECT id, payload FROM counter_event WHERE id > ? ORDER BY id LIMIT ?"
# the id just before the last `n` events: where a screen without a cursor starts
_BACKLOG_START = (
    "SELECT COALESCE(MIN(id) - 1, 0) FROM"
    " (SELECT id FROM counter_event ORDER BY id DESC LIMIT ?) AS recent"
)
BATCH = 50


def events_after(after_id: int, limit: int = BATCH) -> list[dict]:
    """Counter events with id > after_id, oldest first, each its payload plus `event_id`."""
    rows = database.execute_sql(sql(_AFTER), (after_id, limit)).fetchall()
    zone = box_mod.current().zone if rows else None
    events = []
    for event_id, payload in rows:
        data = json.loads(payload)
        add_valid_through(data, zone)
        # the payload was written before its row had an id
        data["event_id"] = event_id
        # the feedback pattern the bridge sounds for it: the screen can sound the same
        data["signal"] = signal_for(data)
        events.append(data)
    return events


def add_valid_through(data: dict, zone) -> None:
    """Each voucher's last valid day (ISO date, the shop's zone) beside its exclusive end, so
    the screen shows the day the gift is still good on, not the midnight after it."""
    found = list(data.get("vouchers") or []) + list(data.get("unlocked") or [])
    found += [data[key] for key in ("voucher", "birthday") if data.get(key)]
    for voucher in found:
        if voucher.get("valid_until"):
            voucher["valid_through"] = last_valid_day(voucher["valid_until"], zone).isoformat()


def backlog_start(count: int) -> int:
    return database.execute_sql(sql(_BACKLOG_START), (count,)).fetchone()[0]


def latest_id() -> int:
    return database.execute_sql("SELECT COALESCE(MAX(id), 0) FROM counter_event").fetchone()[0]


def parse_cursor(*candidates: str | None) -> int | None:
    """The first candidate that is a non-negative event id, else None."""
    for raw in candidates:
        if raw is not None and raw.strip().isdigit():
            return int(raw.strip())
    return None


def format_event(data: dict) -> str:
    # json.dumps output has no newlines, so one `data:` line carries the whole event
    return f"id: {data['event_id']}\nevent: tap\ndata: {json.dumps(data)}\n\n"


def stream(
    after_id: int,
    *,
    seconds: float,
    poll: float,
    keepalive: float,
    status: Callable[[], dict] | None = None,
    status_every: float = 2.0,
    replay_until: int = 0,
    clock=time.monotonic,
    sleep=time.sleep,
) -> Iterator[str]:
    """Yield SSE text for events after `after_id` until `seconds` have passed.

    With `status`, its result goes out as a `printer` event at the start and whenever it
    changes (asked every `status_every` seconds); it carries no id, so a reconnecting screen's
    Last-Event-ID stays the last tap's. Events up to `replay_until` (the backlog a fresh screen
    starts with) are marked `replay`: shown, not sounded.
    """
    # the browser waits this long (ms) before reconnecting when the response ends
    yield "retry: 1000\n\n"
    start = last_sent = clock()
    sent_status, status_at = None, None
    while clock() - start < seconds:
        if status is not None and (status_at is None or clock() - status_at >= status_every):
            status_at = clock()
            current = status()
            if current != sent_status:
                sent_status = current
                yield f"event: printer\ndata: {json.dumps(current)}\n\n"
                last_sent = status_at
        events = events_after(after_id)
        for data in events:
            after_id = data["event_id"]
            if after_id <= replay_until:
                data["replay"] = True
            yield format_event(data)
        now = clock()
        if events:
            last_sent = now
        elif now - last_sent >= keepalive:
            # a comment line: keeps proxies and idle-connection timers from closing the stream
            yield ": keepalive\n\n"
            last_sent = now
        if len(events) < BATCH:
            sleep(poll)
