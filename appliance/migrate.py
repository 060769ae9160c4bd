"""Run forward migrations in order; each in its own transaction, recorded in schema_version."""

from __future__ import annotations

import importlib
import pkgutil

from peewee import SqliteDatabase

from . import migrations
from .clock import to_micros, utcnow

_TABLE = "schema_version"


def available() -> list:
    """Migration modules in version order."""
    mods = [
        importlib.import_module(f"{migrations.__name__}.{info.name}")
        for info in pkgutil.iter_modules(migrations.__path__)
        if info.name.startswith("m")
    ]
    return sorted(mods, key=lambda mod: mod.VERSION)


def current_version(db) -> int:
    if not db.table_exists(_TABLE):
        return 0
    row = db.execute_sql(f"SELECT MAX(version) FROM {_TABLE}").fetchone()
    return row[0] or 0


def applied_versions(db) -> set[int]:
    if not db.table_exists(_TABLE):
        return set()
    return {row[0] for row in db.execute_sql(f"SELECT version FROM {_TABLE}")}


def head_version() -> int:
    return available()[-1].VERSION


def upgrade(db, target: int | None = None) -> list[int]:
    """Apply every migration above the database's version (up to target); returns those applied."""
    db.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {_TABLE} (version INTEGER PRIMARY KEY, applied_at BIGINT)"
    )
    applied = []
    sqlite = isinstance(db, SqliteDatabase)
    if sqlite:
        # SQLite ignores this pragma inside a transaction: a migration that rebuilds a table
        # must not cascade deletes into the tables that point at it
        db.execute_sql("PRAGMA foreign_keys = OFF")
    try:
        _apply(db, target, applied, sqlite)
    finally:
        if sqlite:
            db.execute_sql("PRAGMA foreign_keys = ON")
    return applied


def _apply(db, target, applied, sqlite):
    for mod in available():
        if target is not None and mod.VERSION > target:
            break
        with db.atomic():
            # re-read inside the write transaction: two processes starting together apply once.
            # Each version is recorded on its own, so one that arrived after a higher one
            # (branches landing in another order) is still applied.
            if mod.VERSION in applied_versions(db):
                continue
            mod.upgrade(db)
            if sqlite and db.execute_sql("PRAGMA foreign_key_check").fetchone():
                raise RuntimeError(f"migration {mod.VERSION} broke a foreign key; rolled back")
            db.execute_sql(
                f"INSERT INTO {_TABLE} (version, applied_at) VALUES ({db.param}, {db.param})",
                (mod.VERSION, to_micros(utcnow())),
            )
        applied.append(mod.VERSION)
