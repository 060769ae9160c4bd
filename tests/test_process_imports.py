"""What the box's processes load: PostgreSQL's driver only when a PostgreSQL database is
opened (appliance/__init__.py; 11 MB in each of four processes, bench/memory.py)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def _loaded(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_the_sqlite_processes_never_load_the_postgres_driver():
    # each process's own first import, alone: the web (gunicorn's web:create_app), the
    # worker and the CLI (python -m appliance.cli), the bridge (python -m firmware_bridge)
    for first in (
        "import web; web.create_app",
        "import appliance.cli, appliance.processes, appliance.jobs\n"
        "from huey.consumer import Consumer",
        "import firmware_bridge, firmware_bridge.main, firmware_bridge.runner",
    ):
        out = _loaded(
            f"import sys\n{first}\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg2')))"
        )
        assert out.strip() == "[]", first


def test_the_driver_is_loaded_as_peewee_would_have_loaded_it():
    out = _loaded(
        "import appliance.db, appliance.jobs, peewee, huey.storage\n"
        "assert peewee.psycopg is None and huey.storage.psycopg is None\n"
        "appliance.db.load_postgres_driver()\n"
        "appliance.db.load_postgres_driver()  # twice is harmless\n"
        "import psycopg\n"
        "a = peewee.PostgresqlDatabase('x')._adapter\n"
        "from psycopg.pq import TransactionStatus as T\n"
        "print(type(a).__name__, a.json_type.__module__, a.txn_idle == T.IDLE,"
        " a.txn_inerror == T.INERROR, peewee.psycopg is psycopg, huey.storage.psycopg is psycopg)"
    )
    assert out.split() == ["Psycopg3Adapter", "psycopg.types.json", "True", "True", "True", "True"]
