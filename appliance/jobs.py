"""The job queue: Huey on SQLite in the data folder (the worker process consumes it)."""

from __future__ import annotations

from huey import SqliteHuey, crontab

from . import box as box_mod
from .clock import utcnow
from .db import checkpoint_wal
from .outbox import dispatch_due
from .settings import load_settings

_settings = load_settings()
_settings.data_dir.mkdir(parents=True, exist_ok=True)
huey = SqliteHuey("stampbox", filename=str(_settings.queue_path))


@huey.periodic_task(crontab(minute="*"))
def dispatch_outbox():
    """Turn due outbox rows into deliveries."""
    box = box_mod.current()
    with box.db.atomic():
        return dispatch_due(box.db, utcnow())


@huey.periodic_task(crontab(minute="*"))
def checkpoint_database():
    """Checkpoint the WAL here, so that no tap's commit pays for it (see db.SQLITE_PRAGMAS)."""
    return checkpoint_wal(box_mod.current().db)


@huey.periodic_task(crontab(hour="3", minute="15"))
def nightly_backup():
    """A consistent backup every night (UTC), rotated; copied to the USB stick when set."""
    from .backup import nightly

    return str(nightly(box_mod.current().settings).path)


@huey.periodic_task(crontab(minute="*"))
def heartbeat():
    """Tell the status page the worker is alive (and its periodic schedule is running)."""
    from .health import beat

    beat(box_mod.current().settings, "worker")
