"""The serial feedback board: its line protocol on a pseudo-terminal, and a board that is
missing or unplugged never stops a tap."""

from __future__ import annotations

import os
import select
import tty

import pytest

from appliance.feedback import SIGNALS
from firmware_bridge.errors import DeviceConfigError
from firmware_bridge.feedback import LogFeedback
from firmware_bridge.feedback_board import SerialFeedback
from firmware_bridge.main import build_feedback


def read_lines(fd: int) -> list[str]:
    data = b""
    while select.select([fd], [], [], 0.5)[0]:
        chunk = os.read(fd, 4096)
        data += chunk
        if data.endswith(b"\n") and not select.select([fd], [], [], 0.05)[0]:
            break
    return data.decode().splitlines()


@pytest.fixture
def board():
    board_end, port_end = os.openpty()
    tty.setraw(port_end)
    tty.setraw(board_end)
    yield board_end, os.ttyname(port_end)
    for fd in (board_end, port_end):
        try:
            os.close(fd)
        except OSError:
            pass


def test_each_signal_is_one_play_line_on_the_board(board):
    feedback = SerialFeedback(board[1])
    feedback.open()
    assert read_lines(board[0]) == ["HELLO stampbox 1"]
    feedback.signal("reward", SIGNALS["reward"])
    feedback.signal("refused", SIGNALS["refused"])
    assert read_lines(board[0]) == [
        "PLAY reward blue 2700/80,3400/80,4000/200",
        "PLAY refused red 600/500",
    ]
    feedback.close()
    assert read_lines(board[0]) == ["OFF"]


def test_a_missing_board_is_skipped_quietly(tmp_path):
    feedback = SerialFeedback(str(tmp_path / "no-board"))
    feedback.signal("stamped", SIGNALS["stamped"])  # no exception: the tap goes on


def test_the_feedback_setting():
    assert isinstance(build_feedback("log"), LogFeedback)
    assert build_feedback("serial:/dev/ttyACM1").port == "/dev/ttyACM1"
    with pytest.raises(DeviceConfigError, match="use log, serial"):
        build_feedback("gpio:17")
    assert all(pattern.led for pattern in SIGNALS.values())


@pytest.mark.parametrize(("kind", "signal"), [("birthday", "birthday"), ("tier", "voucher")])
def test_scanning_a_birthday_voucher_sounds_the_birthday_pattern(box, tmp_path, kind, signal):
    """The gift's own pattern at the scan, as at the tap that found it; other vouchers beep
    as vouchers."""
    from datetime import timedelta

    from appliance.members import add_member
    from appliance.vouchers import issue_voucher_sql
    from firmware_bridge import FifoReader, MemoryFeedback
    from firmware_bridge.counter_loop import CounterLoop

    from .conftest import T0

    member = add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0 - timedelta(days=30))
    with box.db.atomic():
        voucher = issue_voucher_sql(
            box.db, box.code_key, member["id"], kind, "Cake", T0 - timedelta(days=1),
            T0 + timedelta(days=14), f"{kind}:{member['id']}",
        )  # fmt: skip
    loop = CounterLoop(FifoReader(tmp_path / "scan.fifo"), MemoryFeedback(), poll_seconds=0.2)
    loop.initialize()
    writer = os.open(tmp_path / "scan.fifo", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(writer, voucher["code"].replace("-", "").encode() + b"\n")
        assert loop.loop(now=T0).status == "voucher"
    finally:
        os.close(writer)
        loop.shutdown()
    assert loop.feedback.played == [signal]
