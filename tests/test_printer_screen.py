"""The counter screen and the admin show the printer as the bridge last saw it, the slips
waiting, and a picture of the last slip (the preview), driven by the real print loop."""

from __future__ import annotations

import json

from appliance import printer_status, printing
from appliance.receipts import printer_test_receipt
from firmware_bridge.print_loop import PrintLoop
from firmware_bridge.printer import build_printer
from web import feed

from .conftest import T0
from .fixtures.emupos_peer import free_port
from .test_web import log_in, make_app


def _client(settings, init_info):
    client = make_app(settings).test_client()
    log_in(client, init_info["owner"]["password"])
    return client


def _loop(spec: str, box) -> PrintLoop:
    loop = PrintLoop(
        build_printer(spec, 58), printer_status.preview_dir(box.settings), poll_seconds=0,
        retry_seconds=0,
    )  # fmt: skip
    loop.initialize()
    return loop


def test_before_the_bridge_reports_the_screen_says_so(settings, init_info):
    page = _client(settings, init_info).get("/counter").get_data(as_text=True)
    assert "The bridge has not reported the printer yet." in page
    assert 'class="last-slip" hidden' in page
    assert _client(settings, init_info).get("/counter/slip.png").status_code == 404


def test_an_unreachable_printer_and_the_waiting_slip_show_on_both_screens(settings, init_info, box):
    printing.enqueue(printer_test_receipt(now=T0), now=T0)
    # nobody listens on this port: the bridge's loop finds the printer absent
    assert _loop(f"tcp:127.0.0.1:{free_port()}", box).loop(now=T0) == "absent"
    state = printer_status.printer_state()
    assert (state["status"], state["waiting"], state["alert"]) == ("absent", 1, True)
    client = _client(settings, init_info)
    for url in ("/counter", "/admin/devices"):
        page = client.get(url).get_data(as_text=True)
        assert 'class="printer alert"' in page, url
        assert "The printer cannot be reached: slips wait until it is back." in page, url
        assert "Slips waiting: 1" in page, url
    assert client.get("/counter/printer").get_json()["waiting"] == 1


def test_the_last_slip_is_shown_as_a_picture_once_printed(settings, init_info, box):
    printing.enqueue(printer_test_receipt(now=T0), now=T0)
    assert _loop("preview", box).loop(now=T0) == "printed"
    state = printer_status.printer_state()
    assert (state["status"], state["waiting"], state["alert"]) == ("ready", 0, False)
    client = _client(settings, init_info)
    page = client.get("/counter").get_data(as_text=True)
    assert f'src="/counter/slip.png?v={state["last_slip"]["version"]}"' in page
    assert "Printer ready." in page
    picture = client.get(f"/counter/slip.png?v={state['last_slip']['version']}")
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    assert picture.data == printer_status.last_slip_path(box.settings).read_bytes()
    assert picture.data.startswith(b"\x89PNG")
    from io import BytesIO

    from PIL import Image

    assert Image.open(BytesIO(picture.data)).width == 384  # 58 mm paper
    admin = client.get("/admin/devices").get_data(as_text=True)
    assert "/counter/slip.png?v=" in admin


def test_the_printer_goes_out_on_the_stream_when_it_changes(box):
    states = iter(
        [{"status": "ready"}, {"status": "ready"}, {"status": "paper_out"}, {"status": "paper_out"}]
    )
    moments = iter([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 9.0])
    chunks = list(
        feed.stream(
            0, seconds=5, poll=0, keepalive=60, status=lambda: next(states), status_every=1,
            clock=lambda: next(moments), sleep=lambda _: None,
        )
    )  # fmt: skip
    printer_events = [c for c in chunks if c.startswith("event: printer")]
    assert [json.loads(c.split("data: ", 1)[1])["status"] for c in printer_events] == [
        "ready",
        "paper_out",
    ]
    assert all("id:" not in c for c in printer_events)  # Last-Event-ID stays the last tap's


def test_the_stream_starts_with_the_printer_state(settings, init_info):
    app = make_app(settings, COUNTER_STREAM_SECONDS=0.2, COUNTER_POLL_SECONDS=0.05)
    client = app.test_client()
    log_in(client, init_info["owner"]["password"])
    body = client.get("/counter/events").get_data(as_text=True)
    head = body.split("event: printer\ndata: ", 1)[1].split("\n", 1)[0]
    assert json.loads(head)["status"] == "unknown"


def test_paper_out_at_a_real_printer_shows_on_the_counter_screen(
    settings, init_info, box, tmp_path
):
    from .fixtures.emupos_peer import EmuposDaemon, ensure_emupos

    daemon = EmuposDaemon(ensure_emupos(), tmp_path / "emupos")
    try:
        printing.enqueue(printer_test_receipt(now=T0), now=T0)
        loop = _loop(f"tcp:127.0.0.1:{daemon.port}", box)
        daemon.fault("paper-out", True)
        assert loop.loop(now=T0) == "paper_out"
        page = _client(settings, init_info).get("/counter").get_data(as_text=True)
        assert "The printer is out of paper: slips wait and print once it has paper." in page
        assert "Slips waiting: 1" in page
        daemon.fault("paper-out", False)
        assert loop.loop(now=T0) == "printed"
        page = _client(settings, init_info).get("/counter").get_data(as_text=True)
        assert "Printer ready." in page and '<p class="printer-waiting" hidden>' in page
    finally:
        daemon.stop()


