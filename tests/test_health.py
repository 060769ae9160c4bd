"""The box's status: what `stampbox status` and the health check report."""

import json
import os
import shutil
import subprocess
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from appliance import box as box_mod
from appliance.backup import take_backup
from appliance.clock import iso, utcnow
from appliance.counter import handle
from appliance.health import box_status
from appliance.heartbeat import beat, heartbeat_path
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
    for process in ("web", "worker", "bridge"):
        beat(box.settings, process)
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
    assert "messages waiting: 0 (oldest 0 s), failed: 0" in text.stdout


def test_the_web_counts_as_running_when_it_answers_healthz(box, settings):
    import threading
    from dataclasses import replace as dc_replace

    from werkzeug.serving import make_server

    from .test_web import make_app

    app = make_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        here = dc_replace(box.settings, web_port=server.server_port)
        # the web's own heartbeat is an hour old: only its answer counts
        beat(here, "web")
        os.utime(heartbeat_path(here, "web"), (0, 0))
        later = utcnow() + timedelta(hours=1)  # every heartbeat file is stale by then
        answering = box_status(box_mod.start(here), now=later)
        assert answering["processes"]["web"] == {"last_seen": iso(later), "alive": True}
    finally:
        server.shutdown()
        thread.join()
    silent = box_status(box_mod.start(here), now=later)
    assert silent["processes"]["web"]["alive"] is False and silent["ok"] is False


def test_low_disk_space_is_reported_and_stops_nothing_that_records_taps(box):
    from appliance.models import Visit
    from appliance.vouchers import redeem_voucher

    for process in ("web", "worker", "bridge"):
        beat(box.settings, process)
    full = box_status(box, low_disk_bytes=2**62)  # more than any disk: the box reads as low
    assert full["disk"]["low"] is True and full["ok"] is False
    add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    tap = handle("04A23B4C5D6E7F", "t", stamps=10, now=T0)
    assert tap.status == "stamped" and Visit.select().count() == 1
    assert redeem_voucher(tap.unlocked[0]["code"], now=T0).status == "redeemed"
    again = handle("04A23B4C5D6E7F", "t", now=T0 + timedelta(hours=1))
    assert again.status == "stamped" and Visit.select().count() == 2


def test_messages_being_sent_count_as_waiting_and_failed_ones_are_counted(box):
    from appliance.models import Outbox

    add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    add_member("Ben", card_uid="04A23B4C5D6E80", now=T0)
    handle("04A23B4C5D6E7F", "t", stamps=10, now=T0)
    handle("04A23B4C5D6E80", "t", stamps=10, now=T0 + timedelta(minutes=5))
    first, second = Outbox.select().order_by(Outbox.id)
    Outbox.update(state="sending").where(Outbox.id == first.id).execute()
    outbox = box_status(box, now=T0 + timedelta(minutes=10))["outbox"]
    assert outbox["pending"] == 2 and outbox["oldest_pending_age_seconds"] == 600
    Outbox.update(state="failed").where(Outbox.id == first.id).execute()
    outbox = box_status(box, now=T0 + timedelta(minutes=10))["outbox"]
    assert (outbox["pending"], outbox["failed"], outbox["oldest_pending_age_seconds"]) == (
        1,
        1,
        300,
    )


@pytest.fixture
def small_disk(tmp_path):
    """A real 16 MB file system (tmpfs) for the data folder; needs root to mount."""
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
        ).returncode
    ):
        pytest.skip("mounting a small file system needs root")
    try:
        yield mount
    finally:
        box_mod.stop()
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_nearly_full_disk_keeps_recording_taps_and_refuses_the_backup(small_disk):
    from appliance.backup import BackupError, nightly
    from appliance.models import ShopSetting, Visit
    from appliance.provision import init_box
    from appliance.settings import load_settings

    settings = load_settings(environ={}, data_dir=small_disk / "var", timezone="UTC")
    init_box(settings, now=T0)
    box = box_mod.current()
    for i in range(20):
        add_member(f"M{i}", card_uid=f"04A23B4C5D{i:04X}", now=T0)
    # a 3 MB database, then a disk with 4 MB left: a backup needs twice the database's size
    ShopSetting.create(key="padding", value="x" * 3 * 2**20)
    box.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert settings.db_path.stat().st_size > 3 * 2**20
    free = shutil.disk_usage(small_disk).free
    with open(small_disk / "filler", "wb") as fh:
        fh.write(b"\0" * (free - 4 * 2**20))
    assert box_status(box, now=T0)["disk"]["low"] is True
    with pytest.raises(BackupError, match="Not enough free space"):
        nightly(settings, now=T0)
    results = [
        handle(f"04A23B4C5D{i:04X}", "t", now=T0 + timedelta(minutes=i)).status for i in range(20)
    ]
    assert results == ["stamped"] * 20 and Visit.select().count() == 20
    assert box.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list((small_disk / "var").rglob("*.tar*"))  # no half-written backup left behind
