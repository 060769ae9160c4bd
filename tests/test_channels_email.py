"""Email building: DKIM signature that verifies (covering List-Unsubscribe), CSS inlined."""

from __future__ import annotations

import base64
from datetime import timedelta

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from appliance import box as box_mod
from appliance import campaigns
from appliance.channels.delivery import deliver_all
from appliance.members import add_member
from appliance.messages import email_html
from appliance.models import Member
from appliance.provision import init_box

from .conftest import T0
from .test_campaigns import Sink, SmtpServer, smtp_settings


class RawSink(Sink):
    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


def test_dkim_signed_mail_verifies_against_the_published_key(settings, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "dkim.pem").write_bytes(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    sink = RawSink()
    server = SmtpServer(sink)
    server.start()
    try:
        init_box(
            smtp_settings(
                settings,
                server.port,
                mail_from="Café <shop@cafe.example>",
                dkim_selector="box1",
                dkim_key_file=str(tmp_path / "dkim.pem"),
            ),
            now=T0,
        )
        box = box_mod.current()
        add_member("Zoë", "zoe@example.com", now=T0 - timedelta(days=1))
        Member.update(email_consent_at=T0).execute()
        c = campaigns.create_campaign(
            "d",
            "new-joiners",
            {},
            ["email"],
            {"email": {"": {"subject": "Grüße", "text": "Hallo {{first_name}} ☕"}}},
            now=T0,
            box=box,
        )
        campaigns.send_campaign(c["id"], now=T0, box=box)
        assert deliver_all(box, now=T0)["sent"] == 1
    finally:
        box_mod.stop()
        server.stop()
    data = sink.messages[0]
    assert data.startswith(b"DKIM-Signature:")
    seen = []

    def dns(name, timeout=5):
        seen.append(name)
        return record

    assert dkim.verify(data, dnsfunc=dns)
    assert seen == [b"box1._domainkey.cafe.example."]
    signed = data.split(b"\r\n\r\n", 1)[0].split(b" h=", 1)[1].split(b";", 1)[0]
    assert b"list-unsubscribe-post" in signed.lower().replace(b"\r\n ", b"")
    tampered = data.replace(b"Subject: ", b"Subject: Re: ", 1)
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_the_owners_css_is_inlined_into_the_layout():
    out = email_html(
        "<style>.big{font-size:30px}</style><p class='big'>{{first_name}}</p>",
        "",
        {"first_name": "<Anna>", "shop_name": "Café", "unsubscribe_url": "https://x/u/1"},
        "Hi",
    )
    assert "<style" not in out
    assert 'style="font-size: 30px;"' in out and "&lt;Anna&gt;" in out


def _tls_shop(settings, port, security, ca, monkeypatch):
    # the channel trusts the system's CAs (a real mail server has a public certificate);
    # the test's own CA is made the system's through OpenSSL's SSL_CERT_FILE
    pem = settings.data_dir.parent / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    init_box(
        smtp_settings(
            settings,
            port,
            smtp_host="localhost",
            smtp_security=security,
            smtp_user="shop",
            smtp_password="s3cret",
        ),
        now=T0,
    )
    box = box_mod.current()
    add_member("Zoë", "zoe@example.com", now=T0 - timedelta(days=1))
    Member.update(email_consent_at=T0).execute()
    c = campaigns.create_campaign(
        "t", "new-joiners", {}, ["email"], {"email": {"": {"subject": "S", "text": "T"}}}, box=box
    )
    campaigns.send_campaign(c["id"], now=T0, box=box)
    return box


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_starttls_and_tls_with_login(settings, monkeypatch, security):
    import ssl

    import trustme
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from .test_campaigns import free_port

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    sink = Sink()
    port = free_port()
    options = {"authenticator": authenticator}
    if security == "starttls":
        # AUTH is only offered after STARTTLS: the password never crosses in clear
        options.update(tls_context=server_ctx, require_starttls=True, auth_require_tls=True)
    else:
        # implicit TLS from the first byte (aiosmtpd then offers AUTH as on any channel)
        options.update(ssl_context=server_ctx, auth_require_tls=False)
    controller = Controller(sink, hostname="localhost", port=port, **options)
    controller.start()
    try:
        box = _tls_shop(settings, port, security, ca, monkeypatch)
        assert deliver_all(box, now=T0)["sent"] == 1
    finally:
        box_mod.stop()
        controller.stop()
    assert logins == [(b"shop", b"s3cret")]
    assert sink.messages[0][0] == ["zoe@example.com"]
