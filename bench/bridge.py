"""Time the bridge: device event to core result, and slip rendering.

    .venv/bin/python bench/bridge.py [--taps N] [--renders N] [--json]

- scanner: raw input_event records of a 14-character scan written into a pipe; timed from the
  write of the last record (the Enter key) to the moment the bridge loop calls
  counter.handle() ("to_core", the issue's 5 ms), and to its result ("to_result": plus the tap's
  transaction with its fsync).
- nfc: a Type 2 tag on nfcpy's udp radio (its own process), already on the reader; timed from
  the moment the reader reports the UID (NfcReader.detected_at, the device event) to handle()
  ("to_core"); the anticollision before it ("radio") and handle() itself ("core") are timed
  too, beside their floors run tap by tap in the same loop: bare UDP round trips with an echo
  process ("radio_floor") and a raw synchronous=FULL sqlite3 commit ("core_floor").
- slips: a voucher slip rendered to ESC/POS bytes (python-escpos) and to the PNG preview, 58
  and 80 mm.
Every tap is a real stamp in a temporary data folder (SQLite, WAL, synchronous=FULL), one
member per tap so none hits the cooldown.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

import firmware_bridge.counter_loop as counter_loop_mod  # noqa: E402
from appliance import box as box_mod  # noqa: E402
from appliance.db import SQLITE_PRAGMAS  # noqa: E402
from appliance.members import add_member  # noqa: E402
from appliance.provision import init_box  # noqa: E402
from appliance.receipts import voucher_receipt  # noqa: E402
from appliance.settings import load_settings  # noqa: E402
from firmware_bridge.counter_loop import CounterLoop  # noqa: E402
from firmware_bridge.feedback import MemoryFeedback  # noqa: E402
from firmware_bridge.hid_scanner import open_pipe_scanner  # noqa: E402
from firmware_bridge.nfc_reader import NfcReader  # noqa: E402
from firmware_bridge.slips import render_escpos, render_png  # noqa: E402
from tests.fixtures.type2_tag import uri_record  # noqa: E402
from tests.test_scanner_hid import keystrokes, letters  # noqa: E402

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
TARGET_MS = 5.0


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def summary(samples: list[float]) -> dict:
    ms = [s * 1000 for s in samples]
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 50), 3),
        "p99_ms": round(pct(ms, 99), 3),
        "max_ms": round(max(ms), 3),
    }


class CoreClock:
    """Wraps the bridge loop's handle() to note when a record reaches the core."""

    def __init__(self):
        self.entered = 0.0
        self._handle = counter_loop_mod.handle

    def __enter__(self):
        def timed(*args, **kwargs):
            self.entered = time.perf_counter()
            return self._handle(*args, **kwargs)

        counter_loop_mod.handle = timed
        return self

    def __exit__(self, *exc):
        counter_loop_mod.handle = self._handle


def uids(count: int, first: int) -> list[str]:
    return [f"04{first + n:012X}" for n in range(count)]


def bench_scanner(count: int) -> dict:
    read_end, write_end = os.pipe()
    loop = CounterLoop(open_pipe_scanner(read_end, "us"), MemoryFeedback(), poll_seconds=1.0)
    to_core, to_result = [], []
    clock = CoreClock()
    for n, uid in enumerate(uids(count, 0x100000)):
        add_member("", card_uid=uid, now=T0 - timedelta(days=1))
        burst = keystrokes(letters(uid), time.time())
        # the scan up to its Enter key (120 bytes: MSC, down, SYN, up, SYN) arrives and is
        # decoded first, as a scanner's keystrokes trickle in over some milliseconds
        os.write(write_end, burst[:-120])
        assert loop.reader.read(0.001) is None
        started = time.perf_counter()
        os.write(write_end, burst[-120:])
        with clock:
            result = loop.loop(now=T0 + timedelta(seconds=n))
        to_result.append(time.perf_counter() - started)
        to_core.append(clock.entered - started)
        assert result.status == "stamped", result.message
    os.close(write_end)
    os.close(read_end)
    return {"to_core": summary(to_core), "to_result": summary(to_result)}


class TagProcess:
    """The Type 2 tag in its own process, as a real card is not a thread of the bridge."""

    def __init__(self):
        script = ROOT / "tests" / "fixtures" / "type2_tag.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.port = int(self.proc.stdout.readline())

    def place(self, uid: str, ndef: bytes) -> None:
        self.proc.stdin.write(f"place {uid} {ndef.hex()}\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ok"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


class EchoProcess:
    """The radio's floor: a bare UDP echo in its own process, answering each datagram as the
    tag process does, without any ISO 14443 logic."""

    SCRIPT = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 0))\n"
        "print(s.getsockname()[1], flush=True)\n"
        "while True:\n"
        "    data, addr = s.recvfrom(1024)\n"
        "    if data == b'stop': break\n"
        "    s.sendto(data, addr)\n"
    )

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.SCRIPT], stdout=subprocess.PIPE, text=True
        )
        self.addr = ("127.0.0.1", int(self.proc.stdout.readline()))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def round_trips(self, count: int) -> float:
        """Seconds for `count` request/answer exchanges, one after the other."""
        started = time.perf_counter()
        for _ in range(count):
            self.sock.sendto(b"106A 26", self.addr)
            self.sock.recvfrom(1024)
        return time.perf_counter() - started

    def close(self) -> None:
        self.sock.sendto(b"stop", self.addr)
        self.proc.wait(10)
        self.sock.close()


