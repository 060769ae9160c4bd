"""The durable print queue: a slip is a row before it is paper, so nothing is lost and
nothing prints twice.

pending ──claim──► printing ──► printed
   ▲                  │
   └──── release ─────┘  (printer not ready, connection failed: try again later)
                      └──► failed   (the document cannot be rendered: a bug, shown in the admin)
printing at startup ──► unsure      (the bridge stopped mid-job: a person checks the slip)
unsure ──► printed  (it is on paper)  or  replaced (it is not: a new copy is queued)

Only one claimer can move a job out of pending (a guarded UPDATE), and a job is claimed only
after the printer said it is ready, so a paper-out never eats a slip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from . import box as box_mod
from .clock import from_micros, iso, to_micros, utcnow
from .codes import normalize
from .db import sql
from .receipts import Receipt, day_summary_receipt, voucher_receipt

STATES = ("pending", "printing", "printed", "failed", "unsure", "replaced")


@dataclass(frozen=True)
class PrintJob:
    id: int
    receipt: Receipt
    attempts: int
    created_at: datetime


def enqueue(
    receipt: Receipt,
    *,
    now: datetime | None = None,
    source_key: str | None = None,
    box=None,
) -> int | None:
    """Queue a slip for the printer; returns the job id. Call inside a caller's transaction
    to make the slip part of what that transaction records.

    With `source_key`, the slip is queued once: None when a job with that key exists already.
    """
    box = box or box_mod.current()
    now = now or utcnow()
    db = box.db
    document = json.dumps(receipt.to_dict(), ensure_ascii=False, separators=(",", ":"))
    if source_key is None:
        query = (
            "INSERT INTO print_job (created_at, document, state, attempts, last_error)"
            " VALUES (?, ?, 'pending', 0, '') RETURNING id"
        )
        values = (to_micros(now), document)
    else:
        query = (
            "INSERT INTO print_job (created_at, document, state, attempts, last_error,"
            " source_key) VALUES (?, ?, 'pending', 0, '', ?)"
            " ON CONFLICT (source_key) WHERE source_key IS NOT NULL DO NOTHING RETURNING id"
        )
        values = (to_micros(now), document, source_key)
    row = db.execute_sql(sql(query, db), values).fetchone()
    return row[0] if row else None


def print_birthday_gift(result, *, now: datetime | None = None, box=None) -> int | None:
    """At the first tap that finds a birthday gift waiting (`result` is a CounterResult),
    queue its slip, marked as a birthday gift; later taps queue nothing. Returns the job id
    or None. Runs after the tap (its own small transaction), never inside it."""
    gift = getattr(result, "birthday", None)
    if not gift or result.status not in ("stamped", "cooldown"):
        return None
    voucher = next((v for v in result.vouchers if v.get("code") == gift["code"]), None)
    if voucher is None:
        return None
    box = box or box_mod.current()
    name = (result.member or {}).get("name") or ""
    slip = voucher_receipt(voucher, name, now=now, zone=box.zone)
    with box.db.atomic():
        return enqueue(
            slip, now=now, source_key=f"birthday-slip:{normalize(gift['code'])}", box=box
        )


def has_pending(box=None) -> bool:
    box = box or box_mod.current()
    row = box.db.execute_sql("SELECT 1 FROM print_job WHERE state = 'pending' LIMIT 1").fetchone()
    return row is not None


def claim_next(*, box=None) -> PrintJob | None:
    """The oldest pending job, now marked printing and counted as an attempt; None if none.

    Of two claimers only one gets a job: the state guard in the UPDATE decides.
    """
    box = box or box_mod.current()
    db = box.db
    while True:
        with db.atomic():
            row = db.execute_sql(
                "SELECT id, document, attempts, created_at FROM print_job"
                " WHERE state = 'pending' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            job_id, document, attempts, created_at = row
            changed = db.execute_sql(
                sql(
                    "UPDATE print_job SET state = 'printing', attempts = attempts + 1"
                    " WHERE id = ? AND state = 'pending'",
                    db,
                ),
                (job_id,),
            ).rowcount
        if changed == 1:
            try:
                receipt = Receipt.from_dict(json.loads(document))
            except (ValueError, KeyError, TypeError) as exc:
                mark_failed(job_id, f"unreadable slip: {exc}", box=box)
                continue
            return PrintJob(job_id, receipt, attempts + 1, from_micros(created_at))


def _finish(job_id: int, state: str, error: str, now: datetime | None, box) -> bool:
    box = box or box_mod.current()
    db = box.db
    printed_at = to_micros(now or utcnow()) if state == "printed" else None
    with db.atomic():
        changed = db.execute_sql(
            sql(
                "UPDATE print_job SET state = ?, printed_at = COALESCE(?, printed_at),"
                " last_error = ? WHERE id = ? AND state = 'printing'",
                db,
            ),
            (state, printed_at, error[:500], job_id),
        ).rowcount
    return changed == 1


def mark_printed(job_id: int, *, now: datetime | None = None, box=None) -> bool:
    """The printer took the whole slip. False if the job was not being printed."""
    return _finish(job_id, "printed", "", now, box)


def release(job_id: int, reason: str, *, box=None) -> bool:
    """Back to the queue: the printer was not ready or went away. It prints later."""
    return _finish(job_id, "pending", reason, None, box)


def mark_failed(job_id: int, reason: str, *, box=None) -> bool:
    """The slip itself cannot be printed (not the printer's fault): kept, shown, not retried."""
    return _finish(job_id, "failed", reason, None, box)


def recover_interrupted(*, box=None) -> int:
    """At bridge start: jobs left `printing` may or may not be on paper. Reprinting could print
    twice and dropping could lose one, so they become `unsure` for a person to decide."""
    box = box or box_mod.current()
    db = box.db
    with db.atomic():
        return db.execute_sql(
            "UPDATE print_job SET state = 'unsure',"
            " last_error = 'the bridge stopped while printing: check the slip, reprint if missing'"
            " WHERE state = 'printing'"
        ).rowcount


def reprint(job_id: int, *, now: datetime | None = None, box=None) -> int:
    """Queue a new copy of a job (after a person checked it is missing). Raises LookupError."""
    box = box or box_mod.current()
    db = box.db
    row = db.execute_sql(sql("SELECT document FROM print_job WHERE id = ?", db), (job_id,))
    found = row.fetchone()
    if found is None:
        raise LookupError(f"No print job {job_id}.")
    return enqueue(Receipt.from_dict(json.loads(found[0])), now=now, box=box)


def unsure_jobs(*, limit: int = 20, box=None) -> list[dict]:
    """Slips a person has to check (the bridge stopped while printing them), oldest first."""
    box = box or box_mod.current()
    rows = box.db.execute_sql(
        sql(
            "SELECT id, created_at, document FROM print_job WHERE state = 'unsure'"
            " ORDER BY id LIMIT ?",
            box.db,
        ),
        (limit,),
    ).fetchall()
    return [
        {"id": job_id, "created_at": iso(from_micros(created)), "title": _title(document)}
        for job_id, created, document in rows
    ]


def _title(document: str) -> str:
    try:
        data = json.loads(document)
    except ValueError:
        return ""
    return data.get("title") or data.get("kind", "")


def settle_unsure(
    job_id: int, on_paper: bool, *, actor: str, now: datetime | None = None, box=None
) -> int | None:
    """A person checked an unsure slip: on paper (printed), or not (a new copy is queued and
    the old job is `replaced`). Returns the new job's id, or None. Raises LookupError if the
    job is not unsure (already settled, or never was)."""
    from .audit import audit

    box = box or box_mod.current()
    db = box.db
    now = now or utcnow()
    with db.atomic():
        row = db.execute_sql(
            sql("SELECT document FROM print_job WHERE id = ? AND state = 'unsure'", db), (job_id,)
        ).fetchone()
        if row is None:
            raise LookupError(f"Slip {job_id} is not waiting for a check.")
        copy = None
        if on_paper:
            db.execute_sql(
                sql("UPDATE print_job SET state = 'printed', printed_at = ? WHERE id = ?", db),
                (to_micros(now), job_id),
            )
        else:
            copy = enqueue(Receipt.from_dict(json.loads(row[0])), now=now, box=box)
            db.execute_sql(
                sql("UPDATE print_job SET state = 'replaced', last_error = ? WHERE id = ?", db),
                (f"not on paper: printed again as slip {copy}", job_id),
            )
        audit(actor, "print_job.settle", now, job=job_id, on_paper=on_paper, copy=copy)
    return copy


def queue_status(*, box=None) -> dict:
    """What the admin and the counter screen show: jobs per state, the oldest waiting job,
    and why the last attempt did not print."""
    box = box or box_mod.current()
    db = box.db
    counts = dict.fromkeys(STATES, 0)
    for state, count in db.execute_sql(
        "SELECT state, COUNT(*) FROM print_job GROUP BY state"
    ).fetchall():
        counts[state] = count
    oldest = db.execute_sql(
        "SELECT id, created_at, attempts, last_error FROM print_job WHERE state = 'pending'"
        " ORDER BY id LIMIT 1"
    ).fetchone()
    waiting = None
    if oldest:
        waiting = {
            "id": oldest[0],
            "created_at": iso(from_micros(oldest[1])),
            "attempts": oldest[2],
            "last_error": oldest[3],
        }
    return {"counts": counts, "oldest_waiting": waiting}


def day_bounds(day: date, zone) -> tuple[datetime, datetime]:
    """The shop's calendar day as [start, end) instants (23 or 25 hours across a DST change)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def queue_day_summary(*, now: datetime | None = None, box=None) -> int | None:
    """In the hour the day_summary_hour setting names, queue the day's summary slip, once per
    day however often this runs (the worker asks every few minutes). Returns the job id."""
    box = box or box_mod.current()
    hour = box.settings.day_summary_hour
    local = (now or utcnow()).astimezone(box.zone)
    if hour < 0 or local.hour != hour:
        return None
    start, end = day_bounds(local.date(), box.zone)
    slip = day_summary_receipt(start, end, box=box)
    with box.db.atomic():
        return enqueue(slip, now=now, source_key=f"day-summary:{local.date()}", box=box)
