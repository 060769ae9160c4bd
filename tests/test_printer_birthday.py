"""A birthday gift's slip: queued at the first tap that finds the gift waiting, marked as a
birthday gift, printed once however often the member taps."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
from PIL import Image

from appliance import printer_status, printing
from appliance.members import add_member
from appliance.models import PrintJob
from appliance.receipts import Receipt, printer_test_receipt
from appliance.vouchers import issue_voucher_sql
from firmware_bridge import FifoReader, MemoryFeedback
from firmware_bridge.counter_loop import CounterLoop
from firmware_bridge.print_loop import PrintLoop
from firmware_bridge.printer import build_printer

from .conftest import T0
from .fixtures.emupos_peer import decode, ensure_emupos
from .test_receipts_escpos import read_codes

UID = "04A23B4C5D6E7F"


@pytest.fixture
def gift(box):
    member = add_member("Anna", card_uid=UID, now=T0 - timedelta(days=30))
    with box.db.atomic():
        voucher = issue_voucher_sql(
            box.db, box.code_key, member["id"], "birthday", "Birthday cake", T0 - timedelta(days=1),
            T0 + timedelta(days=14), f"birthday:{member['id']}:2026",
        )  # fmt: skip
    return voucher


@pytest.fixture
def counter(box, tmp_path):
    loop = CounterLoop(FifoReader(tmp_path / "reader.fifo"), MemoryFeedback(), poll_seconds=0.2)
    loop.initialize()
    writer = os.open(tmp_path / "reader.fifo", os.O_WRONLY | os.O_NONBLOCK)

    def tap(token: str, at):
        os.write(writer, f"{token}\n".encode())
        return loop.loop(now=at)

    loop.tap = tap
    yield loop
    os.close(writer)
    loop.shutdown()


def test_the_first_tap_with_a_gift_waiting_prints_its_slip_once(box, gift, counter, tmp_path):
    assert counter.tap(UID, T0).birthday["code"] == gift["code"]
    assert counter.tap(UID, T0 + timedelta(minutes=1)).status == "cooldown"
    assert counter.tap(UID, T0 + timedelta(hours=2)).status == "stamped"
    assert counter.feedback.played == ["birthday"] * 3
    (job,) = PrintJob.select()
    slip = Receipt.from_dict(json.loads(job.document))
    assert (slip.kind, slip.title) == ("birthday", "Birthday gift")
    out = tmp_path / "lp0"
    loop = PrintLoop(build_printer(f"file:{out}", 80), printer_status.preview_dir(box.settings))
    loop.initialize()
    assert loop.loop(now=T0) == "printed"
    (receipt,) = decode(ensure_emupos(), out.read_bytes(), tmp_path / "emupos")["receipts"]
    assert "Birthday gift" in receipt["text"] and "Happy birthday, Anna!" in receipt["text"]
    assert "Birthday cake" in receipt["text"]
    assert read_codes(Image.open(receipt["png"]))["QRCode"] == gift["code"].replace("-", "")


def test_a_tap_without_a_gift_queues_no_slip(box, counter):
    add_member("Bea", card_uid="04B1C2D3E4F5A6", now=T0 - timedelta(days=30))
    assert counter.tap("04B1C2D3E4F5A6", T0).status == "stamped"
    assert PrintJob.select().count() == 0


def test_a_source_key_queues_a_slip_once_and_others_are_not_limited(box):
    with box.db.atomic():
        first = printing.enqueue(printer_test_receipt(now=T0), now=T0, source_key="once")
        again = printing.enqueue(printer_test_receipt(now=T0), now=T0, source_key="once")
        plain = [printing.enqueue(printer_test_receipt(now=T0), now=T0) for _ in range(2)]
    assert first is not None and again is None and None not in plain
    assert PrintJob.select().count() == 3
