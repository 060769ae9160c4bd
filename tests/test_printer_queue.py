"""The durable print queue against a real ESC/POS peer: emupos on TCP, with paper-out injected.

Never lost (a slip waits through paper-out and an unreachable printer) and never twice.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from appliance import printer_status, printing
from appliance.device_health import device_health
from appliance.members import add_member
from appliance.models import PrintJob
from appliance.receipts import printer_test_receipt, voucher_receipt_for_code
from appliance.vouchers import issue_voucher_sql
from firmware_bridge.print_loop import PrintLoop
from firmware_bridge.printer import build_printer

from .conftest import T0
from .fixtures.emupos_peer import EmuposDaemon, ensure_emupos


@pytest.fixture(scope="session")
def emupos_python():
    return ensure_emupos()


@pytest.fixture
def emupos(emupos_python, tmp_path):
    daemon = EmuposDaemon(emupos_python, tmp_path / "emupos")
    yield daemon
    daemon.stop()


@pytest.fixture
def voucher_code(box):
    member = add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    with box.db.atomic():
        voucher = issue_voucher_sql(
            box.db,
            box.code_key,
            member["id"],
            "tier",
            "Free coffee",
            T0,
            T0 + timedelta(days=90),
            "tier:test",
        )
    return voucher["code"]


def loop_for(printer_spec: str, box) -> PrintLoop:
    loop = PrintLoop(
        build_printer(printer_spec, 80),
        printer_status.preview_dir(box.settings),
        poll_seconds=0,
        retry_seconds=0,
    )
    loop.initialize()
    return loop


def wait_receipts(emupos, count: int) -> list[dict]:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        receipts = emupos.receipts()
        if len(receipts) >= count:
            return receipts
        time.sleep(0.05)
    return emupos.receipts()


def test_a_slip_waits_through_paper_out_and_prints_once_after(box, emupos, voucher_code):
    job = printing.enqueue(voucher_receipt_for_code(voucher_code, now=T0), now=T0)
    loop = loop_for(f"tcp:127.0.0.1:{emupos.port}", box)
    emupos.fault("paper-out", True)
    for _ in range(3):
        assert loop.loop(now=T0) == "paper_out"
    assert PrintJob.get_by_id(job).state == "pending"
    assert [h["state"] for h in device_health()] == ["paper_out"]
    assert printing.queue_status()["counts"]["pending"] == 1
    emupos.fault("paper-out", False)
    assert loop.loop(now=T0) == "printed"
    assert loop.loop(now=T0) is None  # nothing left: it is not printed twice
    (receipt,) = wait_receipts(emupos, 1)
    text = emupos.receipt_text(receipt["id"])
    assert voucher_code in text and "Free coffee" in text
    assert emupos.receipts() == [receipt]
    row = PrintJob.get_by_id(job)
    assert (row.state, row.attempts) == ("printed", 1)
    assert [h["state"] for h in device_health()] == ["ready"]
    assert printer_status.last_slip_path(box.settings).exists()


def test_cover_open_also_holds_the_queue(box, emupos):
    job = printing.enqueue(printer_test_receipt(now=T0), now=T0)
    loop = loop_for(f"tcp:127.0.0.1:{emupos.port}", box)
    emupos.fault("cover-open", True)
    assert loop.loop(now=T0) == "offline"
    emupos.fault("cover-open", False)
    assert loop.loop(now=T0) == "printed"
    assert PrintJob.get_by_id(job).state == "printed"
    assert len(wait_receipts(emupos, 1)) == 1


def test_an_unreachable_printer_keeps_the_slip_until_it_is_back(box, emupos_python, tmp_path):
    from .fixtures.emupos_peer import free_port

    port = free_port()  # nobody listens here yet
    job = printing.enqueue(printer_test_receipt(now=T0), now=T0)
    loop = loop_for(f"tcp:127.0.0.1:{port}", box)
    assert loop.loop(now=T0) == "absent"
    assert PrintJob.get_by_id(job).state == "pending"
    daemon = EmuposDaemon(emupos_python, tmp_path / "late")
    try:
        loop.printer = build_printer(f"tcp:127.0.0.1:{daemon.port}", 80)
        assert loop.loop(now=T0) == "printed"
        assert len(wait_receipts(daemon, 1)) == 1
    finally:
        daemon.stop()


def test_a_job_is_claimed_by_one_claimer_only(box):
    for _ in range(20):
        printing.enqueue(printer_test_receipt(now=T0), now=T0)
    claimed: list[int] = []

    def claim():
        from appliance import box as box_mod

        while (job := printing.claim_next(box=box_mod.current())) is not None:
            claimed.append(job.id)
        box.db.close()

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == list(range(1, 21))


def test_a_job_interrupted_mid_print_is_marked_unsure_not_reprinted(box):
    job = printing.enqueue(printer_test_receipt(now=T0), now=T0)
    assert printing.claim_next().id == job
    # the bridge dies here; the next start finds the job half-done
    loop = loop_for("preview", box)
    assert PrintJob.get_by_id(job).state == "unsure"
    assert loop.loop(now=T0) is None
    copy = printing.reprint(job, now=T0)
    assert loop.loop(now=T0) == "printed"
    assert PrintJob.get_by_id(copy).state == "printed"


def test_the_file_printer_appends_each_slip(box, tmp_path):
    out = tmp_path / "slips.bin"
    loop = loop_for(f"file:{out}", box)
    for _ in range(2):
        printing.enqueue(printer_test_receipt(now=T0), now=T0)
        assert loop.loop(now=T0) == "printed"
    assert out.read_bytes().count(b"\x1dV") == 2  # two cuts: two whole slips


def test_an_unprintable_document_fails_visibly_and_the_queue_goes_on(box):
    bad = PrintJob.create(created_at=T0, document='{"kind": "x", "blocks": [{"kind": "?"}]}')
    good = printing.enqueue(printer_test_receipt(now=T0), now=T0)
    loop = loop_for("preview", box)
    assert loop.loop(now=T0) == "printed"
    assert PrintJob.get_by_id(bad.id).state == "failed"
    assert "unreadable slip" in PrintJob.get_by_id(bad.id).last_error
    assert PrintJob.get_by_id(good).state == "printed"
