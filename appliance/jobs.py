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


def _queue(settings):
    """SQLite in the data folder; on PostgreSQL (chain hub, or one large shop's web and workers
    on several machines) the queue lives in the same PostgreSQL database (Huey's PostgresHuey)."""
    scheme, _, rest = settings.database_url.partition("://")
    if scheme.startswith(("postgres", "psycopg")):
        from huey import PostgresHuey

        from .db import load_postgres_driver

        load_postgres_driver()

        # peewee's URL options (pool sizes) are not libpq's
        return PostgresHuey("stampbox", dsn="postgresql://" + rest.split("?")[0])
    return SqliteHuey("stampbox", filename=str(settings.queue_path))


huey = _queue(_settings)


@huey.periodic_task(crontab(minute="*"))
def dispatch_outbox():
    """Turn due outbox rows into deliveries; queue due campaigns and automations."""
    from .automations import install, run_due
    from .campaigns import queue_scheduled

    box = box_mod.current()
    install()
    with box.db.atomic():
        handled = dispatch_due(box.db, utcnow())
    queue_scheduled(utcnow(), box)
    run_due(box=box)
    deliver_outbox()
    return handled


@huey.task(retries=3, retry_delay=10)
def deliver_outbox():
    """Send due messages (email, SMS, ...); when a channel is offline, come back later."""
    from .channels.delivery import deliver_all
    from .outbox import next_due

    box = box_mod.current()
    counts = deliver_all(box)
    if counts.get("later"):
        # the rows carry their own exponential back-off; this wakes up for the next one
        due = next_due(box.db)
        if due is not None:
            deliver_outbox.schedule(delay=max(0.5, (due - utcnow()).total_seconds()))
    return counts


@huey.on_startup()
def deliver_after_restart():
    """A restarted worker resumes at once: messages left mid-send are recovered, not lost."""
    deliver_outbox()


@huey.periodic_task(crontab(minute="*"))
def wallet_updates():
    """Send every dirty wallet pass's latest state (coalesced per member; retried with back-off)."""
    box = box_mod.current()
    # no pass issued and none waiting (a shop without wallets): nothing to send, and the
    # wallet modules (cryptography, Pillow, httpx: ~12 MB) are not loaded into the worker
    db = box.db
    if all(
        db.execute_sql(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None
        for table in ("wallet_pass", "wallet_dirty")
    ):
        return {"passes": 0, "pushed": 0, "later": 0}
    from .wallet.worker import run_wallet_updates

    counts = run_wallet_updates(box)
    return {"passes": counts.passes, "pushed": counts.pushed, "later": counts.later}


@huey.periodic_task(crontab(minute="*"))
def checkpoint_database():
    """Checkpoint the WAL here, so that no tap's commit pays for it (see db.SQLITE_PRAGMAS)."""
    return checkpoint_wal(box_mod.current().db)


@huey.periodic_task(crontab(minute="41"))
def prune_chain_events():
    """A box in no chain keeps its chain event rows two weeks (no relay will ever send them);
    in a chain the relay prunes what it sent."""
    from .chain.events import prune_unchained
    from .clock import to_micros

    box = box_mod.current()
    if box.settings.chain_nats_url:
        return 0
    return prune_unchained(box.db, to_micros(utcnow()))


@huey.periodic_task(crontab(hour="3", minute="15"))
def nightly_backup():
    """A consistent backup every night (UTC), rotated; copied to the USB stick when set."""
    from .backup import nightly

    return str(nightly(box_mod.current().settings).path)


@huey.periodic_task(crontab(minute="*/5"))
def day_summary_slip():
    """The end-of-day slip, in the hour the day_summary_hour setting names (once a day)."""
    from .printing import queue_day_summary

    box = box_mod.current()
    if box.settings.day_summary_hour >= 0 and box.clock_trusted():
        return queue_day_summary(box=box)
    return None


@huey.periodic_task(crontab(minute="*"))
def heartbeat():
    """Tell the status page the worker is alive (and its periodic schedule is running)."""
    from .heartbeat import beat

    beat(box_mod.current().settings, "worker")


@huey.periodic_task(crontab(minute="5"))
def birthday_gifts():
    """Issue birthday gifts. Hourly, so the shop's date (its own zone) is never missed and a
    member who joins inside their window gets the gift the same day; repeats issue nothing."""
    from .birthdays import run_birthdays

    box = box_mod.current()
    if box.clock_trusted():  # a Pi that has not synchronised its clock may think it is 1970
        return len(run_birthdays(box=box)["issued"])
    return 0
