"""Outbox: one row per event key, written with the tap, handed to the worker's handlers."""

import json
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from appliance import outbox
from appliance.clock import utcnow
from appliance.counter import handle
from appliance.members import add_member
from appliance.models import Outbox

from .conftest import ROOT, T0


@pytest.fixture
def unlocked(box):
    add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    return handle("04A23B4C5D6E7F", "t", stamps=10, now=T0).unlocked[0]


def test_a_reward_unlock_writes_one_outbox_row_with_the_voucher(unlocked):
    row = Outbox.get()
    assert row.kind == "reward_unlocked" and row.state == "pending"
    assert json.loads(row.payload)["code"] == unlocked["code"]
    assert row.event_key.startswith("reward_unlocked:tier:1:0:10")


def test_the_same_event_key_is_queued_once(box):
    add_member("Anna", now=T0)
    assert outbox.add_outbox(box.db, "promo:1:1", "promo", 1, {}, T0) is True
    assert outbox.add_outbox(box.db, "promo:1:1", "promo", 1, {}, T0) is False
    assert Outbox.select().count() == 1


def test_due_rows_go_to_their_handler_and_failures_stay_pending(unlocked, box):
    seen = []
    outbox.HANDLERS["reward_unlocked"] = seen.append
    try:
        assert outbox.dispatch_due(box.db, T0) == 1
        assert seen[0]["payload"]["code"] == unlocked["code"]
        assert Outbox.get().state == "done"
        assert outbox.dispatch_due(box.db, T0) == 0  # never twice

        Outbox.update(state="pending").execute()

        def offline(row):
            raise OSError("network is unreachable")

        outbox.HANDLERS["reward_unlocked"] = offline
        assert outbox.dispatch_due(box.db, T0) == 0
        row = Outbox.get()
        assert row.state == "pending" and row.attempts == 2
        assert "unreachable" in row.last_error
    finally:
        outbox.HANDLERS.pop("reward_unlocked", None)


def test_rows_without_a_configured_channel_wait(unlocked, box):
    assert outbox.dispatch_due(box.db, utcnow()) == 0
    assert Outbox.get().state == "pending"


@pytest.mark.slow
def _catches(pid: int, signum: int) -> bool:
    with open(f"/proc/{pid}/status") as fh:
        caught = next(line for line in fh if line.startswith("SigCgt:")).split()[1]
    return bool(int(caught, 16) >> (signum - 1) & 1)


def test_the_worker_process_starts_consumes_and_stops_on_sigterm(init_info, cli_env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "worker"],
        env=cli_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # wait for the consumer's start-up listing (a fixed sleep raced a slow start under load)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    seen = []
    while not any("dispatch_outbox" in x for x in seen):  # the periodic task is registered
        try:
            seen.append(lines.get(timeout=60))
        except queue.Empty:
            pytest.fail("the worker never listed its tasks:\n" + "".join(seen))
    # the consumer sets its SIGTERM handler just after that listing: wait until the kernel
    # shows SIGTERM as caught, so the signal tests the graceful stop, not the start-up
    deadline = time.monotonic() + 60
    while not _catches(proc.pid, signal.SIGTERM) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "".join(seen)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, "".join(seen)
