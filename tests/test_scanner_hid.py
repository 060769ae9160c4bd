"""Keyboard-wedge scanners: raw `struct input_event` records written into a pipe are read by
evdev's own reader and decoded, per keyboard layout, into scans that reach the core."""

from __future__ import annotations

import os
import struct
import time
from datetime import timedelta

import pytest
from evdev import ecodes as e

from appliance.members import add_member
from appliance.models import Member
from firmware_bridge import MemoryFeedback
from firmware_bridge.counter_loop import CounterLoop
from firmware_bridge.hid_scanner import BURST_TIMEOUT, open_pipe_scanner

from .conftest import T0

SHIFT, ALTGR = e.KEY_LEFTSHIFT, e.KEY_RIGHTALT


def record(at: float, etype: int, code: int, value: int) -> bytes:
    sec = int(at)
    return struct.pack("llHHi", sec, int((at - sec) * 1e6), etype, code, value)


def keystrokes(keys, at: float, end=e.KEY_ENTER) -> bytes:
    """What a scanner sends: per key MSC_SCAN, key down, SYN, key up, SYN; modifiers around."""
    out = b""
    for item in [*keys, end] if end else keys:
        mods, key = (item[:-1], item[-1]) if isinstance(item, tuple) else ((), item)
        for mod in mods:
            out += record(at, e.EV_KEY, mod, 1)
        out += record(at, e.EV_MSC, e.MSC_SCAN, 0x70000 + key)
        out += record(at, e.EV_KEY, key, 1) + record(at, e.EV_SYN, 0, 0)
        out += record(at, e.EV_KEY, key, 0) + record(at, e.EV_SYN, 0, 0)
        for mod in mods:
            out += record(at, e.EV_KEY, mod, 0)
        at += 0.002
    return out


def letters(text: str, swap: dict[str, int] | None = None):
    swap = swap or {}
    keys = []
    for ch in text:
        key = swap.get(ch.lower(), getattr(e, f"KEY_{ch.upper()}"))
        keys.append((SHIFT, key) if ch.isupper() else key)
    return keys


K = e
# "https://Shop.example/v?id=AB-12_x" as a scanner set to US types it
US_URL = [
    *letters("https"), (SHIFT, K.KEY_SEMICOLON), K.KEY_SLASH, K.KEY_SLASH, *letters("Shop"),
    K.KEY_DOT, *letters("example"), K.KEY_SLASH, K.KEY_V, (SHIFT, K.KEY_SLASH), K.KEY_I, K.KEY_D,
    K.KEY_EQUAL, (SHIFT, K.KEY_A), (SHIFT, K.KEY_B), K.KEY_MINUS, K.KEY_1, K.KEY_2,
    (SHIFT, K.KEY_MINUS), K.KEY_X,
]  # fmt: skip
# the same text as a scanner set to German (QWERTZ) types it: other keys for every symbol
DE_URL = [
    *letters("https"), (SHIFT, K.KEY_DOT), (SHIFT, K.KEY_7), (SHIFT, K.KEY_7), *letters("Shop"),
    K.KEY_DOT, *letters("example", {"y": K.KEY_Z}), (SHIFT, K.KEY_7), K.KEY_V, (SHIFT, K.KEY_MINUS),
    K.KEY_I, K.KEY_D, (SHIFT, K.KEY_0), (SHIFT, K.KEY_A), (SHIFT, K.KEY_B), K.KEY_SLASH, K.KEY_1,
    K.KEY_2, (SHIFT, K.KEY_SLASH), K.KEY_X, (ALTGR, K.KEY_Q), K.KEY_Y,
]  # fmt: skip
# and as a scanner set to French (AZERTY) types "id=AB-12_x@z"
FR_TEXT = [
    K.KEY_I, K.KEY_D, K.KEY_EQUAL, (SHIFT, K.KEY_Q), (SHIFT, K.KEY_B), K.KEY_6, (SHIFT, K.KEY_1),
    (SHIFT, K.KEY_2), K.KEY_8, K.KEY_X, (ALTGR, K.KEY_0), K.KEY_W,
]  # fmt: skip


