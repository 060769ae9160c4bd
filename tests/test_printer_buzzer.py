"""Feedback through the receipt printer's buzzer: python-escpos' buzzer command (ESC B n t),
one distinct pattern per outcome, sent to real peers (a file, a loopback TCP printer port),
from taps through the real bridge loop."""

from __future__ import annotations

import os
import re
from datetime import timedelta

import pytest

from appliance.feedback import SIGNALS
from appliance.members import add_member
from appliance.vouchers import issue_voucher_sql
from firmware_bridge import FifoReader
from firmware_bridge.counter_loop import CounterLoop
from firmware_bridge.errors import DeviceConfigError
from firmware_bridge.feedback import FeedbackSet, LogFeedback
from firmware_bridge.main import build_feedback
from firmware_bridge.printer import build_printer
from firmware_bridge.printer_buzzer import BUZZES, PrinterBuzzer

from .conftest import T0
from .fixtures.tcp_sink import TcpSink

UID = "04A23B4C5D6E7F"
BUZZ = re.compile(rb"\x1bB([\x01-\x09])([\x01-\x09])")


def buzzes(data: bytes) -> list[tuple[int, int]]:
    """The ESC B n t commands in a byte stream, as (beeps, length) pairs."""
    return [(m[1][0], m[2][0]) for m in BUZZ.finditer(data)]


def test_every_outcome_has_its_own_buzz():
    assert set(BUZZES) == set(SIGNALS)
    assert len(set(BUZZES.values())) == len(BUZZES)
    assert all(1 <= n <= 9 and 1 <= t <= 9 for n, t in BUZZES.values())


def test_the_buzz_goes_to_a_file_printer_as_escpos_bytes(tmp_path):
    out = tmp_path / "printer.bin"
    buzzer = PrinterBuzzer(build_printer(f"file:{out}", 58))
    buzzer.open()
    for name in ("stamped", "cooldown", "reward", "birthday", "refused", "unknown"):
        buzzer.signal(name, SIGNALS[name])
    buzzer.drain()
    buzzer.close()
    assert out.read_bytes() == b"".join(
        b"\x1bB" + bytes(BUZZES[name])
        for name in ("stamped", "cooldown", "reward", "birthday", "refused", "unknown")
    )


@pytest.fixture
def sink():
    peer = TcpSink()
    yield peer
    peer.close()


@pytest.fixture
def counter(box, tmp_path, sink):
    """The bridge loop on a named pipe, its feedback the log and a network printer's buzzer."""
    printer = build_printer(f"tcp:127.0.0.1:{sink.port}", 80)
    feedback = build_feedback("log,printer", printer)
    feedback.open()
    loop = CounterLoop(FifoReader(tmp_path / "reader.fifo"), feedback, poll_seconds=0.2)
    loop.initialize()
    writer = os.open(tmp_path / "reader.fifo", os.O_WRONLY | os.O_NONBLOCK)

    def tap(token: str, at):
        os.write(writer, f"{token}\n".encode())
        result = loop.loop(now=at)
        feedback.outputs[1].drain()
        return result

    loop.tap = tap
    yield loop
    os.close(writer)
    loop.shutdown()
    feedback.close()


def test_each_outcome_at_the_counter_sounds_its_pattern_on_the_printer(box, counter, sink):
    member = add_member("Anna", card_uid=UID, now=T0 - timedelta(days=30))
    with box.db.atomic():
        issue_voucher_sql(
            box.db, box.code_key, member["id"], "birthday", "Birthday cake", T0,
            T0 + timedelta(days=30), "birthday:test",
        )  # fmt: skip
    other = add_member("Bea", card_uid="04B1C2D3E4F5A6", now=T0 - timedelta(days=30))
    outcomes = [
        (UID, T0, "stamped", "birthday"),  # a stamp with a birthday gift waiting
        (UID, T0 + timedelta(minutes=1), "cooldown", "birthday"),
        ("04B1C2D3E4F5A6", T0, "stamped", "stamped"),
        ("04FFFFFFFFFF01", T0, "unknown_card", "unknown"),
        ("08A1B2C3", T0, "refused", "refused"),  # a phone's random UID
    ]
    for token, at, status, _ in outcomes:
        assert counter.tap(token, at).status == status
    # a card filling up: nine stamps an hour apart, then the tenth unlocks the reward
    for hour in range(1, 10):
        result = counter.tap("04B1C2D3E4F5A6", T0 + timedelta(hours=hour))
    assert result.unlocked and other
    expected = [BUZZES[signal] for *_, signal in outcomes] + [BUZZES["stamped"]] * 8
    expected.append(BUZZES["reward"])
    assert buzzes(sink.data) == expected
    # one beep per connection, and nothing else was sent with it
    assert all(len(conn) == 4 for conn in sink.connections)


def test_a_printer_that_cannot_be_reached_never_stops_a_tap(box, tmp_path):
    from .fixtures.emupos_peer import free_port

    printer = build_printer(f"tcp:127.0.0.1:{free_port()}", 80)
    buzzer = PrinterBuzzer(printer)
    add_member("Anna", card_uid=UID, now=T0 - timedelta(days=30))
    loop = CounterLoop(FifoReader(tmp_path / "r.fifo"), buzzer, poll_seconds=0.2)
    loop.initialize()
    writer = os.open(tmp_path / "r.fifo", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(writer, f"{UID}\n".encode())
        assert loop.loop(now=T0).status == "stamped"
        buzzer.drain()
        assert buzzer.sent == []
    finally:
        os.close(writer)
        loop.shutdown()
        buzzer.close()


def test_a_beep_waits_for_the_slip_being_printed_but_not_for_ever(tmp_path):
    printer = build_printer(f"file:{tmp_path / 'p.bin'}", 80)
    buzzer = PrinterBuzzer(printer)
    with printer.lock:  # a long slip is being printed
        buzzer.signal("stamped", SIGNALS["stamped"])
        buzzer.drain(timeout=3)
    buzzer.close()
    assert buzzer.sent == [] and not (tmp_path / "p.bin").exists()


def test_the_feedback_setting_takes_several_outputs(tmp_path):
    printer = build_printer(f"file:{tmp_path / 'p.bin'}", 80)
    both = build_feedback("log, printer", printer)
    assert isinstance(both, FeedbackSet)
    assert [type(o) for o in both.outputs] == [LogFeedback, PrinterBuzzer]
    assert both.outputs[1].printer is printer
    for spec in ("preview", "none"):
        with pytest.raises(DeviceConfigError, match="no printer with a buzzer"):
            build_feedback("printer", build_printer(spec, 80))
