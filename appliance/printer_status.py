"""The printer as people see it: its state for the counter screen and the admin (what the
bridge last reported, slips waiting, slips to check) and the picture of the last slip.

The bridge writes what it sees (device health, the preview picture, its heartbeat); this
module only reads, often: every counter screen polls it.
"""

from __future__ import annotations

from pathlib import Path

from . import box as box_mod
from .clock import from_micros, iso, utcnow
from .printing import unsure_jobs

PREVIEW_DIR = "slips"
LAST_SLIP = "last.png"


def preview_dir(settings=None) -> Path:
    settings = settings or box_mod.current().settings
    return settings.data_dir / PREVIEW_DIR


def last_slip_path(settings=None) -> Path | None:
    """The PNG picture of the last slip the bridge printed (or would have printed), if any.

    For the counter screen and the admin: a shop without a printer still sees its slips.
    """
    path = preview_dir(settings) / LAST_SLIP
    return path if path.exists() else None


# what the printer's status means at the counter; `alert` marks the states in which slips
# cannot print and wait in the queue
PRINTER_STATUSES = ("ready", "paper_out", "offline", "absent", "bridge_down", "unknown", "none")
ALERT_STATUSES = frozenset({"paper_out", "offline", "absent", "bridge_down"})
_WAITING = (
    "SELECT state, COUNT(*) FROM print_job"
    " WHERE state IN ('pending', 'printing', 'unsure', 'failed') GROUP BY state"
)


def printer_state(*, box=None) -> dict:
    """The printer as the counter screen and the admin show it, from what the bridge reported.

    `status` is one of PRINTER_STATUSES (`unknown`: the bridge has not reported the printer;
    `bridge_down`: the bridge stopped beating; `none`: no printer is configured, slips only
    wait in the queue). `alert` is true when
    slips cannot print now. `last_slip` has the picture's `version` (changes with every new
    slip) and when it was drawn, or is None. Reads index ranges only: polled by every screen.
    """
    box = box or box_mod.current()
    db = box.db
    counts = dict.fromkeys(("pending", "printing", "unsure", "failed"), 0)
    counts.update(db.execute_sql(_WAITING).fetchall())
    setting = box.settings.printer.strip()
    row = db.execute_sql(
        "SELECT state, detail, updated_at FROM device_health WHERE kind = 'printer'"
        " ORDER BY updated_at DESC LIMIT 1"
    ).fetchone()
    if setting in ("", "none"):
        status, detail, since = "none", "", None
    elif _bridge_stopped(box.settings):
        # whatever the printer said last, nobody is printing now
        status, detail, since = "bridge_down", "", None
    elif row is None:
        status, detail, since = "unknown", "", None
    else:
        status, detail, since = row[0], row[1], iso(from_micros(row[2]))
    if status not in PRINTER_STATUSES:
        status = "unknown"
    waiting = counts["pending"] + counts["printing"]
    return {
        "status": status,
        "detail": detail,
        "since": since,
        "waiting": waiting,
        "unsure": counts["unsure"],
        "failed": counts["failed"],
        "alert": status in ALERT_STATUSES or (status == "none" and waiting > 0),
        "to_check": unsure_jobs(box=box) if counts["unsure"] else [],
        "last_slip": _last_slip(box.settings),
    }


def _bridge_stopped(settings) -> bool:
    """The bridge ran here (its heartbeat file exists) but has not beaten for a while."""
    from .heartbeat import STALE_SECONDS, heartbeat_path

    try:
        seen = heartbeat_path(settings, "bridge").stat().st_mtime
    except OSError:
        return False  # never started here (development, tests): the printer rows speak
    return utcnow().timestamp() - seen > STALE_SECONDS


def _last_slip(settings) -> dict | None:
    path = last_slip_path(settings)
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return {
        "version": str(stat.st_mtime_ns),
        "at": iso(from_micros(stat.st_mtime_ns // 1000)),
    }
