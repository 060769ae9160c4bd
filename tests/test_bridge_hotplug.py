"""Hot-plug, device health and the feedback patterns, through the bridge loop and process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tty
from datetime import timedelta

import pytest

from appliance.device_health import device_health
from appliance.feedback import SIGNALS
from appliance.members import add_member
from appliance.models import Member, PrintJob
from appliance.program import parse_tier, set_program
from firmware_bridge import DeviceState, MemoryFeedback
from firmware_bridge.counter_loop import CounterLoop
from firmware_bridge.health import HealthListener
from firmware_bridge.serial_scanner import SerialScanner

from .conftest import ROOT, T0
from .fixtures.emupos_peer import decode, ensure_emupos
from .fixtures.type2_tag import Type2TagEmulator

UID = "04A23B4C5D6E7F"


def plug(link):
    """A new scanner appears at the stable name `link` (as udev's by-id symlinks do)."""
    scanner_end, port_end = os.openpty()
    tty.setraw(port_end)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(os.ttyname(port_end), link)
    return scanner_end, port_end


def test_a_scanner_unplugged_and_plugged_back_is_picked_up_again(box, tmp_path):
    anna = add_member("Anna", card_uid=UID, now=T0 - timedelta(days=1))
    link = tmp_path / "ttyACM-scanner"
    first = plug(link)
    loop = CounterLoop(
        SerialScanner(str(link)), MemoryFeedback(), poll_seconds=0.2, retry_seconds=0,
        health=HealthListener(),
    )  # fmt: skip
    loop.initialize()
    try:
        assert [(h["name"], h["state"]) for h in device_health()] == [("scanner", "ready")]
        for fd in first:  # unplugged
            os.close(fd)
        os.unlink(link)
        assert loop.loop(now=T0) is None
        assert loop.reader.state is DeviceState.LOST
        assert device_health()[0]["state"] == "lost"
        assert loop.loop(now=T0) is None  # still gone: stays lost, no error
        assert loop.reader.state is DeviceState.LOST
        second = plug(link)  # plugged back in
        assert loop.loop(now=T0) is None  # reopened
        assert loop.reader.state is DeviceState.READY
        os.write(second[0], f"{UID}\r".encode())
        assert loop.loop(now=T0).status == "stamped"
        assert Member.get_by_id(anna["id"]).stamps == 1
        health = device_health()[0]
        assert (health["state"], health["last_event_at"]) == ("ready", "2026-11-24T09:00:00Z")
        for fd in second:
            os.close(fd)
    finally:
        loop.shutdown()


def test_a_full_card_sounds_the_reward_and_queues_its_voucher_slip(box, tmp_path):
    set_program([parse_tier("2:Free coffee")], 90, actor="test")
    add_member("Anna", card_uid=UID, now=T0 - timedelta(days=1))
    read_end, write_end = os.pipe()
    from firmware_bridge import StdinReader

    loop = CounterLoop(StdinReader(read_end), MemoryFeedback(), poll_seconds=0.2)
    loop.initialize()
    for hours in (0, 1):
        os.write(write_end, f"{UID}\n".encode())
        loop.loop(now=T0 + timedelta(hours=hours))
    assert loop.feedback.played == ["stamped", "reward"]
    (job,) = PrintJob.select()
    assert '"kind":"voucher"' in job.document and "Free coffee" in job.document
    os.close(write_end)
    loop.shutdown()
    os.close(read_end)


def test_reward_and_birthday_have_their_own_patterns():
    assert {"reward", "birthday"} <= set(SIGNALS)
    assert len({(p.beeps, p.led) for p in SIGNALS.values()}) == len(SIGNALS)


@pytest.mark.slow
def test_the_bridge_process_takes_an_nfc_tap_and_prints_the_reward_slip(
    init_info, settings, cli_env, tmp_path
):
    set_program([parse_tier("1:Free tea")], 90, actor="test")
    add_member("Anna", card_uid=UID, now=T0 - timedelta(days=1))
    tag = Type2TagEmulator()
    out = tmp_path / "printer.bin"
    env = {
        **cli_env,
        "STAMPBOX_NFC": f"udp:127.0.0.1:{tag.port}",
        "STAMPBOX_PRINTER": f"file:{out}",
        "STAMPBOX_SCANNERS": f"serial:{tmp_path / 'not-plugged-in'}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware_bridge"], env=env, cwd=ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        tag.place(bytes.fromhex(UID))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size):
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        tag.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "nfc: stamped" in err
    assert "looking for it every" in err  # the missing scanner did not stop the bridge
    (receipt,) = decode(ensure_emupos(), out.read_bytes(), tmp_path / "emupos")["receipts"]
    assert "Free tea" in receipt["text"] and "[qr V" in receipt["text"]
    assert (settings.data_dir / "slips" / "last.png").exists()
