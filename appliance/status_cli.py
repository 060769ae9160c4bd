"""`stampbox status`: the box's health for the owner, scripts and the health check."""

from __future__ import annotations

from . import box as box_mod
from .cli import EXIT_FAIL, EXIT_OK, emit
from .health import box_status


def cmd_status(args) -> int:
    status = box_status(box_mod.start())
    lines = [
        "OK" if status["ok"] else "NEEDS ATTENTION",
        f"clock synchronised: {'yes' if status['clock']['synchronised'] else 'NO'}",
        f"messages waiting: {status['outbox']['pending']}"
        f" (oldest {status['outbox']['oldest_pending_age_seconds']} s),"
        f" failed: {status['outbox']['failed']}",
        f"free disk: {status['disk']['free_bytes'] // 2**20} MB"
        + (" (LOW)" if status["disk"]["low"] else ""),
        f"last backup: {status['last_backup'] or 'never'}",
    ]
    lines += [
        f"{name}: {'running' if p['alive'] else 'NOT SEEN'} (last {p['last_seen'] or 'never'})"
        for name, p in status["processes"].items()
    ]
    return emit(args, status, "\n".join(lines), EXIT_OK if status["ok"] else EXIT_FAIL)


def register(sub, add) -> None:
    add("status", cmd_status, "the box's health: clock, queues, disk, backups, processes")
