"""The box's status: what `stampbox status` and the health check report."""

import json
import os
import time
from dataclasses import replace
from datetime import timedelta

from appliance import box as box_mod
from appliance.backup import take_backup
from appliance.counter import handle
from appliance.health import beat, box_status, heartbeat_path
from appliance.members import add_member

from .conftest import T0


def test_a_fresh_box_reports_what_is_missing(box):
    status = box_status(box, now=T0)
    assert status["ok"] is False  # no worker or bridge has run yet
    assert status["processes"]["worker"] == {"last_seen": None, "alive": False}
    assert status["outbox"]["pending"] == 0 and status["last_backup"] is None
    assert status["clock"]["synchronised"] is True and status["disk"]["low"] is False


def test_a_running_box_with_a_waiting_message_and_a_backup(box):
    add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    handle("04A23B4C5D6E7F", "t", stamps=10, now=T0)  # the unlock queues a message
    take_backup(box.settings, now=T0)
    beat(box.settings, "worker")
    beat(box.settings, "bridge")
    status = box_status(box)
    assert status["ok"] is True
    due_soon = box_status(box, now=T0 - timedelta(hours=1))["outbox"]
    overdue = box_status(box, now=T0 + timedelta(hours=1))["outbox"]
    assert due_soon["pending"] >= 1 and due_soon["oldest_pending_age_seconds"] == 0
    assert overdue["oldest_pending_age_seconds"] == 3600
    assert status["last_backup"] == "2026-11-24T09:00:00Z"


def test_a_silent_process_and_an_unsynchronised_clock_are_reported(box, tmp_path):
    beat(box.settings, "worker")
    beat(box.settings, "bridge")
    old = time.time() - 600
    os.utime(heartbeat_path(box.settings, "bridge"), (old, old))
    unsynced = box_mod.start(replace(box.settings, clock_sync_file=str(tmp_path / "nope")))
    status = box_status(unsynced)
    assert status["processes"]["bridge"]["alive"] is False
    assert status["processes"]["worker"]["alive"] is True
    assert status["clock"]["synchronised"] is False and status["ok"] is False


def test_the_cli_exits_1_when_the_box_needs_attention(box, stampbox):
    proc = stampbox("status", "--json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["processes"]["bridge"]["alive"] is False
    text = stampbox("status")
    assert "NEEDS ATTENTION" in text.stdout and "bridge: NOT SEEN" in text.stdout
