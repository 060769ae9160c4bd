"""`stampbox run`: web, worker and bridge together, as `make run` starts them."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest

from .conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout=30.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out waiting")


def _up(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_run_serves_the_counter_takes_taps_from_the_bridge_and_stops_cleanly(
    stampbox, cli_env, settings
):
    init = json.loads(stampbox("init", "--json").stdout)
    assert init["owner"]["password"]
    assert stampbox("member", "add", "--name", "Anna", "--card", "04A23B4C5D6E7F").returncode == 0
    token = json.loads(stampbox("device-token", "create", "pos", "--json").stdout)["token"]
    port = _free_port()
    env = {**cli_env, "STAMPBOX_DEV_MODE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "run", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: _up(f"{base}/login"))
        fifo = settings.data_dir / "sim-reader.fifo"
        _wait(fifo.exists)
        # the bridge tells `stampbox status` it is alive
        _wait((settings.data_dir / "run" / "bridge.alive").exists)
        # a tap on the simulated reader, as a person would make one
        fd = os.open(fifo, os.O_WRONLY)
        os.write(fd, b"04A23B4C5D6E7F\n")
        os.close(fd)
        db = sqlite3.connect(settings.db_path)
        _wait(lambda: db.execute("SELECT stamps FROM member").fetchone()[0] == 1)
        source = db.execute("SELECT source FROM visit").fetchone()[0]
        assert source != "cli"
        # and the POS API of the web process answers with the same card, now in cooldown
        request = urllib.request.Request(
            f"{base}/api/v1/counter/tap",
            data=json.dumps({"token": "04A23B4C5D6E7F"}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "cooldown" and body["card"]["stamps"] == 1
        db.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    # no process of the three is left behind
    assert subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True).stdout == b""
