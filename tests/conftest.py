"""Shared fixtures: every test gets its own data folder and a real SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance import box as box_mod
from appliance.provision import init_box
from appliance.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={}, data_dir=tmp_path / "var", timezone="UTC")


@pytest.fixture
def init_info(settings):
    """init_box's answer: the data folder and the owner's one-time login."""
    info = init_box(settings, now=T0)
    yield info
    box_mod.stop()


@pytest.fixture
def box(init_info):
    """An initialised appliance (schema, default program, owner) bound for this test."""
    return box_mod.current()


@pytest.fixture
def cli_env(settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAMPBOX_")}
    env.update(STAMPBOX_DATA_DIR=str(settings.data_dir), STAMPBOX_TIMEZONE="UTC")
    return env


@pytest.fixture
def stampbox(cli_env):
    """Run the real `stampbox` command line in a subprocess."""

    def run(*args, check_json=False, input=None):
        return subprocess.run(
            [sys.executable, "-m", "appliance.cli", *args],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
            input=input,
            cwd=ROOT,
        )

    return run


# -- the web app and its signed-in clients (a module may define its own to differ) --

STAFF_PASSWORD = "counter-pass-123"


@pytest.fixture
def app(settings, init_info):
    """The real Flask app on the test's data folder."""
    from .test_web import make_app

    return make_app(settings)


@pytest.fixture
def owner(app, init_info):
    """A client signed in as the first-boot owner (their own password chosen once)."""
    from .test_web import log_in

    client = app.test_client()
    log_in(client, init_info["owner"]["password"])
    return client


@pytest.fixture
def staff(app, init_info):
    """A client signed in as 'barista', a staff account."""
    from appliance.staff import create_staff

    from .test_web import log_in

    create_staff("barista", STAFF_PASSWORD, "staff", actor="owner")
    client = app.test_client()
    assert log_in(client, STAFF_PASSWORD, username="barista").status_code == 302
    return client