def test_the_counter_prints_a_signup_slip_for_an_unknown_card(settings, init_info, box, tmp_path):
    from PIL import Image

    from appliance.models import EnrolmentCode, PrintJob

    from .fixtures.emupos_peer import decode, ensure_emupos
    from .test_receipts_escpos import read_codes
    from .test_web import csrf_token

    client = _client(settings, init_info)
    token = csrf_token(client.get("/counter"))
    reply = client.post(
        "/counter/enrol-slip",
        data={"csrf_token": token, "card_uid": "04B1C2D3E4F5A6"},
        headers={"Accept": "application/json"},
    ).get_json()
    assert reply["message"] == "Signup slip sent to the printer."
    code = EnrolmentCode.get(EnrolmentCode.nfc_uid == "04B1C2D3E4F5A6").code
    assert reply["code"] == code
    assert PrintJob.get_by_id(reply["job"]).state == "pending"
    out = tmp_path / "lp0"
    assert _loop(f"file:{out}", box).loop(now=T0) == "printed"
    (receipt,) = decode(ensure_emupos(), out.read_bytes(), tmp_path / "emupos", 58)["receipts"]
    link = f"http://stampbox.local/join?code={code}"
    assert read_codes(Image.open(receipt["png"]))["QRCode"] == link
    assert code[:4] in receipt["text"] and "Welcome!" in receipt["text"]
    assert client.get(link.removeprefix("http://stampbox.local")).status_code == 200


def test_a_stopped_bridge_is_said_whatever_the_printer_said_last(settings, init_info, box):
    import os

    from appliance.heartbeat import beat, heartbeat_path

    printing.enqueue(printer_test_receipt(now=T0), now=T0)
    assert _loop(f"tcp:127.0.0.1:{free_port()}", box).loop(now=T0) == "absent"
    beat(box.settings, "bridge")
    assert printer_status.printer_state()["status"] == "absent"
    stale = heartbeat_path(box.settings, "bridge").stat().st_mtime - 600
    os.utime(heartbeat_path(box.settings, "bridge"), (stale, stale))
    state = printer_status.printer_state()
    assert (state["status"], state["alert"], state["waiting"]) == ("bridge_down", True, 1)
    page = _client(settings, init_info).get("/counter").get_data(as_text=True)
    assert "The device bridge is not running: slips wait until it starts again." in page


def _unsure_job() -> int:
    job = printing.enqueue(printer_test_receipt(now=T0), now=T0)
    assert printing.claim_next().id == job
    assert printing.recover_interrupted() == 1  # the bridge stopped mid-slip and restarted
    return job


def test_a_slip_the_bridge_stopped_on_is_checked_and_printed_again(settings, init_info, box):
    from appliance.models import AuditLog, PrintJob

    from .test_web import csrf_token

    job = _unsure_job()
    client = _client(settings, init_info)
    page = client.get("/admin/devices").get_data(as_text=True)
    assert f'action="/counter/print-jobs/{job}/settle"' in page
    assert "Slips to check (the bridge stopped while printing): 1" in page
    form = {"csrf_token": csrf_token(client.get("/counter")), "next": "/admin/devices"}
    reply = client.post(f"/counter/print-jobs/{job}/settle", data=dict(form, on_paper="no"))
    assert reply.status_code == 302 and reply.location == "/admin/devices"
    old, copy = PrintJob.select().order_by(PrintJob.id)
    assert (old.state, copy.state, copy.document) == ("replaced", "pending", old.document)
    assert _loop("preview", box).loop(now=T0) == "printed"  # the copy prints; the old stays
    again = client.post(f"/counter/print-jobs/{job}/settle", data=dict(form, on_paper="no"))
    assert again.status_code == 302
    assert "That slip was already checked." in client.get("/admin/devices").get_data(as_text=True)
    assert PrintJob.select().count() == 2
    assert AuditLog.get(AuditLog.action == "print_job.settle").actor == "owner"


def test_a_slip_that_did_print_is_settled_without_a_copy(settings, init_info, box):
    from appliance.models import PrintJob

    from .test_web import csrf_token

    job = _unsure_job()
    client = _client(settings, init_info)
    form = {"csrf_token": csrf_token(client.get("/counter")), "on_paper": "yes"}
    form["next"] = "https://elsewhere.example/"  # not followed: back to the counter
    reply = client.post(f"/counter/print-jobs/{job}/settle", data=form)
    assert reply.location == "/counter"
    assert [j.state for j in PrintJob.select()] == ["printed"]
    assert printer_status.printer_state()["to_check"] == []
