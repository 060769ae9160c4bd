"""Automations: one message per event, however often and however late the job runs."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from appliance import automations, outbox
from appliance import box as box_mod
from appliance.channels.delivery import deliver_all
from appliance.counter import handle
from appliance.members import add_member
from appliance.models import Member, Outbox
from appliance.provision import init_box

from .conftest import T0
from .test_campaigns import Sink, SmtpServer, smtp_settings


@pytest.fixture
def shop(settings):
    sink = Sink()
    server = SmtpServer(sink)
    server.start()
    s = smtp_settings(settings, server.port)
    init_box(s, now=T0 - timedelta(days=400))
    box = box_mod.current()
    yield box, sink
    box_mod.stop()
    server.stop()
    outbox.HANDLERS.pop("reward_unlocked", None)


def _member(name, when, uid=None):
    m = add_member(name, f"{name.lower()}@example.com", card_uid=uid, now=when)
    Member.update(email_consent_at=when).where(Member.id == m["id"]).execute()
    return m["id"]


def _messages(name):
    return list(
        Outbox.select()
        .where(Outbox.kind == "message", Outbox.event_key.startswith(name))
        .order_by(Outbox.id)
    )


def test_reward_unlocked_goes_out_after_the_delay_once(shop):
    box, sink = shop
    automations.configure("reward_unlocked", enabled=True, channel_names=["email"], box=box)
    automations.install()
    _member("Anna", T0 - timedelta(days=30), uid="04A23B4C5D6E7F")
    code = handle("04A23B4C5D6E7F", "t", stamps=10, now=T0).unlocked[0]["code"]
    for _ in range(2):  # the periodic job may run twice: still one message
        with box.db.atomic():
            outbox.dispatch_due(box.db, T0 + timedelta(minutes=1))
    rows = _messages("reward_unlocked")
    assert len(rows) == 1 and rows[0].due_at == T0 + timedelta(hours=2)
    assert deliver_all(box, now=T0 + timedelta(hours=1))["claimed"] == 0
    assert deliver_all(box, now=T0 + timedelta(hours=2))["sent"] == 1
    (rcpt, msg) = sink.messages[0]
    assert rcpt == ["anna@example.com"] and "Free coffee" in msg["Subject"]
    assert code in msg.get_body(("plain",)).get_content()


def test_a_switched_off_automation_sends_nothing(shop):
    box, _ = shop
    automations.install()
    _member("Ben", T0 - timedelta(days=30), uid="04A23B4C5D6E70")
    handle("04A23B4C5D6E70", "t", stamps=10, now=T0)
    with box.db.atomic():
        assert outbox.dispatch_due(box.db, T0) == 1
    assert _messages("reward_unlocked") == []


def test_win_back_once_per_inactivity_spell(shop):
    box, _ = shop
    automations.configure("win_back", enabled=True, channel_names=["email"], box=box)
    _member("Clara", T0 - timedelta(days=100), uid="04A23B4C5D6E71")
    handle("04A23B4C5D6E71", "t", now=T0 - timedelta(days=40))
    for day in (0, 0, 1, 10):  # late, twice, and catching up after the box was off
        automations.run_due(T0 + timedelta(days=day), box)
    assert len(_messages("win_back")) == 1
    handle("04A23B4C5D6E71", "t", now=T0 + timedelta(days=11))  # back: the spell ends
    automations.run_due(T0 + timedelta(days=20), box)
    assert len(_messages("win_back")) == 1  # active again: nothing
    automations.run_due(T0 + timedelta(days=45), box)
    automations.run_due(T0 + timedelta(days=46), box)
    assert len(_messages("win_back")) == 2  # a new spell: one more


def test_switching_win_back_on_does_not_mail_long_lapsed_members(shop):
    box, _ = shop
    automations.configure("win_back", enabled=True, channel_names=["email"], box=box)
    _member("Old", T0 - timedelta(days=300), uid="04A23B4C5D6E73")
    _member("Recent", T0 - timedelta(days=300), uid="04A23B4C5D6E74")
    handle("04A23B4C5D6E73", "t", now=T0 - timedelta(days=200))
    handle("04A23B4C5D6E74", "t", now=T0 - timedelta(days=40))  # lapsed 10 days ago
    automations.run_due(T0, box)
    assert [r.member_id for r in _messages("win_back")] == [2]


def test_welcome_and_reward_reminder_once_each(shop):
    box, _ = shop
    automations.configure("welcome", enabled=True, channel_names=["email"], box=box)
    automations.configure(
        "reward_reminder",
        enabled=True,
        channel_names=["email"],
        params={"days_before": 7},
        box=box,
    )
    _member("Dora", T0 - timedelta(days=95), uid="04A23B4C5D6E72")
    _member("Emil", T0 - timedelta(days=1))
    handle("04A23B4C5D6E72", "t", stamps=10, now=T0 - timedelta(days=85))  # valid 90 days
    for hours in (0, 1, 30):
        automations.run_due(T0 + timedelta(hours=hours), box)
    assert [r.member_id for r in _messages("welcome")] == [2]
    reminders = _messages("reward_reminder")
    assert len(reminders) == 1 and reminders[0].member_id == 1
    assert deliver_all(box, now=T0 + timedelta(days=1))["sent"] == 2


def test_cli_switches_an_automation_on_and_previews_it(init_info, stampbox):
    add_member("Anna Berg", "anna@example.com", now=T0)
    box_mod.stop()
    out = stampbox(
        "automation",
        "set",
        "win_back",
        "--on",
        "--channel",
        "email",
        "--param",
        "days=45",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (
        data["enabled"]
        and data["channels"] == ["email"]
        and data["params"] == {"days": 45, "catch_up_days": 14}
    )
    out = stampbox("automation", "preview", "win_back", "--member", "1", "--json")
    assert out.returncode == 0, out.stderr
    email = json.loads(out.stdout)["email"]
    assert email["subject"] == "We miss you, Anna" and email["suppressed"] == "no consent"
    out = stampbox("automation", "preview", "reward_unlocked", "--member", "1", "--json")
    assert out.returncode == 0, out.stderr
    email = json.loads(out.stdout)["email"]
    assert 'src="data:image/png;base64,' in email["html"] and "VXXX" in email["text"]
    out = stampbox("automation", "set", "nope", "--on")
    assert out.returncode == 2 and "Unknown automation" in out.stderr


def _preview_texts(name, member_id, box) -> dict:
    preview = automations.preview(name, member_id, now=T0, box=box)
    return {channel: message["text"] for channel, message in preview.items()}


def test_the_birthday_announcement_asks_for_a_code_only_when_the_gift_is_a_voucher(box):
    import dataclasses

    from appliance.birthdays import load_gift, save_gift

    member = add_member("Anna Berg", "anna@example.com", "+49 170 1234567", now=T0)["id"]
    save_gift(dataclasses.replace(load_gift(), gift="Free cake", kind="voucher"), now=T0)
    texts = _preview_texts("birthday", member, box)
    assert all("VXXX-XXXX-XXXX-XXXX" in texts[ch] for ch in ("email", "sms")), texts

    # the card kind has no code to show: the card carries the gift
    save_gift(dataclasses.replace(load_gift(), kind="card"), now=T0)
    texts = _preview_texts("birthday", member, box)
    for channel in ("email", "sms"):
        text = texts[channel]
        assert "Free cake" in text and "stamp card" in text, text
        assert "code" not in text.lower() and "VXXX" not in text, text
        assert ": ." not in text and "code  at" not in text


def test_the_welcome_carries_the_wallet_link_once_a_wallet_is_set_up(settings):
    import dataclasses

    from appliance.wallet.links import add_wallet_link_to_welcome, welcome_has_wallet_link

    init_box(settings, now=T0)
    box = box_mod.current()
    member = add_member("Anna Berg", "anna@example.com", now=T0)["id"]
    assert "/w/" not in _preview_texts("welcome", member, box)["email"]
    assert not welcome_has_wallet_link(box)
    # saving the default as it is stores none: the default keeps following the shop
    automations.configure("welcome", enabled=True, channel_names=["email"], now=T0, box=box)
    assert box.db.execute_sql("SELECT content FROM automation").fetchone()[0] == "{}"
    box_mod.stop()

    # Google Wallet set up (issuer and service account): the default welcome links the card
    wallet = dataclasses.replace(
        settings,
        public_url="https://cafe.example",
        google_issuer_id="3388000000012345678",
        google_service_account=str(settings.data_dir / "sa.json"),
    )
    init_box(wallet, now=T0)
    box = box_mod.current()
    text = _preview_texts("welcome", member, box)["email"]
    assert f"Your stamp card on your phone: https://cafe.example/w/{member}." in text
    # the same sentence the wallet admin's button adds: the button finds nothing to add
    assert welcome_has_wallet_link(box)
    assert add_wallet_link_to_welcome(box, "owner", now=T0) == 0
    box_mod.stop()
