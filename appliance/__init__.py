"""Stampbox's core: models, rules, segments, campaigns, jobs (no Flask, no hardware)."""

import sys as _sys
from contextlib import contextmanager as _contextmanager


@_contextmanager
def without_postgres_driver():
    """Imports made inside do not load psycopg, PostgreSQL's driver, even where the library
    would (peewee, playhouse and Huey's storage load it whenever it is installed): about
    11 MB in each of the box's four Python processes, which all run on SQLite
    (bench/memory.py). appliance.db.load_postgres_driver hands it to those libraries when a
    PostgreSQL database or queue is opened (the chain's hub, a shop on PostgreSQL). In a
    process that has loaded it already (a test run's PostgreSQL cluster) nothing changes.
    """
    hide = "psycopg" not in _sys.modules
    if hide:
        _sys.modules["psycopg"] = None  # `import psycopg` raises ImportError meanwhile
    try:
        yield
    finally:
        if hide and "psycopg" in _sys.modules and _sys.modules["psycopg"] is None:
            del _sys.modules["psycopg"]


# every process imports these through the core (the queue: every process sends jobs)
with without_postgres_driver():
    import huey.storage  # noqa: F401
    import peewee  # noqa: F401
    import playhouse.db_url  # noqa: F401

# httpx loads its command-line tool (click, rich, pygments: ~10 MB) on import whenever those
# are installed; no Stampbox process runs that tool, and httpx falls back without it
_sys.modules.setdefault("httpx._main", None)
