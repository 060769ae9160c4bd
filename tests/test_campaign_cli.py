"""The campaign command line: scheduling in the shop's zone, cancelling, refusals."""

from __future__ import annotations

import json


def test_schedule_in_the_shops_zone_then_cancel(init_info, stampbox, cli_env):
    cli_env["STAMPBOX_TIMEZONE"] = "Europe/Berlin"
    out = stampbox(
        "campaign", "create", "--name", "Advent", "--segment", "birthday", "--param", "days=14",
        "--channel", "sms", "--sms-text", "Happy birthday {{first_name}}!", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cid = str(json.loads(out.stdout)["id"])
    out = stampbox("campaign", "send", cid, "--at", "2030-12-01T09:00", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    # 09:00 in Berlin in winter is 08:00 UTC
    assert data["state"] == "scheduled" and data["scheduled_at"] == "2030-12-01T08:00:00Z"
    status = json.loads(stampbox("campaign", "status", cid, "--json").stdout)
    assert status["state"] == "scheduled" and status["queued"] == 0
    assert status["reasons"] == []
    assert stampbox("campaign", "cancel", cid).returncode == 0
    out = stampbox("campaign", "send", cid)
    assert out.returncode == 2 and "cancelled" in out.stderr


def test_refusals_are_sentences_with_exit_2(init_info, stampbox):
    out = stampbox(
        "campaign", "create", "--name", "X", "--segment", "top-customers",
        "--param", "percent=0", "--channel", "email", "--subject", "S", "--text", "T",
    )  # fmt: skip
    assert out.returncode == 2 and "percent" in out.stderr
    out = stampbox("campaign", "send", "1", "--at", "tomorrow")
    assert out.returncode == 2 and "ISO-8601" in out.stderr


def test_messages_for_a_channel_not_set_up_say_so(init_info, stampbox):
    from datetime import timedelta

    from appliance import box as box_mod
    from appliance.members import add_member
    from appliance.models import Member

    from .conftest import T0

    add_member("Anna", phone="+491701234567", now=T0 - timedelta(days=2))
    Member.update(sms_consent_at=T0).execute()
    box_mod.stop()
    out = stampbox(
        "campaign", "create", "--name", "S", "--segment", "new-joiners", "--channel", "sms",
        "--sms-text", "Hi", "--json",
    )  # fmt: skip
    cid = str(json.loads(out.stdout)["id"])
    assert stampbox("campaign", "send", cid).returncode == 0
    status = json.loads(stampbox("campaign", "status", cid, "--json").stdout)
    assert status["queued"] == 1
    assert status["reasons"] == [
        {"channel": "sms", "reason": "channel not set up in the settings", "count": 1}
    ]
