"""`stampbox devices` and `stampbox print` as the owner runs them: real processes, a real file
printer whose bytes emupos decodes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from appliance.members import add_member
from appliance.vouchers import issue_voucher_sql

from .conftest import T0
from .fixtures.emupos_peer import decode, ensure_emupos


@pytest.fixture
def voucher_code(box):
    member = add_member("Anna", card_uid="04A23B4C5D6E7F", now=T0)
    with box.db.atomic():
        voucher = issue_voucher_sql(
            box.db, box.code_key, member["id"], "tier", "Free cake", T0,
            T0 + timedelta(days=90), "tier:cli",
        )  # fmt: skip
    return voucher["code"]


def test_print_voucher_prints_its_slip_through_the_configured_printer(
    stampbox, cli_env, voucher_code, tmp_path
):
    out = tmp_path / "printer.bin"
    cli_env["STAMPBOX_PRINTER"] = f"file:{out}"
    cli_env["STAMPBOX_PRINTER_WIDTH"] = "58"
    done = stampbox("print", "voucher", voucher_code.lower(), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["printed"] == 1
    (receipt,) = decode(ensure_emupos(), out.read_bytes(), tmp_path / "emupos", 58)["receipts"]
    assert voucher_code in receipt["text"] and "Free cake" in receipt["text"]
    assert f"[qr {voucher_code.replace('-', '')}]" in receipt["text"]


def test_print_test_writes_the_preview_picture(stampbox, settings, box):
    done = stampbox("print", "test")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Printed 1 slip(s)."
    assert (settings.data_dir / "slips" / "last.png").exists()


def test_a_slip_for_an_unreachable_printer_waits_in_the_queue(stampbox, cli_env, box):
    cli_env["STAMPBOX_PRINTER"] = "tcp:127.0.0.1:9"  # discard port: nobody listens
    done = stampbox("print", "test", "--json")
    assert done.returncode == 3
    result = json.loads(done.stdout)
    assert (result["printed"], result["status"]) == (0, "absent")
    listed = json.loads(stampbox("devices", "--json").stdout)
    assert listed["print_queue"]["counts"]["pending"] == 1
    assert listed["printer"]["status"] == "absent"


def test_an_unknown_voucher_is_a_usage_error(stampbox, box):
    done = stampbox("print", "voucher", "VAAA-AAAA-AAAA-AAAA")
    assert done.returncode == 2
    assert "No voucher" in done.stderr


def test_devices_lists_what_is_configured(stampbox, cli_env, box):
    cli_env["STAMPBOX_NFC"] = "udp:127.0.0.1:9"
    cli_env["STAMPBOX_SCANNERS"] = "serial:/dev/does-not-exist"
    listed = json.loads(stampbox("devices", "--json").stdout)
    assert listed["readers"][0]["name"] == "sim" and listed["readers"][0]["present"]
    assert listed["nfc"]["setting"] == "udp:127.0.0.1:9"
    assert listed["scanners"][0]["present"] is False
    assert "cannot open /dev/does-not-exist" in listed["scanners"][0]["detail"]
    assert listed["printer"] == {"setting": "preview", "width_mm": 80, "status": "ready"}
    assert listed["feedback"] == {
        "setting": "log",
        "outputs": [{"kind": "log", "present": True, "detail": "the bridge's log"}],
    }


def test_devices_lists_the_feedback_outputs(stampbox, cli_env, box, tmp_path):
    cli_env["STAMPBOX_PRINTER"] = f"file:{tmp_path / 'lp0'}"
    cli_env["STAMPBOX_FEEDBACK"] = "printer,serial:/dev/no-board"
    listed = json.loads(stampbox("devices", "--json").stdout)
    printer, board = listed["feedback"]["outputs"]
    assert printer == {
        "kind": "printer", "present": True, "detail": "the receipt printer's buzzer (ESC B)",
    }  # fmt: skip
    assert (board["kind"], board["port"], board["present"]) == ("serial", "/dev/no-board", False)


def test_print_summary_prints_the_days_figures(stampbox, cli_env, box, tmp_path):
    from appliance.counter import handle

    add_member("Bea", card_uid="04B1C2D3E4F5A6", now=T0)
    handle("04B1C2D3E4F5A6", "test", stamps=2, now=T0)
    handle("04B1C2D3E4F5A6", "test", now=T0 - timedelta(days=1))  # another day: not counted
    out = tmp_path / "printer.bin"
    cli_env["STAMPBOX_PRINTER"] = f"file:{out}"
    done = stampbox("print", "summary", "--day", T0.date().isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    (receipt,) = decode(ensure_emupos(), out.read_bytes(), tmp_path / "emupos")["receipts"]
    lines = [" ".join(line.split()) for line in receipt["text"].splitlines()]
    assert "End of day" in lines and "Visits 1" in lines and "Stamps 2" in lines
    assert "New members 1" in lines
    bad = stampbox("print", "summary", "--day", "24.11.2026")
    assert bad.returncode == 2 and "is not a date like 2026-11-24" in bad.stderr


def test_the_day_summary_is_queued_once_in_the_hour_the_setting_names(settings, init_info):
    import dataclasses

    from appliance import box as box_mod
    from appliance import printing
    from appliance.models import PrintJob

    box_mod.stop()
    box_mod.start(dataclasses.replace(settings, day_summary_hour=19, timezone="Europe/Berlin"))
    evening = T0.replace(hour=18, minute=2)  # 19:02 in Berlin
    assert printing.queue_day_summary(now=evening - timedelta(hours=1)) is None
    first = printing.queue_day_summary(now=evening)
    assert first is not None
    assert printing.queue_day_summary(now=evening + timedelta(minutes=30)) is None
    assert printing.queue_day_summary(now=evening + timedelta(days=1)) not in (None, first)
    kinds = [json.loads(job.document)["kind"] for job in PrintJob.select()]
    assert kinds == ["day_summary", "day_summary"]
    box_mod.stop()


def test_the_worker_task_queues_nothing_while_the_setting_is_off(box):
    from appliance.jobs import day_summary_slip
    from appliance.models import PrintJob

    assert box.settings.day_summary_hour == -1
    assert day_summary_slip.call_local() is None
    assert PrintJob.select().count() == 0
