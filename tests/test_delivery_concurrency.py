"""Two deliverers at once (two worker threads, or a job that runs twice): one message each."""

from __future__ import annotations

import threading
from datetime import timedelta

from appliance import box as box_mod
from appliance import campaigns
from appliance.channels.delivery import deliver_all
from appliance.members import add_member
from appliance.models import Member
from appliance.provision import init_box

from .conftest import T0
from .test_campaigns import Sink, SmtpServer, smtp_settings


def test_two_deliverers_at_once_send_each_message_once(settings):
    sink = Sink()
    server = SmtpServer(sink)
    server.start()
    try:
        init_box(
            smtp_settings(settings, server.port),
            now=T0,
        )
        box = box_mod.current()
        with box.db.atomic():
            for n in range(60):
                add_member(f"M{n}", f"m{n}@example.com", now=T0 - timedelta(days=1))
        Member.update(email_consent_at=T0).execute()
        content = {"email": {"": {"subject": "S", "text": "T"}}}
        c = campaigns.create_campaign("c", "new-joiners", {}, ["email"], content, box=box)
        campaigns.send_campaign(c["id"], now=T0, box=box)
        campaigns.send_campaign(c["id"], now=T0, box=box)  # sent twice, too
        results, errors = [], []

        def run():
            try:
                results.append(deliver_all(box, now=T0, limit=7))
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                box.db.close()  # this thread's connection

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert not any(t.is_alive() for t in threads)
        # a row given back for later (a connection hiccup under load) goes at its retry time
        mop_up = deliver_all(box, now=T0 + timedelta(hours=2))
        left = box.db.execute_sql(
            "SELECT state, last_error FROM outbox WHERE state != 'sent'"
        ).fetchall()
        assert sum(r["sent"] for r in results) + mop_up["sent"] == 60, (results, mop_up, left)
        rcpts = [r[0] for r, _ in sink.messages]
        assert len(rcpts) == 60 and len(set(rcpts)) == 60
        assert campaigns.campaign_status(c["id"], box=box)["sent"] == 60
    finally:
        box_mod.stop()
        server.stop()
