"""The database binding: one proxy, opened late from settings, SQLite tuned for durability."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from functools import lru_cache

import peewee
from peewee import DatabaseError, DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect

from .settings import Settings

database = DatabaseProxy()

# DatabaseError: for the bridge
__all__ = ["DatabaseError", "RowList", "database", "open_database", "read_lists"]

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


@dataclass(frozen=True)
class RowList:
    """One list of rows for read_lists: `SELECT columns source ORDER BY order [LIMIT ?] [OFFSET ?]`.

    `order` is (expression, descending) pairs: columns or expressions over the source's
    columns (`lower(name)`), returned or not."""

    columns: tuple[str, ...]  # plain column names
    source: str  # "FROM visit WHERE member_id = ?"
    order: tuple[tuple[str, bool], ...]
    limit: bool = False  # one more parameter, after the source's: at most that many rows
    offset: bool = False  # and one more after it: rows skipped first


# SQLite 3.44 reads ORDER BY inside an aggregate; before, the rows reach the aggregate in the
# order of the sorted subquery they come from (tests/test_read_lists.py checks this)
_AGGREGATE_ORDER = sqlite3.sqlite_version_info >= (3, 44)


@lru_cache(maxsize=256)
def _lists_sql(lists: tuple[RowList, ...], sqlite: bool, param: str) -> str:
    parts = []
    for part in lists:
        # the sort keys travel with the rows (as _o0, _o1, ...) to order the aggregate too
        keys = [f"{expr} AS _o{i}" for i, (expr, _) in enumerate(part.order)]
        inner = ", ".join((*part.columns, *keys))
        order = ", ".join(f"{expr}{' DESC' if desc else ''}" for expr, desc in part.order)
        within = ", ".join(
            f"_o{i}{' DESC' if desc else ''}" for i, (_, desc) in enumerate(part.order)
        )
        rows = (
            f"SELECT {inner} {part.source} ORDER BY {order}"
            + (" LIMIT ?" if part.limit else "")
            + (" OFFSET ?" if part.offset else "")
        )
        names = ", ".join(part.columns)
        if sqlite:
            within = f" ORDER BY {within}" if _AGGREGATE_ORDER else ""
            parts.append(
                f"(SELECT json_group_array(json_array({names}){within}) FROM ({rows}) AS q)"
            )
        else:
            parts.append(
                f"(SELECT coalesce(json_agg(json_build_array({names}) ORDER BY {within}),"
                f" '[]'::json) FROM ({rows}) AS q)"
            )
    if sqlite:
        # the arrays as one JSON text (each is JSON already, never NULL): one decode, not one
        # per list (member page: about 6 µs less)
        return _convert("SELECT '[' || " + " || ',' || ".join(parts) + " || ']'", param)
    return _convert("SELECT " + ", ".join(parts), param)


def read_lists(lists: tuple[RowList, ...], params, db=None) -> list[list[list]]:
    """Several queries' rows in one statement and one row: a list of value lists per RowList.

    Each statement and each row fetched is a trip into SQLite during which Python's lock is
    let go; while the web's threads serve other pages, each trip hands the lock to another
    thread and back. A member page read in seven queries and thirty rows was CPU-bound on
    those hand-overs (bench/README.md, sixth pass); read as one value, a JSON array of the
    lists, it makes one trip, in one read transaction, and one decode. Values are JSON's:
    numbers, text, booleans, None. `params` are every part's, in order. PostgreSQL gets the
    same shape with json_agg, a column per list.
    """
    db = db or database.obj
    row = db.execute_sql(lists_statement(lists, db), params).fetchone()
    if is_sqlite(db):  # one JSON text holding every list
        return json.loads(row[0])
    # a column per list: psycopg parses PostgreSQL's json itself
    return [json.loads(value) if type(value) is str else value for value in row]


def lists_statement(lists: tuple[RowList, ...], db=None) -> str:
    """The statement read_lists runs (for its query plan, say)."""
    db = db or database.obj
    return _lists_sql(tuple(lists), is_sqlite(db), db.param)