@pytest.fixture
def pipe():
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        try:
            os.close(fd)
        except OSError:
            pass


def scan(pipe, layout: str, keys, at: float | None = None, end=e.KEY_ENTER):
    read_end, write_end = pipe
    scanner = open_pipe_scanner(read_end, layout)
    os.write(write_end, keystrokes(keys, time.time() if at is None else at, end))
    return scanner, scanner.read(1.0)


def test_us_keystrokes_decode_to_the_scanned_text(pipe):
    _, text = scan(pipe, "us", US_URL)
    assert text == b"https://Shop.example/v?id=AB-12_x"


def test_german_keystrokes_need_the_german_table(pipe):
    scanner, text = scan(pipe, "de", DE_URL)
    assert text.decode() == "https://Shop.example/v?id=AB-12_x@z"
    # read as US, the German scanner's keystrokes garble every symbol
    us = open_pipe_scanner(*pipe[:1], "us")
    os.write(pipe[1], keystrokes(DE_URL, time.time()))
    # (US has no AltGr level: that key is unreadable, and the core refuses the scan)
    assert us.read(1.0).decode() == "https>&&Shop.example&v_id)AB/12?x\ufffdy"


def test_french_keystrokes_decode_with_the_french_table(pipe):
    _, text = scan(pipe, "fr", FR_TEXT)
    assert text.decode() == "id=AB-12_x@z"


def test_tab_also_ends_a_scan(pipe):
    _, text = scan(pipe, "us", letters("ABC"), end=e.KEY_TAB)
    assert text == b"ABC"


def test_a_burst_that_stops_half_way_is_dropped_and_the_next_scan_works(pipe):
    read_end, write_end = pipe
    scanner = open_pipe_scanner(read_end, "us")
    started = time.time()
    os.write(write_end, keystrokes(letters("04A23B"), started, end=None))  # no Enter
    os.write(write_end, keystrokes(letters("04C23B4C5D6E7F"), started + 2 * BURST_TIMEOUT))
    assert scanner.read(1.0) == b"04C23B4C5D6E7F"
    assert scanner.decoder.dropped == 1


def test_an_overlong_scan_is_cut_and_refused_by_the_core(box, pipe):
    read_end, write_end = pipe
    loop = CounterLoop(open_pipe_scanner(read_end, "us"), MemoryFeedback(), poll_seconds=0.5)
    # 530 keys: over the core's 512-character limit, and still within one pipe buffer
    os.write(write_end, keystrokes([e.KEY_A] * 530, time.time()))
    result = loop.loop(now=T0)
    assert (result.status, result.reason) == ("refused", "bad_token")
    assert "too long" in result.message


def test_a_scanned_card_reaches_the_core_through_the_bridge_loop(box, pipe):
    anna = add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0 - timedelta(days=1))
    read_end, write_end = pipe
    loop = CounterLoop(open_pipe_scanner(read_end, "us"), MemoryFeedback(), poll_seconds=0.5)
    os.write(write_end, keystrokes(letters("04A23B4C5D6E7F"), time.time()))
    assert loop.loop(now=T0).status == "stamped"
    assert Member.get_by_id(anna["id"]).stamps == 1
    assert loop.feedback.played == ["stamped"]


def test_a_runaway_scan_is_cut_at_the_line_limit():
    from firmware_bridge.hid_scanner import KeyDecoder

    decoder = KeyDecoder("us", max_len=1024)
    for n in range(5000):
        assert decoder.feed(e.EV_KEY, e.KEY_A, 1, n * 0.001) is None
    assert decoder.feed(e.EV_KEY, e.KEY_ENTER, 1, 5.0) == b"a" * 1024
