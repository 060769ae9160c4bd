"""A throwaway PostgreSQL cluster for tests: Debian's initdb + pg_ctl on a free loopback port.

PostgreSQL refuses to run as root, so as root (CI) the cluster belongs to Debian's `postgres`
user and every server command runs through runuser; otherwise it runs as the current user.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

# a test database is thrown away: durability settings only cost time here
_FAST = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    " -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200"
)
USER = "stampbox"


def find_bin(name: str) -> str | None:
    """Debian keeps server programs in /usr/lib/postgresql/<major>/bin, not on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major)
    return found[-1] if found else shutil.which(name)


def _major(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """initdb'd once, started, stopped; `create_database()` gives each test its own database."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if not self.initdb or not self.pg_ctl:
            raise FileNotFoundError("PostgreSQL's initdb/pg_ctl not found (Debian: postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="stampbox-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")
        self._names = itertools.count(1)
        self._admin = None

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> Cluster:
        self._run(
            self.initdb,
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "-N",
        )
        self._run(
            self.pg_ctl,
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.port} {_FAST}",
            "start",
        )
        return self

    def url(self, dbname: str = "postgres", scheme: str = "postgresql") -> str:
        return f"{scheme}://{USER}@127.0.0.1:{self.port}/{dbname}"

    def admin(self):
        import psycopg

        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.url(), autocommit=True)
        return self._admin

    def create_database(self, prefix: str = "t", template: str = "template1") -> str:
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.admin().execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        # FORCE: a test that failed may have left a connection open
        self.admin().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
