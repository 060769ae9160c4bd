"""Email over SMTP: one connection per batch, multipart text + HTML, a stable Message-ID.

The Message-ID is derived from the event key (which names the member), so a message sent
again after a crash is the same message to every receiver, which folds the two into one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import smtplib
import ssl
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache

from . import Channel, Offline, Outgoing, Rejected, register


@lru_cache(maxsize=16)
def _sender(mail_from: str) -> tuple[str, str]:
    """(From header value, envelope address) of the configured sender, parsed once."""
    name, address = parseaddr(mail_from)
    return formataddr((name, address), charset="utf-8"), address


def message_id(event_key: str, mail_from: str) -> str:
    digest = hashlib.sha256(f"stampbox:{event_key}".encode()).hexdigest()[:40]
    domain = _sender(mail_from)[1].rpartition("@")[2] or "stampbox.local"
    return f"<{digest}@{domain}>"


# signed headers: RFC 8058 asks that List-Unsubscribe(-Post) be covered by the signature
DKIM_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
)


def dkim_sign(data: bytes, selector: str, domain: str, key_pem: bytes) -> bytes:
    """The message with a DKIM-Signature header (rsa-sha256, relaxed/relaxed) in front."""
    import dkim

    header = dkim.sign(
        data,
        selector.encode(),
        domain.encode(),
        key_pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(DKIM_HEADERS),
    )
    return header + data


def _boundary() -> str:
    # "=_" never occurs in a quoted-printable or base64 body, so no part needs scanning
    return f"=_stampbox_{secrets.token_hex(12)}"


def _header(name: str, value: str) -> bytes:
    """One header, folded; non-ASCII as RFC 2047 encoded words (email.header keeps the
    spaces inside the words: Python 3.11's EmailMessage re-folding moved them out, where
    readers drop them, and a Kazakh subject arrived with two words run together)."""
    if value.isascii() and len(name) + len(value) < 76:
        return f"{name}: {value}\r\n".encode()
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(value, charset, header_name=name).encode(linesep="\r\n")
    return f"{name}: {folded}\r\n".encode()


def _body(content: str, subtype: str) -> bytes:
    """A text part: quoted-printable keeps ASCII readable, other scripts are shorter in
    base64. binascii does the encoding (C), lines end in CRLF."""
    raw = content.replace("\r\n", "\n").encode()
    if content.isascii():
        encoding, data = "quoted-printable", binascii.b2a_qp(raw, istext=True)
    else:
        encoding, data = "base64", base64.encodebytes(raw)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode()
        + data.replace(b"\n", b"\r\n")
    )


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = _boundary()
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
    sep = f"\r\n--{boundary}\r\n".encode()
    return head + sep[2:] + sep.join(parts) + f"\r\n--{boundary}--\r\n".encode()


def _image(png: bytes, cid: str) -> bytes:
    return (
        f"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
        f"Content-ID: <{cid}>\r\nContent-Disposition: inline\r\n\r\n".encode()
        + base64.encodebytes(png).replace(b"\n", b"\r\n")
    )


def message_bytes(out: Outgoing, mail_from: str, when: float | None = None) -> bytes:
    """The message as it goes on the wire (CRLF line ends: what DKIM signs).

    multipart/alternative of text and HTML (the HTML with its inline images inside a
    multipart/related). Written directly rather than through email.message: the standard
    library's generator cost more per message than the SMTP exchange (bench/README.md).
    """
    head = [
        _header("From", _sender(mail_from)[0]),
        _header("To", out.address),
        _header("Subject", out.subject),
        _header("Date", formatdate(when, localtime=False)),
        _header("Message-ID", message_id(out.event_key, mail_from)),
    ]
    if out.unsubscribe_url:
        # RFC 8058: the receiver POSTs "List-Unsubscribe=One-Click" to the https address
        head.append(f"List-Unsubscribe: <{out.unsubscribe_url}>\r\n".encode())
        head.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    head.append(b"MIME-Version: 1.0\r\n")
    parts = [_body(out.text, "plain")]
    if out.html:
        html = _body(out.html, "html")
        images = out.extra.get("inline_images") or {}
        if images:
            html = _multipart("related", [html, *(_image(png, cid) for cid, png in images.items())])
        parts.append(html)
    return b"".join(head) + _multipart("alternative", parts)


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


@register
class EmailChannel(Channel):
    name = "email"
    address_column = "email"
    consent_column = "email_consent_at"
    unsubscribed_column = "email_unsubscribed_at"
    bounced_column = "email_bounced_at"
    resend_after_crash = True
    uses_suppression_list = True
    # a tight run of SMTP exchanges is faster than exchanges interleaved with rendering
    # (bench/README.md); 25 keeps the consent and suppression checks made while rendering a
    # few seconds old at most when the message goes (SMS, paced, renders each just in time)
    render_ahead = 25

    conn: smtplib.SMTP | None = None

    def configured(self) -> bool:
        return bool(self.settings.smtp_host and self.settings.mail_from)

    def open(self) -> None:
        s = self.settings
        try:
            if s.smtp_security == "tls":
                conn = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=30, context=ssl.create_default_context()
                )
            else:
                conn = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30)
                if s.smtp_security == "starttls":
                    conn.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                conn.login(s.smtp_user, s.smtp_password)
        except smtplib.SMTPAuthenticationError as exc:
            raise Offline(f"SMTP login refused: {exc.smtp_code} {exc.smtp_error!r}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Offline(f"SMTP server {s.smtp_host}:{s.smtp_port} unreachable: {exc}") from None
        self.conn = conn

    def _dkim_key(self) -> bytes:
        if not hasattr(self, "_key"):
            with open(self.settings.dkim_key_file, "rb") as fh:
                self._key = fh.read()
        return self._key

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.conn = None

    def send(self, out: Outgoing) -> str:
        if self.conn is None:
            self.open()
        data = message_bytes(out, self.settings.mail_from)
        envelope = _sender(self.settings.mail_from)[1]
        if self.settings.dkim_selector and self.settings.dkim_key_file:
            data = dkim_sign(
                data,
                self.settings.dkim_selector,
                envelope.rpartition("@")[2],
                self._dkim_key(),
            )
        try:
            self.conn.sendmail(envelope, [out.address], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            if 400 <= code < 500:
                raise Offline(f"recipient deferred: {code} {text!r}") from None
            # a permanent refusal of the address itself: a bounce, never mailed again
            raise Rejected(f"recipient refused: {code} {_text(text)}", bounce=True) from None
        except smtplib.SMTPSenderRefused as exc:
            # our own From is refused: every message would fail alike, so they wait (with the
            # reason shown) until the owner fixes mail_from, rather than all failing
            self.close()
            raise Offline(
                f"the server refuses the sender {exc.sender!r}: {exc.smtp_code}"
                f" {_text(exc.smtp_error)}; check mail_from"
            ) from None
        except smtplib.SMTPResponseException as exc:
            if 400 <= exc.smtp_code < 500:
                self.conn = None
                raise Offline(f"SMTP said later: {exc.smtp_code} {_text(exc.smtp_error)}") from None
            # after DATA: only an enhanced status naming the mailbox (5.1.x bad address,
            # 5.2.1 disabled) is the address's fault; 5.7.x policy and the like are this message's
            raise Rejected(
                f"SMTP refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                bounce=_text(exc.smtp_error).startswith(("5.1.", "5.2.1")),
            ) from None
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            self.conn = None
            raise Offline(f"SMTP connection lost: {exc}") from None
        return message_id(out.event_key, self.settings.mail_from)
