"""nfcpy's real PN532 driver, on a pseudo-terminal with a PN532 simulator at the other end:
the serial reader of a Pi (tty:AMA0:pn532) without the Pi."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from appliance.members import add_member
from appliance.models import CounterEvent, Member
from firmware_bridge import DeviceState, MemoryFeedback
from firmware_bridge.counter_loop import CounterLoop
from firmware_bridge.nfc_reader import NfcReader

from .conftest import T0
from .fixtures.pn532_sim import Pn532Simulator
from .fixtures.type2_tag import uri_record

UID = bytes.fromhex("04A23B4C5D6E7F")


def plugged(link) -> Pn532Simulator:
    """A PN532 at the stable name `link` (as /dev/serial/by-id/... is for a USB-serial one)."""
    sim = Pn532Simulator()
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(sim.path, link)
    return sim


@pytest.fixture
def link(tmp_path):
    return tmp_path / "ttyNFC"


@pytest.fixture
def counter(box, link):
    sims = [plugged(link)]
    loop = CounterLoop(
        NfcReader(f"pn532:{link}"), MemoryFeedback(), poll_seconds=0.1, retry_seconds=0
    )
    loop.initialize()
    loop.sims = sims
    yield loop
    loop.shutdown()
    for sim in loop.sims:
        sim.close()


def test_the_driver_checks_the_firmware_and_the_line_before_use(counter):
    sim = counter.sims[0]
    assert sim.commands[:4] == [0x02, 0x14, 0x10, 0x00]  # version, SAM, baud rate, diagnose
    assert counter.reader.state is DeviceState.READY


def test_a_tap_on_the_pn532_lands_a_stamp_once_per_presence(counter):
    sim = counter.sims[0]
    anna = add_member("Anna", card_uid=UID.hex(), now=T0 - timedelta(days=1))
    assert counter.loop(now=T0) is None  # nothing on the reader
    sim.place(UID, uri_record("https://stampbox.local/c/CAAAA"))
    assert counter.loop(now=T0).status == "stamped"
    assert 0x4A in sim.commands  # found by InListPassiveTarget
    for minutes in (1, 2):
        assert counter.loop(now=T0 + timedelta(minutes=minutes)) is None
    assert counter.reader.last_ndef == [("urn:nfc:wkt:U", "https://stampbox.local/c/CAAAA")]
    assert 0x42 in sim.commands  # NDEF read with InCommunicateThru
    sim.remove()
    assert counter.loop(now=T0 + timedelta(minutes=3)) is None
    sim.place(UID)
    assert counter.loop(now=T0 + timedelta(minutes=45)).status == "stamped"
    assert Member.get_by_id(anna["id"]).stamps == 2
    assert CounterEvent.select().count() == 2


def test_a_reader_unplugged_mid_read_is_picked_up_again(counter, link):
    add_member("Anna", card_uid=UID.hex(), now=T0 - timedelta(days=1))
    counter.sims[0].close()  # unplugged
    os.unlink(link)
    assert counter.loop(now=T0) is None
    assert counter.reader.state is DeviceState.LOST
    assert counter.feedback.played == ["error"]
    assert counter.loop(now=T0) is None  # still gone
    sim = plugged(link)  # plugged back in
    counter.sims.append(sim)
    assert counter.loop(now=T0) is None
    assert counter.reader.state is DeviceState.READY
    sim.place(UID)
    assert counter.loop(now=T0).status == "stamped"
