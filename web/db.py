"""Database connections for the web process.

Peewee keeps one connection per thread. Gunicorn's gthread worker serves requests from a
fixed pool of threads, so each thread opens its connection once and keeps it: closing after
every request would pay the connect and the pragmas (WAL, synchronous, busy timeout) each time.
The event stream runs in its request's thread and uses that thread's connection; it reads in
autocommit mode, so every poll sees what other processes committed.
"""

from __future__ import annotations

from flask import Flask

from appliance.db import database, is_sqlite

# The web reads SQLite through a memory map. Each of its threads keeps a connection, and each
# connection's own page cache copied the pages it needed from the OS with read(); mapped, the
# threads read the OS's one copy in place (member page: about 10 % less CPU per request,
# bench/README.md). Only reads: writes still go to the WAL with write() and fsync, so a power
# cut loses nothing more. Where the map cannot be made (a 32-bit address space) SQLite reads
# as before. The cost: an I/O error on a mapped page stops the process (SIGBUS; systemd
# starts it again) instead of failing one request. The worker and the bridge, which scan
# whole tables or write, keep plain reads, so their memory figures count only their own.
MMAP_BYTES = 1 << 30


def read_through_map() -> None:
    """Every connection of this process, the open one and those opened later, reads through
    the map (peewee keeps the pragma and sets it on each new connection)."""
    if is_sqlite():
        database.pragma("mmap_size", MMAP_BYTES, permanent=True)


def connect() -> None:
    database.connect(reuse_if_open=True)


def init_app(app: Flask) -> None:
    read_through_map()
    app.before_request(connect)
