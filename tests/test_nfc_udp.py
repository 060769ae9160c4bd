"""NFC through nfcpy's own `udp` simulated radio and a small Type 2 tag on the other end:
taps reach the core through the bridge loop, one per presence."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from appliance.members import add_member
from appliance.models import Card, CounterEvent, Member
from firmware_bridge import DeviceState, MemoryFeedback
from firmware_bridge.counter_loop import CounterLoop
from firmware_bridge.drivers import build_nfc
from firmware_bridge.errors import DeviceConfigError
from firmware_bridge.nfc_reader import NfcReader

from .conftest import T0
from .fixtures.type2_tag import Type2TagEmulator, uri_record

UID = bytes.fromhex("04A23B4C5D6E7F")


@pytest.fixture
def tag():
    emulator = Type2TagEmulator()
    yield emulator
    emulator.close()


@pytest.fixture
def counter(box, tag):
    loop = CounterLoop(
        NfcReader(f"udp:127.0.0.1:{tag.port}"), MemoryFeedback(), poll_seconds=0.1, retry_seconds=0
    )
    loop.initialize()
    yield loop
    loop.shutdown()


def test_a_card_tap_reaches_the_core_with_its_uid_and_ndef(counter, tag):
    anna = add_member("Anna", card_uid=UID.hex(), now=T0 - timedelta(days=1))
    tag.place(UID, uri_record("https://stampbox.local/c/CAAAA"))
    before = time.perf_counter()
    result = counter.loop(now=T0)
    assert result.status == "stamped"
    # the device event's moment, from which bench/bridge.py times the way to the core
    assert before < counter.reader.detected_at < time.perf_counter()
    assert Member.get_by_id(anna["id"]).stamps == 1
    assert CounterEvent.get().source == "nfc"
    assert counter.loop(now=T0) is None  # still on the reader: its NDEF is read now
    assert counter.reader.last_ndef == [("urn:nfc:wkt:U", "https://stampbox.local/c/CAAAA")]
    assert counter.feedback.played == ["stamped"]


def test_a_card_left_on_the_reader_counts_once_and_rearms_when_lifted(counter, tag):
    add_member("Anna", card_uid=UID.hex(), now=T0 - timedelta(days=1))
    tag.place(UID)
    assert counter.loop(now=T0).status == "stamped"
    assert counter.loop(now=T0) is None  # the NDEF read, once
    reads = tag.reads
    for seconds in range(1, 4):  # resting on the reader: presence checks, no new events
        assert counter.loop(now=T0 + timedelta(minutes=seconds)) is None
    assert tag.reads == reads  # presence is checked by anticollision, not by reading again
    tag.remove()
    assert counter.loop(now=T0 + timedelta(minutes=5)) is None  # lifted: re-armed
    tag.place(UID)
    again = counter.loop(now=T0 + timedelta(minutes=40))
    assert again.status == "stamped"  # a new presence is a new tap (cooldown is 30 min)
    assert CounterEvent.select().count() == 2


@pytest.mark.parametrize("uid", ["5A3B2C1D", "04A23B4C5D6E7F", "04112233445566778899"])
def test_uids_of_4_7_and_10_bytes_are_read_whole(counter, tag, uid):
    tag.place(bytes.fromhex(uid))
    result = counter.loop(now=T0)
    assert result.status == "unknown_card"
    assert result.enrol == {"nfc_uid": uid}


def test_a_phone_with_a_random_uid_is_refused_and_never_enrolled(counter, tag):
    tag.place(bytes.fromhex("08C0FFEE"))
    result = counter.loop(now=T0)
    assert (result.status, result.reason) == ("refused", "random_uid")
    assert "phone or bank card" in result.message
    assert Card.select().count() == 0
    assert counter.feedback.played == ["refused"]


def test_a_reader_that_vanishes_mid_read_is_lost_then_reopened(counter, tag):
    add_member("Anna", card_uid=UID.hex(), now=T0 - timedelta(days=1))
    counter.reader.clf.device.socket.close()  # the radio goes away under the reader
    tag.place(UID)
    assert counter.loop(now=T0) is None
    assert counter.reader.state is DeviceState.LOST
    assert counter.feedback.played == ["error"]
    assert counter.loop(now=T0) is None  # reopens (retry_seconds=0)
    assert counter.reader.state is DeviceState.READY
    assert counter.loop(now=T0).status == "stamped"


def test_the_nfc_setting_picks_nfcpy_paths():
    assert build_nfc("none") is None and build_nfc("") is None
    assert build_nfc("udp:127.0.0.1:54321").path == "udp:127.0.0.1:54321"
    assert build_nfc("tty:AMA0:pn532").path == "tty:AMA0:pn532"
    with pytest.raises(DeviceConfigError, match="use usb"):
        build_nfc("bluetooth")
