"""`python -m firmware_bridge` as the box runs it: a real process, a real pipe, real signals."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from appliance.members import add_member
from appliance.models import CounterEvent, Member

from .conftest import ROOT, T0

pytestmark = pytest.mark.slow

UID = "04A23B4C5D6E7F"


def start_bridge(env: dict, **extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "firmware_bridge"],
        env={**env, **extra},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def open_pipe_when_read(path, proc, timeout: float = 10.0) -> int:
    """Open the bridge's FIFO for writing once the bridge has its reading end open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # not there yet, or no reader yet
            if exc.errno not in (errno.ENOENT, errno.ENXIO):
                raise
        time.sleep(0.05)
    raise AssertionError("the bridge never opened its pipe")


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_bridge_process_stamps_a_tap_from_the_pipe_and_stops_cleanly(
    init_info, settings, cli_env, signum
):
    anna = add_member("Anna", card_uid=UID, now=T0)
    proc = start_bridge(cli_env)
    try:
        writer = open_pipe_when_read(settings.data_dir / "sim-reader.fifo", proc)
        os.write(writer, b"\xff\xfe garbage\n" + f"{UID}\n".encode())
        os.close(writer)
        assert wait_for(lambda: Member.get_by_id(anna["id"]).stamps == 1)
        assert [e.status for e in CounterEvent.select()] == ["stamped"]
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "sim: refused: Unreadable scan" in err
    assert "sim: stamped: Anna: stamp 1" in err


def test_the_bridge_refuses_to_start_with_one_clear_line(init_info, cli_env):
    proc = start_bridge(cli_env, STAMPBOX_DEVICES="usb:072f:2200")
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 2
    assert err.count("\n") == 1 and "cannot start: configuration problem: 'usb:072f:2200'" in err


def test_the_bridge_stops_by_itself_when_its_only_input_ends(init_info, cli_env):
    add_member("Anna", card_uid=UID, now=T0)
    proc = subprocess.run(
        [sys.executable, "-m", "firmware_bridge"],
        env={**cli_env, "STAMPBOX_DEVICES": "stdin"},
        cwd=ROOT,
        input=f"{UID}\n",
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert proc.returncode == 0, proc.stderr
    assert "stdin: stamped" in proc.stderr
