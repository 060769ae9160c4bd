"""Every printer transport against a real peer: serial through a pseudo-terminal that emupos
itself holds, raw TCP (port 9100) into a loopback server whose bytes emupos decodes, a file;
USB without hardware: its address, a clear error, a bridge that keeps running. 58 and 80 mm."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from PIL import Image

from appliance import printer_status, printing
from appliance.counter import handle
from appliance.device_health import device_health
from appliance.members import add_member
from appliance.models import PrintJob
from appliance.receipts import printer_test_receipt, voucher_receipt_for_code
from appliance.vouchers import issue_voucher_sql
from firmware_bridge.errors import DeviceConfigError, DeviceLost
from firmware_bridge.main import start_bridge
from firmware_bridge.print_loop import PrintLoop
from firmware_bridge.printer import EscposPrinter, PrinterStatus, build_printer

from .conftest import T0
from .fixtures.emupos_peer import EmuposDaemon, decode, ensure_emupos
from .fixtures.tcp_sink import TcpSink
from .test_receipts_escpos import read_codes

DOTS = {58: 384, 80: 576}


@pytest.fixture(scope="session")
def emupos_python():
    return ensure_emupos()


@pytest.fixture
def voucher_code(box):
    member = add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    with box.db.atomic():
        voucher = issue_voucher_sql(
            box.db, box.code_key, member["id"], "tier", "Free coffee", T0,
            T0 + timedelta(days=90), "tier:test",
        )  # fmt: skip
    return voucher["code"]


def loop_for(spec: str, width: int, box) -> PrintLoop:
    loop = PrintLoop(
        build_printer(spec, width), printer_status.preview_dir(box.settings), poll_seconds=0,
        retry_seconds=0,
    )  # fmt: skip
    loop.initialize()
    return loop


def wait_receipts(daemon: EmuposDaemon, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(daemon.receipts()) < count:
        time.sleep(0.05)
    return daemon.receipts()


@pytest.mark.parametrize("width", [58, 80])
def test_a_serial_printer_on_a_pseudo_terminal_prints_the_voucher(
    box, emupos_python, tmp_path, voucher_code, width
):
    daemon = EmuposDaemon(emupos_python, tmp_path / "emupos", width, serial=True)
    try:
        job = printing.enqueue(voucher_receipt_for_code(voucher_code, now=T0), now=T0)
        loop = loop_for(f"serial:{daemon.serial_path}?baudrate=19200", width, box)
        assert loop.loop(now=T0) == "printed"
        (receipt,) = wait_receipts(daemon, 1)
        text = daemon.receipt_text(receipt["id"])
        assert "Free coffee" in text and f"[qr {voucher_code.replace('-', '')}]" in text
        assert PrintJob.get_by_id(job).state == "printed"
    finally:
        daemon.stop()


def test_paper_out_on_a_serial_printer_holds_the_slip_until_it_is_back(
    box, emupos_python, tmp_path, voucher_code
):
    daemon = EmuposDaemon(emupos_python, tmp_path / "emupos", 80, serial=True)
    try:
        job = printing.enqueue(voucher_receipt_for_code(voucher_code, now=T0), now=T0)
        loop = loop_for(f"serial:{daemon.serial_path}", 80, box)
        daemon.fault("paper-out", True)
        assert loop.loop(now=T0) == "paper_out"
        assert loop.loop(now=T0) == "paper_out"
        assert PrintJob.get_by_id(job).state == "pending"
        daemon.fault("paper-out", False)
        assert loop.loop(now=T0) == "printed"
        assert loop.loop(now=T0) is None
        assert len(wait_receipts(daemon, 1)) == 1
    finally:
        daemon.stop()


@pytest.mark.parametrize("width", [58, 80])
def test_a_network_printer_gets_the_slip_on_port_9100_and_its_qr_redeems(
    box, emupos_python, tmp_path, voucher_code, width
):
    sink = TcpSink()
    try:
        printing.enqueue(voucher_receipt_for_code(voucher_code, now=T0), now=T0)
        assert loop_for(f"tcp:127.0.0.1:{sink.port}", width, box).loop(now=T0) == "printed"
        deadline = time.monotonic() + 5
        while b"\x1dV" not in sink.data and time.monotonic() < deadline:
            time.sleep(0.02)  # the last bytes may still be on their way to the peer
        data = sink.data
    finally:
        sink.close()
    # the status requests (DLE EOT) came first, on their own connection
    assert sink.connections[0].startswith(b"\x10\x04")
    slip = next(conn for conn in sink.connections if b"\x1dV" in conn)
    assert slip.count(b"\x1dV") == 1 and data.endswith(slip)
    decoded = decode(emupos_python, slip, tmp_path / "decoded", width)
    assert decoded["unknown"] == []
    (receipt,) = decoded["receipts"]
    assert receipt["width"] == DOTS[width]
    assert "Free coffee" in receipt["text"]
    assert read_codes(Image.open(receipt["png"]))["QRCode"] == voucher_code.replace("-", "")
    assert handle(voucher_code, "scanner", now=T0 + timedelta(hours=1)).status == "voucher"


@pytest.mark.parametrize("width", [58, 80])
def test_a_file_printer_appends_bytes_emupos_reads_back(
    box, emupos_python, tmp_path, voucher_code, width
):
    out = tmp_path / "lp0"
    loop = loop_for(f"file:{out}", width, box)
    printing.enqueue(voucher_receipt_for_code(voucher_code, now=T0), now=T0)
    assert loop.loop(now=T0) == "printed"
    decoded = decode(emupos_python, out.read_bytes(), tmp_path / "decoded", width)
    (receipt,) = decoded["receipts"]
    assert receipt["width"] == DOTS[width] and voucher_code in receipt["text"].replace(" ", "")


def test_a_usb_address_is_vendor_and_product_in_hex():
    printer = build_printer("usb:04b8:0202", 58)
    assert isinstance(printer, EscposPrinter) and printer.width_mm == 58
    assert printer.where == "USB 04b8:0202"
    for bad in ("usb:", "usb:04b8", "usb:zz:0202", "usb:04b8:0202:1"):
        with pytest.raises(DeviceConfigError, match="usb:VID:PID in hex"):
            build_printer(bad, 80)


def test_an_absent_usb_printer_is_reported_and_its_slip_waits(box, voucher_code):
    job = printing.enqueue(voucher_receipt_for_code(voucher_code, now=T0), now=T0)
    loop = loop_for("usb:04b8:0202", 80, box)
    assert loop.printer.status() is PrinterStatus.ABSENT
    assert loop.loop(now=T0) == "absent"
    assert PrintJob.get_by_id(job).state == "pending"
    (health,) = device_health()
    assert health["state"] == "absent"
    assert "cannot be reached" in health["detail"]


def test_the_bridge_starts_and_keeps_running_with_an_absent_usb_printer(settings, init_info):
    import dataclasses

    from appliance import box as box_mod

    bridge = start_bridge(
        dataclasses.replace(settings, printer="usb:04b8:0202", devices="sim", nfc="none")
    )
    try:
        printing.enqueue(printer_test_receipt(now=T0), now=T0)
        bridge.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not [
            h for h in device_health() if h["kind"] == "printer"
        ]:
            time.sleep(0.05)
        assert [h["state"] for h in device_health() if h["kind"] == "printer"] == ["absent"]
        assert all(thread.is_alive() for thread in bridge.threads)
        assert printing.queue_status()["counts"]["pending"] == 1
    finally:
        assert bridge.stop()
        box_mod.stop()


def test_the_absent_usb_printer_error_names_the_device():
    printer = build_printer("usb:04b8:0202", 80)
    with pytest.raises(DeviceLost, match="cannot reach USB 04b8:0202"):
        printer.print_receipt(printer_test_receipt(now=T0))
