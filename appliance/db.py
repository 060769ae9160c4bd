"""The database binding: one proxy, opened late from settings, SQLite tuned for durability."""

from __future__ import annotations

from functools import lru_cache

import peewee
from peewee import DatabaseError, DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect

from .settings import Settings

database = DatabaseProxy()

__all__ = ["DatabaseError", "database", "open_database"]  # DatabaseError: for the bridge

# WAL lets the web read while the bridge writes; synchronous=FULL makes an acknowledged
# stamp survive a power cut; IMMEDIATE transactions take the write lock up front, so two
# processes never deadlock upgrading a read lock.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 15_000,
    "cache_size": -16_000,
    # the worker checkpoints every minute (checkpoint_wal): at SQLite's default of 1000 pages
    # the commit that crosses it copies the WAL back and fsyncs the database, ~10 ms on one
    # tap in a hundred (bench/README.md); this larger threshold is the backstop should the
    # worker be down
    "wal_autocheckpoint": 10_000,
}


def open_database(settings: Settings, bind: bool = True):
    """Open (lazily connect) the shop database named by the settings and bind the proxy."""
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE", timeout=15)
    else:
        load_postgres_driver()
        db = connect(url)
    if bind:
        database.initialize(db)
    return db


def checkpoint_wal(db=None) -> tuple | None:
    """Copy committed WAL pages into the database without waiting for anyone (SQLite only).

    Returns SQLite's (busy, wal pages, pages checkpointed), or None for other databases.
    """
    db = db or database.obj
    if not is_sqlite(db):
        return None
    return tuple(db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone())


def load_postgres_driver() -> None:
    """Give peewee, playhouse and Huey the psycopg they would have found had they been
    imported with it.

    appliance/__init__.py and appliance.jobs import them with the driver hidden (it costs
    every SQLite process 11 MB). These are all the places they read it at import (peewee
    4.5, Huey 2.5): peewee's module names and its psycopg 3 adapter's transaction states,
    playhouse.postgres_ext's hstore helpers, Huey's PostgreSQL storage. tests/pg runs the
    whole PostgreSQL suite through here. Idempotent.
    """
    import huey.storage

    if peewee.psycopg is not None and huey.storage.psycopg is not None:
        return
    import playhouse.postgres_ext as postgres_ext
    import psycopg
    from psycopg.pq import TransactionStatus
    from psycopg.types import TypeInfo
    from psycopg.types.hstore import register_hstore
    from psycopg.types.json import Json, Jsonb

    huey.storage.psycopg = psycopg
    if peewee.psycopg is None:
        peewee.TransactionStatus, peewee.Json_pg3 = TransactionStatus, Json
        peewee.Jsonb_pg3 = Jsonb
        adapter = peewee.Psycopg3Adapter
        adapter.txn_idle = TransactionStatus.IDLE
        adapter.txn_inerror = TransactionStatus.INERROR
        adapter.txn_unknown = TransactionStatus.UNKNOWN
        postgres_ext.TypeInfo, postgres_ext.register_hstore_pg3 = TypeInfo, register_hstore
        peewee.psycopg = psycopg  # last: the check above reads it


def is_sqlite(db=None) -> bool:
    db = db or database.obj
    return isinstance(db, SqliteDatabase)


@lru_cache(maxsize=256)
def _convert(sql: str, param: str) -> str:
    return sql if param == "?" else sql.replace("?", param)


def sql(text: str, db=None) -> str:
    """Portable SQL: queries are written with ? placeholders, converted for the driver once."""
    db = db or database.obj
    return _convert(text, db.param)
