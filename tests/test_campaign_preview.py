"""Preview: a campaign rendered for one member on each channel, SMS length and encoding."""

from __future__ import annotations

import json
from datetime import timedelta

from appliance import box as box_mod
from appliance.members import add_member

from .conftest import T0


def test_preview_renders_each_channel_for_a_member(init_info, stampbox):
    add_member("Zoë Weiß", "zoe@example.com", "+491701234567", now=T0 - timedelta(days=1))
    box_mod.stop()
    out = stampbox(
        "campaign", "create", "--name", "P", "--segment", "new-joiners", "--channel", "email",
        "--channel", "sms", "--subject", "Hi {{first_name}}", "--text", "{{stamps_left}} to go",
        "--sms-text", "Hallo {{first_name}} 🎉", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cid = json.loads(out.stdout)["id"]
    out = stampbox("campaign", "preview", str(cid), "--member", "1", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["email"]["subject"] == "Hi Zoë" and data["email"]["to"] == "zoe@example.com"
    assert data["email"]["suppressed"] == "no consent"
    assert "10 to go" in data["email"]["text"] and "<html>" in data["email"]["html"]
    assert data["email"]["message_id"].startswith("<")
    sms = data["sms"]
    assert sms["text"] == "Hallo Zoë 🎉"
    assert (sms["encoding"], sms["segments"], sms["length"]) == ("UCS-2", 1, 11)
