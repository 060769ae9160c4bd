"""The real worker (`stampbox worker`, a Huey consumer) delivering a campaign to a real SMTP
server on loopback: SMTP down at first, then back; the worker SIGKILLed halfway and
restarted. Every eligible member ends up with exactly one message (one Message-ID)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from appliance import box as box_mod
from appliance.members import add_member
from appliance.models import Member

from .conftest import ROOT, T0
from .test_campaigns import Sink, SmtpServer

MEMBERS = 30


class SlowSink(Sink):
    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(0.08)  # slow enough that the kill lands mid-campaign
        return await super().handle_DATA(server, session, envelope)


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _worker(env):
    return subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_smtp_down_then_back_and_a_sigkilled_worker_deliver_exactly_once(
    init_info, cli_env, stampbox, settings
):
    sink = SlowSink()
    server = SmtpServer(sink)  # not started: SMTP is down when the campaign is sent
    for n in range(MEMBERS):
        add_member(f"M{n}", f"m{n}@example.com", now=T0 - timedelta(days=3))
    add_member("No consent", "nc@example.com", now=T0 - timedelta(days=3))
    Member.update(email_consent_at=T0).where(Member.email != "nc@example.com").execute()
    box_mod.stop()
    cli_env.update(
        STAMPBOX_SMTP_HOST="127.0.0.1",
        STAMPBOX_SMTP_PORT=str(server.port),
        STAMPBOX_SMTP_SECURITY="none",
        STAMPBOX_MAIL_FROM="shop@cafe.example",
        STAMPBOX_DELIVERY_RETRY_SECONDS="1",
    )
    out = stampbox(
        "campaign", "create", "--name", "N", "--segment", "new-joiners", "--param", "days=3650",
        "--channel", "email", "--subject", "Hi {{first_name}}", "--text", "Hello", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cid = json.loads(out.stdout)["id"]
    assert stampbox("campaign", "send", str(cid)).returncode == 0

    db = sqlite3.connect(settings.db_path)

    def waiting_with_reason():
        rows = db.execute(
            "SELECT COUNT(*) FROM outbox WHERE campaign_id = ? AND state = 'pending'"
            " AND last_error LIKE '%unreachable%'",
            (cid,),
        ).fetchone()
        return rows[0] == MEMBERS

    worker = _worker(cli_env)
    try:
        try:
            _wait(waiting_with_reason, 30, "the worker to find SMTP down")
        except AssertionError:
            worker.kill()
            print(worker.communicate()[0])
            print(db.execute("SELECT state, last_error, due_at FROM outbox").fetchall())
            raise
        server.start()
        _wait(lambda: len(sink.messages) >= MEMBERS // 3, 60, "a third of the messages")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert len(sink.messages) < MEMBERS, "the kill came too late to prove anything"
        worker = _worker(cli_env)

        def all_sent():
            status = json.loads(stampbox("campaign", "status", str(cid), "--json").stdout)
            return status["queued"] == 0

        _wait(all_sent, 60, "every message to be sent")
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
        server.stop()
    status = json.loads(stampbox("campaign", "status", str(cid), "--json").stdout)
    assert status["sent"] == MEMBERS and status["suppressed"] == 1 and status["failed"] == 0
    ids_by_rcpt: dict[str, set] = {}
    for rcpt, msg in sink.messages:
        ids_by_rcpt.setdefault(rcpt[0], set()).add(msg["Message-ID"])
    assert len(ids_by_rcpt) == MEMBERS
    assert "nc@example.com" not in ids_by_rcpt
    # a message in flight at the kill may arrive twice, but as the same message
    assert all(len(ids) == 1 for ids in ids_by_rcpt.values()), ids_by_rcpt
    assert len(sink.messages) - MEMBERS <= 2
