"""Power cuts: web, worker, bridge and a tapping process SIGKILLed at random moments, again and
again, under a stream of taps and a running campaign. Afterwards the database is intact, every
acknowledged tap is there, and the campaign finishes with one message per member."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest

from appliance import box as box_mod
from appliance.members import add_member
from appliance.models import Member

from .conftest import ROOT, T0
from .test_campaigns import Sink, SmtpServer
from .test_concurrency import _spawn

MEMBERS = 40
ROUNDS = 4


class SlowSink(Sink):
    async def handle_DATA(self, server, session, envelope):
        import asyncio

        await asyncio.sleep(0.25)  # the campaign is still going when the power goes
        return await super().handle_DATA(server, session, envelope)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env, *args):
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _api_tap(port, token, uid, acked):
    body = json.dumps({"token": uid}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/counter/tap",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            result = json.loads(resp.read())
    except OSError:
        return  # the web was down or died mid-request: nothing was acknowledged
    acked.append({"event_id": result["event_id"], "member": result["member"]["id"]})


@pytest.mark.slow
def test_random_sigkills_lose_no_acknowledged_tap_and_no_message(
    init_info, cli_env, settings, stampbox
):
    rng = random.Random(20261124)
    uids = [f"04{i:012X}" for i in range(1, MEMBERS + 1)]
    for n, uid in enumerate(uids):
        add_member(f"M{n}", f"m{n}@example.com", card_uid=uid, now=T0 - timedelta(days=3))
    Member.update(email_consent_at=T0).execute()
    box_mod.stop()
    sink = SlowSink()
    smtp = SmtpServer(sink)
    smtp.start()
    env = {
        **cli_env,
        "STAMPBOX_SMTP_HOST": "127.0.0.1",
        "STAMPBOX_SMTP_PORT": str(smtp.port),
        "STAMPBOX_SMTP_SECURITY": "none",
        "STAMPBOX_MAIL_FROM": "shop@cafe.example",
        "STAMPBOX_DELIVERY_RETRY_SECONDS": "1",
        "STAMPBOX_STAMP_COOLDOWN_MINUTES": "0",
    }
    token = json.loads(stampbox("device-token", "create", "pos", "--json").stdout)["token"]
    out = stampbox(
        "campaign", "create", "--name", "Cut", "--segment", "new-joiners", "--param",
        "days=3650", "--channel", "email", "--subject", "Hi", "--text", "Hello", "--json",
    )  # fmt: skip
    cid = json.loads(out.stdout)["id"]
    assert stampbox("campaign", "send", str(cid)).returncode == 0

    acked: list[dict] = []
    port = _free_port()
    try:
        for _round in range(ROUNDS):
            web = _start(
                env,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--worker-class",
                "gthread",
                "--workers",
                "2",
                "web:create_app()",
            )
            worker = _start(env, "-m", "appliance.cli", "worker")
            bridge = _start(env, "-m", "firmware_bridge")
            tapper = _spawn(settings.data_dir, "burst", ",".join(uids))
            # taps until the worker is delivering again, then a random moment more
            delivered, started = len(sink.messages), time.monotonic()
            while len(sink.messages) == delivered and time.monotonic() - started < 20:
                _api_tap(port, token, rng.choice(uids), acked)
                time.sleep(0.01)
            deadline = time.monotonic() + rng.uniform(0.1, 0.8)
            while time.monotonic() < deadline:
                _api_tap(port, token, rng.choice(uids), acked)
                time.sleep(0.01)
            # the power goes: every process at once, whatever it was doing
            for proc in (web, worker, bridge):
                os.killpg(proc.pid, signal.SIGKILL)
            tapper.send_signal(signal.SIGKILL)
            for proc in (web, worker, bridge, tapper):
                proc.wait(timeout=10)
            acked += [json.loads(line) for line in tapper.stdout if line.strip()]

        con = sqlite3.connect(settings.db_path)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        events = {row[0] for row in con.execute("SELECT id FROM counter_event")}
        assert len(acked) > 100
        assert [a for a in acked if a["event_id"] not in events] == []
        con.close()

        delivered_before = len(sink.messages)
        assert 0 < delivered_before < MEMBERS, "the cuts must land while the campaign runs"
        # the power is back for good: the outbox resumes and the campaign completes
        worker = _start(env, "-m", "appliance.cli", "worker")
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                status = json.loads(stampbox("campaign", "status", str(cid), "--json").stdout)
                if status["queued"] == 0:
                    break
                time.sleep(0.5)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
    finally:
        smtp.stop()
    status = json.loads(stampbox("campaign", "status", str(cid), "--json").stdout)
    assert status["sent"] == MEMBERS and status["failed"] == 0, status
    ids_by_rcpt: dict[str, set] = {}
    for rcpt, msg in sink.messages:
        ids_by_rcpt.setdefault(rcpt[0], set()).add(msg["Message-ID"])
    # every member got the message, and a resend after a cut is the same message, folded
    assert len(ids_by_rcpt) == MEMBERS
    assert all(len(ids) == 1 for ids in ids_by_rcpt.values()), ids_by_rcpt
