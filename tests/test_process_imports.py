"""What the box's processes load: PostgreSQL's driver only when a PostgreSQL database is
opened (appliance/__init__.py; 11 MB in each of four processes, bench/memory.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import ROOT


def _loaded(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def _in_a_new_box(tmp_path, code: str) -> str:
    """Run code in a fresh interpreter, after a new box was set up in tmp_path."""
    setup = (
        "import sys\n"
        "from appliance.provision import init_box\n"
        "from appliance.settings import load_settings\n"
        "init_box(load_settings())\n"
        "from appliance import jobs\n"
    )
    env = {**os.environ, "STAMPBOX_DATA_DIR": str(tmp_path), "STAMPBOX_TIMEZONE": "UTC"}
    out = subprocess.run(
        [sys.executable, "-c", setup + code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


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


def test_the_worker_loads_the_wallet_modules_only_for_a_shop_with_passes(tmp_path):
    out = _in_a_new_box(
        tmp_path,
        "print(jobs.wallet_updates.call_local(), 'appliance.wallet.apple' in sys.modules)\n"
        "from appliance.db import database\n"
        "from appliance.members import add_member\n"
        "member = add_member('Dana')\n"
        "database.execute_sql('INSERT INTO wallet_pass (member_id, serial, auth_token,'\n"
        "    ' update_tag, modified_at, created_at, offer) VALUES (?, ?, ?, 0, 0, 0, ?)',\n"
        "    (member['id'], 'serial-1', 'token-1', ''))\n"
        "print(jobs.wallet_updates.call_local(), 'appliance.wallet.apple' in sys.modules)\n",
    )
    first, second = out.strip().splitlines()
    assert first == "{'passes': 0, 'pushed': 0, 'later': 0} False"
    assert second.endswith("True")  # a pass exists: the round runs with the wallet modules


def test_httpx_comes_without_its_command_line_tool():
    out = _loaded(
        "import sys, appliance, appliance.wallet.google, httpx\n"
        "print(sorted(m for m in ('rich', 'pygments', 'httpx._main') if sys.modules.get(m)),"
        " callable(httpx.main))"
    )
    assert out.strip() == "[] True"


def test_a_shop_without_wallets_runs_the_worker_rounds_without_the_wallet_modules(tmp_path):
    out = _in_a_new_box(
        tmp_path,
        "for task in (jobs.dispatch_outbox, jobs.deliver_outbox, jobs.wallet_updates):\n"
        "    task.call_local()\n"
        "heavy = ('PIL', 'cryptography', 'httpx', 'appliance.wallet.apple')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n",
    )
    assert out.strip() == "[]"


def test_a_command_of_the_cli_itself_loads_no_other_commands_modules():
    # `stampbox worker` and `stampbox bridge` run all day: the other commands' imports (the
    # certificate's cryptography, the staff's Argon2) would stay in their memory
    out = _loaded(
        "import sys\n"
        "from appliance import cli\n"
        "for argv in (['worker'], ['--json', 'bridge'], ['tap', '--json', 'X']):\n"
        "    parser = cli.build_parser(cli._command(argv))\n"
        "    assert parser.parse_args(argv).func.__name__.startswith('cmd_'), argv\n"
        "print(sorted(m for m in cli.COMMAND_MODULES if m in sys.modules),"
        " 'cryptography' in sys.modules, 'argon2' in sys.modules)\n"
    )
    assert out.strip() == "[] False False"


def test_another_modules_command_and_the_help_still_have_every_command():
    from appliance import cli

    everything = cli.build_parser(None)
    names = set(everything._subparsers._group_actions[0].choices)
    assert {"worker", "tls", "staff", "campaign", "status", "backup", "wallet"} <= names
    assert cli._command(["--json", "tls", "init"]) == "tls"
    args = cli.build_parser("tls").parse_args(["--json", "tls", "init"])
    assert args.func.__module__ == "appliance.tls"
    with pytest.raises(SystemExit):  # a typo is told the real choices, not a narrower list
        cli.build_parser(cli._command(["wrker"])).parse_args(["wrker"])


def test_the_bridge_loads_neither_the_message_channels_nor_the_health_report():
    # it prints slips in the members' languages and beats its heartbeat: the email, SMS and
    # wallet channels (smtplib, ssl, urllib) and the status report's backups (tarfile) are
    # the worker's and the web's (3.5 MB for the bridge's whole life, bench/memory.py)
    out = _loaded(
        "import sys\n"
        "import firmware_bridge, firmware_bridge.main, firmware_bridge.runner\n"
        "print(sorted(m for m in ('appliance.channels', 'appliance.health', 'appliance.backup',"
        " 'smtplib', 'urllib.request', 'tarfile') if m in sys.modules),"
        " 'appliance.wording' in sys.modules, 'appliance.heartbeat' in sys.modules)"
    )
    assert out.strip() == "[] True True"
