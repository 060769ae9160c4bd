"""The double opt-in email end to end: a signup on /join, the worker's delivery to a real SMTP
server on loopback, the link in the message confirming the consent. Transactional: it needs
no marketing consent, but never goes to a bounced address or an erased member."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from appliance import box as box_mod
from appliance.channels.delivery import deliver_all
from appliance.channels.transactional import WORDING
from appliance.member_rights import erase_member
from appliance.models import Member, Outbox
from appliance.wording import LANGUAGES, gettext

from .test_campaigns import Sink, SmtpServer, smtp_settings
from .test_web import csrf_token, make_app


@pytest.fixture
def mail(settings):
    sink = Sink()
    server = SmtpServer(sink)
    server.start()
    app = make_app(
        smtp_settings(
            settings,
            server.port,
            mail_from="Café Anna <hello@cafe.example>",
            public_url="https://box.cafe.example",
            shop_name="Café Anna",
        )
    )
    yield app.test_client(), sink, box_mod.current()
    box_mod.stop()
    server.stop()


def _join(client, lang="en", **fields):
    token = csrf_token(client.get(f"/join?lang={lang}"))
    return client.post(f"/join?lang={lang}", data={"csrf_token": token, **fields})


def _link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"https://box\.cafe\.example/join/confirm/\S+", text).group(0)


def test_a_signup_gets_the_confirmation_and_its_link_confirms(mail):
    client, sink, box = mail
    assert (
        _join(client, name="Dana Levi", email="dana@example.com", consent_email="yes").status_code
        == 200
    )
    member = Member.get(Member.email == "dana@example.com")
    assert member.email_consent_at is None  # no marketing consent yet: the mail goes anyway
    counts = deliver_all(box)
    assert counts["sent"] == 1
    [(rcpt, message)] = sink.messages
    assert rcpt == ["dana@example.com"]
    assert message["Subject"] == "Confirm your email address for Café Anna"
    assert message["Message-ID"].endswith("@cafe.example>")
    # transactional: no unsubscribe headers, multipart text + HTML with the same link
    assert message["List-Unsubscribe"] is None
    html = message.get_body(("html",)).get_content()
    link = _link(message)
    assert f'href="{link}"' in html and "Hello Dana," in html
    assert client.get(urlsplit(link).path).status_code == 200
    assert Member.get_by_id(member.id).email_consent_at is not None
    assert Outbox.get(Outbox.kind == "signup_confirm").state == "sent"
    # a second worker round sends nothing more
    assert deliver_all(box)["sent"] == 0 and len(sink.messages) == 1


@pytest.mark.parametrize("lang", ["he", "kk", "zh"])
def test_the_confirmation_speaks_the_language_of_the_signup(mail, lang):
    client, sink, box = mail
    _join(client, lang, name="Noa", email="noa@example.com", consent_email="yes")
    deliver_all(box)
    [(_, message)] = sink.messages
    expected = gettext(lang, "Confirm your email address for {{shop_name}}")
    assert expected != "Confirm your email address for {{shop_name}}"
    assert message["Subject"] == expected.replace("{{shop_name}}", "Café Anna")
    html = message.get_body(("html",)).get_content()
    assert ('dir="rtl"' in html) == (lang == "he")
    assert gettext(lang, "Confirm my email address") in html
    assert client.get(urlsplit(_link(message)).path).status_code == 200


def test_every_confirmation_sentence_is_translated():
    for lang in LANGUAGES[1:]:
        missing = [text for text in WORDING if gettext(lang, text) == text]
        assert not missing, (lang, missing)


def test_no_confirmation_to_a_bounced_address_or_an_erased_member(mail):
    client, sink, box = mail
    _join(client, name="Bo", email="bo@example.com", consent_email="yes")
    _join(client, name="Eve", email="eve@example.com", consent_email="yes")
    _join(client, name="Cy", email="cy@example.com", consent_email="yes")
    bo = Member.get(Member.email == "bo@example.com")
    Member.update(email_bounced_at=bo.joined_at).where(Member.id == bo.id).execute()
    erase_member(Member.get(Member.email == "eve@example.com").id, "owner")
    counts = deliver_all(box)
    assert [m[0] for m in sink.messages] == [["cy@example.com"]]
    assert counts["sent"] == 1 and counts["suppressed"] == 1
    assert Outbox.get(Outbox.member == bo.id).last_error == "bounced"


@pytest.mark.slow
def test_the_real_worker_sends_the_confirmation(settings, cli_env):
    """signup on the app → `stampbox worker` (its own process) → aiosmtpd → the link works."""
    import subprocess
    import sys
    import time

    from .conftest import ROOT

    sink = Sink()
    server = SmtpServer(sink)
    server.start()
    smtp_env = {
        "STAMPBOX_SMTP_HOST": "127.0.0.1",
        "STAMPBOX_SMTP_PORT": str(server.port),
        "STAMPBOX_SMTP_SECURITY": "none",
        "STAMPBOX_MAIL_FROM": "hello@cafe.example",
        "STAMPBOX_PUBLIC_URL": "https://box.cafe.example",
    }
    app = make_app(
        smtp_settings(settings, server.port, mail_from="hello@cafe.example",
                      public_url="https://box.cafe.example")
    )  # fmt: skip
    client = app.test_client()
    worker = None
    try:
        _join(client, "kk", name="Aru", email="aru@example.com", consent_email="yes")
        worker = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "worker"],
            env={**cli_env, **smtp_env}, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not sink.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sink.messages, "the worker sent nothing within 30 s"
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        server.stop()
    try:
        [(rcpt, message)] = sink.messages
        assert rcpt == ["aru@example.com"]
        assert message["Subject"].endswith("растаңыз")
        assert client.get(urlsplit(_link(message)).path).status_code == 200
        assert Member.get(Member.email == "aru@example.com").email_consent_at is not None
    finally:
        box_mod.stop()


def test_a_confirmation_held_back_past_its_links_life_is_not_sent(mail):
    from datetime import timedelta

    from appliance.clock import utcnow
    from appliance.signup import CONFIRM_DAYS

    client, sink, box = mail
    _join(client, name="Late", email="late@example.com", consent_email="yes")
    # the box was offline (no mail server) for longer than the link lives
    counts = deliver_all(box, now=utcnow() + timedelta(days=CONFIRM_DAYS, hours=1))
    assert counts["suppressed"] == 1 and sink.messages == []
    assert Outbox.get(Outbox.kind == "signup_confirm").last_error == "confirmation link expired"
