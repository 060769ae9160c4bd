"""Serial (USB-CDC) scanners on a pseudo-terminal: CR/LF lines, garbage, a vanishing port."""

from __future__ import annotations

import os
import tty
from datetime import timedelta

import pytest

from appliance.members import add_member
from firmware_bridge import DeviceState, MemoryFeedback
from firmware_bridge.counter_loop import CounterLoop
from firmware_bridge.drivers import build_scanners
from firmware_bridge.errors import DeviceConfigError
from firmware_bridge.hid_scanner import HidScanner
from firmware_bridge.serial_scanner import SerialScanner

from .conftest import T0

UID = "04A23B4C5D6E7F"


@pytest.fixture
def pty():
    """(the scanner's end, the port the bridge opens by name)."""
    scanner_end, port_end = os.openpty()
    tty.setraw(port_end)
    yield scanner_end, os.ttyname(port_end)
    for fd in (scanner_end, port_end):
        try:
            os.close(fd)
        except OSError:
            pass


@pytest.fixture
def counter(box, pty):
    loop = CounterLoop(SerialScanner(pty[1]), MemoryFeedback(), poll_seconds=0.5, retry_seconds=0)
    loop.initialize()
    yield loop
    loop.shutdown()


def test_cr_and_lf_terminated_scans_reach_the_core(counter, pty):
    add_member("Anna", card_uid=UID, now=T0 - timedelta(days=1))
    os.write(pty[0], f"{UID}\r".encode())
    assert counter.loop(now=T0).status == "stamped"
    os.write(pty[0], b"04C23B4C5D6E7F\r\n")
    assert counter.loop(now=T0).status == "unknown_card"


def test_garbage_on_the_line_is_refused_and_the_next_scan_works(counter, pty):
    add_member("Anna", card_uid=UID, now=T0 - timedelta(days=1))
    os.write(pty[0], b"\x00\xff\x1b[2J noise\r\n")
    assert counter.loop(now=T0).status == "refused"
    os.write(pty[0], f"{UID}\n".encode())
    assert counter.loop(now=T0).status == "stamped"
    assert counter.feedback.played == ["refused", "stamped"]


def test_a_port_that_vanishes_is_lost_and_the_bridge_carries_on(counter, pty):
    os.close(pty[0])  # the scanner is unplugged: the port hangs up
    assert counter.loop(now=T0) is None
    assert counter.reader.state is DeviceState.LOST
    assert counter.feedback.played == ["error"]


def test_the_scanners_setting_builds_serial_and_hid_scanners():
    serial, hid, named = build_scanners("serial:/dev/ttyACM0, /dev/input/event3, hid:*Scanner*")
    assert (type(serial), serial.port, serial.name) == (SerialScanner, "/dev/ttyACM0", "scanner")
    assert (type(hid), hid.where, hid.name) == (HidScanner, "/dev/input/event3", "scanner-2")
    assert (named.where, named.name) == ("*Scanner*", "scanner-3")
    assert build_scanners("") == []
    with pytest.raises(DeviceConfigError, match="use serial:"):
        build_scanners("bluetooth:xx")
