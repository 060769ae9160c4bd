"""The bridge loop against a real named pipe and a real database, one iteration at a time."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import pytest

from appliance.members import add_member
from appliance.models import CounterEvent, Member, Visit
from firmware_bridge import DeviceState, FifoReader, MemoryFeedback, StdinReader
from firmware_bridge.counter_loop import CounterLoop

from .conftest import T0

UID = "04A23B4C5D6E7F"


@pytest.fixture
def anna(box):
    return add_member("Anna", card_uid=UID, now=T0 - timedelta(days=30))


@pytest.fixture
def counter(box, tmp_path):
    """A counter loop on a real FIFO, with a writer end the test feeds, like `echo > fifo`."""
    loop = CounterLoop(FifoReader(tmp_path / "reader.fifo"), MemoryFeedback(), poll_seconds=0.2)
    loop.initialize()
    writer = os.open(tmp_path / "reader.fifo", os.O_WRONLY | os.O_NONBLOCK)
    loop.write = lambda data: os.write(writer, data)
    yield loop
    os.close(writer)
    loop.shutdown()


def stamps_of(member: dict) -> int:
    return Member.get_by_id(member["id"]).stamps


def test_a_uid_written_to_the_pipe_lands_a_stamp(counter, anna):
    counter.write(f"{UID}\n".encode())
    result = counter.loop(now=T0)
    assert result.status == "stamped"
    assert stamps_of(anna) == 1
    event = CounterEvent.get()
    assert (event.status, event.source, event.member_id) == ("stamped", "sim", anna["id"])
    assert counter.feedback.played == ["stamped"]


def test_an_idle_iteration_returns_nothing_and_changes_nothing(counter, anna):
    assert counter.loop(now=T0) is None
    assert CounterEvent.select().count() == 0
    assert counter.feedback.played == []


def test_a_card_left_on_the_reader_is_handled_once(counter, anna):
    for seconds in (0, 1.0, 2.0, 3.4):  # each sighting restarts the 1.5 s window
        counter.write(f"{UID}\n".encode())
        result = counter.loop(now=T0 + timedelta(seconds=seconds))
        assert (result is not None) == (seconds == 0)
    counter.write(f"{UID}\n".encode())
    again = counter.loop(now=T0 + timedelta(seconds=5))  # lifted off for 1.6 s, tapped again
    assert again.status == "cooldown"
    assert stamps_of(anna) == 1
    assert [e.status for e in CounterEvent.select().order_by(CounterEvent.id)] == [
        "stamped",
        "cooldown",
    ]


def test_another_card_in_between_ends_the_debounce(counter, anna, box):
    add_member("Ben", card_uid="04B23B4C5D6E7F", now=T0)
    for uid in (UID, "04B23B4C5D6E7F", UID):
        counter.write(f"{uid}\n".encode())
        assert counter.loop(now=T0) is not None


def test_garbage_and_overlong_lines_are_refused_and_the_loop_goes_on(counter, anna):
    counter.write(b"\xff\xfe\x00\x9bgarbage\x80\n")
    counter.write(b"\n")
    counter.write(b"A" * 5000 + b"\n")
    counter.write(b"\x1b[A\r\n")
    outcomes = [counter.loop(now=T0 + timedelta(seconds=i)) for i in range(4)]
    assert [r.status for r in outcomes] == ["refused"] * 4
    assert [r.reason for r in outcomes] == ["bad_token"] * 4
    assert "too long" in outcomes[2].message
    assert stamps_of(anna) == 0 and Visit.select().count() == 0
    assert counter.loop(now=T0 + timedelta(seconds=5)) is None  # the overlong tail was dropped
    counter.write(f"{UID}\n".encode())
    assert counter.loop(now=T0 + timedelta(seconds=6)).status == "stamped"
    assert counter.feedback.played == ["refused"] * 4 + ["stamped"]


def test_a_failing_counter_is_logged_and_the_loop_goes_on(counter, anna, box, caplog):
    # a really broken database, not a stand-in: the event log table is gone
    box.db.execute_sql("ALTER TABLE counter_event RENAME TO counter_event_away")
    counter.write(f"{UID}\n".encode())
    with caplog.at_level(logging.ERROR, logger="firmware_bridge"):
        assert counter.loop(now=T0) is None
    assert "the counter failed" in caplog.text and "counter_event" in caplog.text
    assert counter.feedback.played == ["error"]
    assert stamps_of(anna) == 0  # the tap's transaction rolled back whole
    box.db.execute_sql("ALTER TABLE counter_event_away RENAME TO counter_event")
    counter.write(f"{UID}\n".encode())
    assert counter.loop(now=T0 + timedelta(seconds=2)).status == "stamped"
    assert stamps_of(anna) == 1


def test_unknown_cards_and_vouchers_have_their_own_signal(counter, anna):
    counter.write(b"04C23B4C5D6E7F\n")
    result = counter.loop(now=T0)
    assert result.status == "unknown_card"
    assert counter.feedback.played == ["unknown"]


def test_a_reader_that_goes_away_is_reported_and_the_loop_survives(box, caplog):
    read_end, write_end = os.pipe()
    loop = CounterLoop(StdinReader(read_end), MemoryFeedback(), poll_seconds=0.05, retry_seconds=0)
    loop.initialize()
    os.close(read_end)  # the device vanishes under the reader
    with caplog.at_level(logging.WARNING, logger="firmware_bridge"):
        assert loop.loop(now=T0) is None
    assert loop.reader.state is DeviceState.LOST
    assert "read failed" in caplog.text
    assert loop.feedback.played == ["error"]
    assert loop.loop(now=T0) is None  # tries to reopen, fails quietly, stays lost
    assert loop.reader.state is DeviceState.LOST
    os.close(write_end)
    loop.shutdown()


def test_standard_input_ends_after_its_last_line(box, anna):
    read_end, write_end = os.pipe()
    os.write(write_end, f"{UID}".encode())  # no line end: the last line still counts
    os.close(write_end)
    loop = CounterLoop(StdinReader(read_end), MemoryFeedback(), poll_seconds=0.05)
    loop.initialize()
    assert loop.loop(now=T0).status == "stamped"
    assert loop.reader.state is DeviceState.ENDED
    assert loop.loop(now=T0) is None
    loop.shutdown()
    os.close(read_end)
