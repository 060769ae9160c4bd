"""The box's health at a glance: clock, queues, disk, backups, and when each process last ran."""

from __future__ import annotations

import shutil
import sqlite3
import urllib.request
from datetime import datetime
from pathlib import Path

from .backup import backup_dir, list_backups
from .clock import from_micros, iso, to_micros, utcnow
from .heartbeat import STALE_SECONDS, heartbeat_path

# below this much free space the status warns (taps still record: they need a few KB each)
LOW_DISK_BYTES = 200 * 1024 * 1024


def web_answers(settings, timeout: float = 1.0) -> bool:
    """Whether the web process answers /healthz on this box (plain HTTP on loopback)."""
    host = settings.web_host if settings.web_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    try:
        with urllib.request.urlopen(
            f"http://{host}:{settings.web_port}/healthz", timeout=timeout
        ) as answer:
            return answer.status == 200
    except OSError:  # refused, timed out, or a 503 (HTTPError): not answering as it should
        return False


def _queue_depth(queue_path: Path) -> int | None:
    if not queue_path.exists():
        return None
    con = sqlite3.connect(f"file:{queue_path}?mode=ro", uri=True, timeout=2)
    try:
        return con.execute("SELECT COUNT(*) FROM task").fetchone()[0]
    except sqlite3.Error:
        return None
    finally:
        con.close()


def box_status(
    box,
    now: datetime | None = None,
    *,
    web_alive: bool | None = None,
    low_disk_bytes: int = LOW_DISK_BYTES,
) -> dict:
    """Plain data for /healthz, the status page and `stampbox status`; `ok` sums it up.

    The web has no periodic work to leave a heartbeat: the web itself passes web_alive=True
    (it is answering); elsewhere a recent request's heartbeat or a call to /healthz tells.
    """
    now = now or utcnow()
    settings = box.settings
    db = box.db
    # undelivered: waiting, or being sent right now (a dead worker's are recovered as pending)
    pending, oldest = db.execute_sql(
        "SELECT COUNT(*), MIN(due_at) FROM outbox WHERE state IN ('pending', 'sending')"
    ).fetchone()
    failed = db.execute_sql("SELECT COUNT(*) FROM outbox WHERE state = 'failed'").fetchone()[0]
    disk = shutil.disk_usage(settings.data_dir)
    backups = list_backups(backup_dir(settings))
    processes = {}
    for name in ("web", "worker", "bridge"):
        path = heartbeat_path(settings, name)
        seen = datetime.fromtimestamp(path.stat().st_mtime, now.tzinfo) if path.exists() else None
        processes[name] = {
            "last_seen": iso(seen),
            "alive": seen is not None and (now - seen).total_seconds() < STALE_SECONDS,
        }
    web = processes["web"]
    if web_alive is None and not web["alive"] and web_answers(settings):
        web_alive = True
    if web_alive:
        web.update(alive=True, last_seen=iso(now))
    status = {
        "clock": {"synchronised": box.clock_trusted(), "now": iso(now)},
        "outbox": {
            "pending": pending,
            "oldest_pending_due": iso(from_micros(oldest)),
            # how long the oldest message has been due (0 while it is not due yet)
            "oldest_pending_age_seconds": max(0, (to_micros(now) - (oldest or to_micros(now))))
            // 1_000_000,
            # given up after their retries: the owner sees them in the admin
            "failed": failed,
        },
        "queue_depth": _queue_depth(settings.queue_path),
        "disk": {"free_bytes": disk.free, "low": disk.free < low_disk_bytes},
        "last_backup": iso(backups[-1].taken_at) if backups else None,
        "processes": processes,
    }
    status["ok"] = (
        status["clock"]["synchronised"]
        and not status["disk"]["low"]
        and all(p["alive"] for p in processes.values())
    )
    return status
