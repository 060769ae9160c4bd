"""Database connections for the web process.

Peewee keeps one connection per thread. Gunicorn's gthread worker serves requests from a
fixed pool of threads, so each thread opens its connection once and keeps it: closing after
every request would pay the connect and the pragmas (WAL, synchronous, busy timeout) each time.
The event stream runs in its request's thread and uses that thread's connection; it reads in
autocommit mode, so every poll sees what other processes committed.
"""

from __future__ import annotations

from flask import Flask

from appliance.db import database


def _connect() -> None:
    database.connect(reuse_if_open=True)


def init_app(app: Flask) -> None:
    app.before_request(_connect)
