"""The serial feedback board: its line protocol on a pseudo-terminal, and a board that is
missing or unplugged never stops a tap."""

from __future__ import annotations

import os
import select
import tty

import pytest

from firmware_bridge.errors import DeviceConfigError
from firmware_bridge.feedback import SIGNALS, LogFeedback
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
    feedback.signal("reward")
    feedback.signal("refused")
    assert read_lines(board[0]) == [
        "PLAY reward blue 2700/80,3400/80,4000/200",
        "PLAY refused red 600/500",
    ]
    feedback.close()
    assert read_lines(board[0]) == ["OFF"]


def test_a_missing_board_is_skipped_quietly(tmp_path):
    feedback = SerialFeedback(str(tmp_path / "no-board"))
    feedback.signal("stamped")  # no exception: the tap goes on


def test_the_feedback_setting():
    assert isinstance(build_feedback("log"), LogFeedback)
    assert build_feedback("serial:/dev/ttyACM1").port == "/dev/ttyACM1"
    with pytest.raises(DeviceConfigError, match="use log, serial"):
        build_feedback("gpio:17")
    assert all(pattern.led for pattern in SIGNALS.values())
