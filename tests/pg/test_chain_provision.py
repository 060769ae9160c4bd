"""Provisioning as the commands do it: `stampbox chain provision` at the centre (PostgreSQL),
`stampbox chain hub-config` for the centre's nats-server (leaf credentials), `stampbox chain
join` on a fresh box; then a tap on that box reaches PostgreSQL through the leaf."""

import json
import os
import subprocess
import sys
import time

import pytest

from appliance import box as box_mod
from appliance.chain import box_id
from appliance.chain.hub import Hub
from appliance.chain.natsbin import NatsServer
from appliance.chain.sync import BoxSync
from appliance.counter import handle
from appliance.db import open_database
from appliance.members import add_member
from appliance.provision import init_box
from appliance.settings import load_settings

from ..conftest import ROOT, T0
from .cluster import free_port


def _stampbox(env, *args, code=0):
    out = subprocess.run(
        [sys.executable, "-m", "appliance.cli", *args, "--json"],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == code, out.stderr + out.stdout
    return json.loads(out.stdout)


def _env(data_dir, database_url=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAMPBOX_")}
    env.update(STAMPBOX_DATA_DIR=str(data_dir), STAMPBOX_TIMEZONE="UTC")
    if database_url:
        env["STAMPBOX_DATABASE_URL"] = database_url
    return env


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={}, data_dir=tmp_path / "var", timezone="UTC")


def test_a_provisioned_box_joins_and_its_taps_reach_the_centre(tmp_path, pg_url):
    hub_env = _env(tmp_path / "hub", pg_url)
    port, leaf = free_port(), free_port()
    bundle = tmp_path / "main-street.json"
    made = _stampbox(
        hub_env, "chain", "provision", "Main Street",
        "--leaf-url", f"nats-leaf://127.0.0.1:{leaf}", "--out", str(bundle),
    )  # fmt: skip
    assert oct(bundle.stat().st_mode & 0o777) == "0o600"
    conf = tmp_path / "hub.conf"
    _stampbox(
        hub_env, "chain", "hub-config", "--out", str(conf), "--store", str(tmp_path / "js-hub"),
        "--host", "127.0.0.1", "--port", str(port), "--leaf-port", str(leaf),
    )  # fmt: skip
    assert "box-" + made["box_id"][:8] in conf.read_text()
    hub_server = NatsServer(tmp_path / "nats-hub", conf.read_text(), port).start()

    box_env = _env(tmp_path / "box")
    _stampbox(box_env, "init")
    box_port = free_port()
    joined = _stampbox(
        box_env, "chain", "join", str(bundle), "--env-file", str(tmp_path / "environment"),
        "--nats-port", str(box_port),
    )  # fmt: skip
    assert joined["box_id"] == made["box_id"]
    assert (
        f"STAMPBOX_CHAIN_NATS_URL=nats://127.0.0.1:{box_port}"
        in (tmp_path / "environment").read_text()
    )
    box_server = NatsServer(
        tmp_path / "nats-box", open(joined["nats_config"]).read(), box_port
    ).start()

    hub_db = open_database(
        load_settings(environ={}, data_dir=tmp_path / "hub", database_url=pg_url), bind=False
    )
    hub = Hub(hub_db, hub_server.url)
    sync = None
    try:
        hub.initialize()  # sources the registered box by itself
        init_box(load_settings(environ={}, data_dir=tmp_path / "box", timezone="UTC"))
        box = box_mod.current()
        assert box_id(box.db) == made["box_id"]
        assert box.code_key.hex() == json.loads(bundle.read_text())["code_key"]
        add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
        assert handle("04A23B4C5D6E7F", "t", now=T0).status == "stamped"
        sync = BoxSync(box.db, box_server.url)
        sync.initialize()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sync.loop()
            hub.loop(timeout=0.3)
            if hub_db.execute_sql("SELECT COUNT(*) FROM chain_visit").fetchone()[0]:
                break
        assert hub_db.execute_sql("SELECT box_id FROM chain_visit").fetchall() == [
            (made["box_id"],)
        ]
        # the box now has a card: joining again is refused, and says why
        box_mod.stop()
        again = _stampbox(box_env, "chain", "join", str(bundle), code=3)
        assert "already has" in again["error"]
    finally:
        if sync:
            sync.shutdown()
        hub.shutdown()
        hub_db.close()
        box_server.stop()
        hub_server.stop()
        box_mod.stop()