class CommitFloor:
    """The core's floor: one raw sqlite3 transaction with the appliance's pragmas (WAL,
    synchronous=FULL) inserting one row, in the same data folder as the box."""

    def __init__(self, folder: Path):
        self.db = sqlite3.connect(folder / "floor.db", isolation_level=None)
        for name, value in SQLITE_PRAGMAS.items():
            self.db.execute(f"PRAGMA {name} = {value}")
        self.db.execute("CREATE TABLE IF NOT EXISTS tap (id INTEGER PRIMARY KEY, uid TEXT)")

    def commit(self, uid: str) -> float:
        started = time.perf_counter()
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO tap (uid) VALUES (?)", (uid,))
        self.db.execute("COMMIT")
        return time.perf_counter() - started


# exchanges of one anticollision of a 7-byte UID on nfcpy's udp radio: SENS, 2 x SDD, 2 x SEL
RADIO_EXCHANGES = 5


def bench_nfc(count: int, folder: Path) -> dict:
    tag = TagProcess()
    echo = EchoProcess()
    floor = CommitFloor(folder)
    reader = NfcReader(f"udp:127.0.0.1:{tag.port}")
    loop = CounterLoop(reader, MemoryFeedback(), poll_seconds=1)
    loop.initialize()
    samples: dict[str, list[float]] = {
        name: [] for name in ("to_core", "radio", "iteration_to_core", "core", "to_result")
    }
    radio_floor, core_floor = [], []
    clock = CoreClock()
    try:
        for n, uid in enumerate(uids(count, 0x200000)):
            add_member("", card_uid=uid, now=T0 - timedelta(days=1))
            tag.place(uid, uri_record("https://stampbox.local/c"))
            loop.reader._present = None  # the last card was lifted: re-armed (skips its 1 s)
            # the floors run tap by tap beside the real thing, so load lands on both
            radio_floor.append(echo.round_trips(RADIO_EXCHANGES))
            started = time.perf_counter()
            with clock:
                result = loop.loop(now=T0 + timedelta(seconds=n))
            finished = time.perf_counter()
            core_floor.append(floor.commit(uid))
            assert result is not None and result.status == "stamped", result
            samples["to_core"].append(clock.entered - reader.detected_at)
            samples["radio"].append(reader.detected_at - started)
            samples["iteration_to_core"].append(clock.entered - started)
            samples["core"].append(finished - clock.entered)
            samples["to_result"].append(finished - reader.detected_at)
    finally:
        loop.reader.close()
        tag.close()
        echo.close()
        floor.db.close()
    report = {name: summary(values) for name, values in samples.items()}
    report["radio_floor"] = summary(radio_floor)
    report["core_floor"] = summary(core_floor)
    return report


def bench_slips(count: int) -> dict:
    voucher = {
        "code": "VABCDEFGHJKMNPQR",
        "kind": "tier",
        "reward": "Free coffee",
        "valid_from": T0.isoformat(),
        "valid_until": (T0 + timedelta(days=90)).isoformat(),
    }
    slip = voucher_receipt(voucher, "Anna", now=T0, zone=UTC)
    out = {}
    for width in (58, 80):
        for name, render in (("escpos", render_escpos), ("png", render_png)):
            render(slip, width)  # warm caches (fonts)
            samples = []
            for _ in range(count):
                started = time.perf_counter()
                render(slip, width)
                samples.append(time.perf_counter() - started)
            out[f"{name}_{width}mm"] = summary(samples)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=400)
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={}, data_dir=Path(tmp) / "var", timezone="UTC")
        init_box(settings, now=T0)
        try:
            report = {
                "scanner": bench_scanner(args.taps),
                "nfc": bench_nfc(args.taps // 2, Path(tmp)),
                "slips": bench_slips(args.renders),
            }
        finally:
            box_mod.stop()
    report["target_ms"] = TARGET_MS
    report["target_met"] = all(
        report[kind]["to_core"]["p99_ms"] <= TARGET_MS for kind in ("scanner", "nfc")
    )
    if args.json:
        print(json.dumps(report))
    else:
        for section, rows in report.items():
            if isinstance(rows, dict):
                for name, figures in rows.items():
                    print(f"{section:8} {name:14} {figures}")
        print(f"device event to core p99 within {TARGET_MS} ms: {report['target_met']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
