"""The device layer on its own: framing, the simulated readers, the devices setting, feedback."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.feedback import SIGNALS
from firmware_bridge import (
    DeviceConfigError,
    DeviceListener,
    DeviceNotFound,
    DeviceState,
    FifoReader,
    LineBuffer,
    LogFeedback,
    StdinReader,
    build_readers,
)

from .conftest import ROOT


def test_lines_end_at_cr_lf_or_crlf_even_across_chunks():
    lines = LineBuffer()
    assert lines.feed(b"AB\r") == [b"AB"]
    assert lines.feed(b"\nCD\nEF\rGH") == [b"CD", b"EF"]
    assert lines.feed(b"\r\n\n") == [b"GH", b""]  # a blank line is a record (an empty scan)
    assert lines.finish() == []


def test_an_overlong_line_is_cut_once_and_its_tail_dropped():
    lines = LineBuffer(max_line=8)
    assert lines.feed(b"0123456789") == [b"01234567"]
    assert lines.feed(b"abcdef" * 100) == []
    assert lines.feed(b"xyz\nOK\n") == [b"OK"]


def test_binary_bytes_frame_without_decoding():
    lines = LineBuffer()
    assert lines.feed(bytes(range(256))) == [bytes(range(10)), bytes(range(11, 13))]
    assert lines.finish() == [bytes(range(14, 256))]


def test_the_sim_reader_creates_its_pipe_and_reads_what_is_written(tmp_path):
    reader = FifoReader(tmp_path / "r.fifo")
    reader.open()
    try:
        assert reader.state is DeviceState.READY
        for _ in range(2):  # writers come and go without ending the input
            writer = os.open(tmp_path / "r.fifo", os.O_WRONLY)
            os.write(writer, b"04A23B4C5D6E7F\n")
            os.close(writer)
        assert reader.read(1.0) == b"04A23B4C5D6E7F"
        assert reader.read(1.0) == b"04A23B4C5D6E7F"
        assert reader.read(0.05) is None
        assert reader.state is DeviceState.READY
    finally:
        reader.close()
    assert reader.state is DeviceState.CLOSED


def test_the_sim_reader_refuses_a_path_that_is_not_a_pipe(tmp_path):
    (tmp_path / "plain").write_text("")
    with pytest.raises(DeviceNotFound, match="is not a named pipe"):
        FifoReader(tmp_path / "plain").open()
    with pytest.raises(DeviceNotFound, match="cannot create the pipe"):
        FifoReader(tmp_path / "missing" / "r.fifo").open()


def test_the_devices_setting_picks_the_drivers(tmp_path):
    sim, other, stdin = build_readers("sim, sim:/run/x.fifo ,stdin", tmp_path)
    assert (type(sim), sim.path, sim.name) == (FifoReader, tmp_path / "sim-reader.fifo", "sim")
    assert (other.path, other.name) == (Path("/run/x.fifo"), "sim-2")
    assert (type(stdin), stdin.name) == (StdinReader, "stdin")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "empty"),
        ("usb:072f:2200", "go in the nfc setting"),
        ("tty:USB0:pn532", "go in the nfc setting"),
        ("bogus", "unknown device driver 'bogus'; use one of: sim, stdin"),
        ("stdin:x", "takes no arguments"),
        ("sim,sim", "named twice"),
    ],
)
def test_a_bad_devices_setting_says_what_is_wrong(tmp_path, spec, message):
    with pytest.raises(DeviceConfigError, match=message):
        build_readers(spec, tmp_path)


def test_a_failing_listener_is_logged_and_never_propagated(tmp_path, caplog):
    seen = []

    class Broken(DeviceListener):
        def on_state(self, device, old, new):
            raise RuntimeError("listener bug")

    class Recording(DeviceListener):
        def on_state(self, device, old, new):
            seen.append(new)

    reader = FifoReader(tmp_path / "r.fifo")
    reader.add_listener(Broken())
    reader.add_listener(Recording())
    with caplog.at_level(logging.ERROR):
        reader.open()
        reader.close()
    assert seen == [DeviceState.OPENING, DeviceState.READY, DeviceState.CLOSED]
    assert "listener bug" in caplog.text


def test_every_signal_has_a_distinct_pattern(caplog):
    assert {"stamped", "cooldown", "voucher", "unknown", "refused", "error"} <= set(SIGNALS)
    assert len({(p.beeps, p.led) for p in SIGNALS.values()}) == len(SIGNALS)
    with caplog.at_level(logging.INFO):
        LogFeedback().signal("stamped", SIGNALS["stamped"])
    assert "feedback stamped: 1 beep(s)" in caplog.text and "LED green" in caplog.text


def test_the_device_layer_does_not_import_the_core():
    code = "import sys, firmware_bridge; print('appliance' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
