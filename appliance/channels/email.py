"""Email over SMTP: one connection per batch, multipart text + HTML, a stable Message-ID.

The Message-ID is derived from the event key (which names the member), so a message sent
again after a crash is the same message to every receiver, which folds the two into one.
"""

from __future__ import annotations

import hashlib
import secrets
import smtplib
import ssl
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr

from . import Channel, Offline, Outgoing, Rejected, register


def message_id(event_key: str, mail_from: str) -> str:
    digest = hashlib.sha256(f"stampbox:{event_key}".encode()).hexdigest()[:40]
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "stampbox.local"
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


# bodies: quoted-printable keeps ASCII text readable; other scripts are shorter in base64
_QP = Charset("utf-8")
_QP.body_encoding = QP
_B64 = Charset("utf-8")
_WIRE = compat32.clone(linesep="\r\n")


def _boundary() -> str:
    # "=_" never occurs in a quoted-printable or base64 body, so no scan of the parts is
    # needed (the generator's own check compiles a regular expression per message)
    return f"=_stampbox_{secrets.token_hex(12)}"


def _part(content: str, subtype: str) -> MIMEText:
    part = MIMEText(content, subtype, _QP if content.isascii() else _B64)
    del part["MIME-Version"]  # once, on the message
    return part


def build_message(out: Outgoing, mail_from: str, when: float | None = None) -> Message:
    """multipart/alternative (text, HTML; HTML with its inline images as multipart/related).

    Built with email.mime (compat32), not EmailMessage: the header registry parses and
    re-folds every header, which took two thirds of a message's cost (bench/README.md), and
    Python 3.11's re-folding dropped the space between two RFC 2047 encoded words of a
    non-ASCII subject. email.header folds encoded words correctly.
    """
    name, address = parseaddr(mail_from)
    msg = MIMEMultipart("alternative", boundary=_boundary())
    msg["From"] = formataddr((name, address), charset="utf-8")
    msg["To"] = out.address
    msg["Subject"] = out.subject if out.subject.isascii() else Header(out.subject, "utf-8")
    msg["Date"] = formatdate(when, localtime=False)
    msg["Message-ID"] = message_id(out.event_key, mail_from)
    if out.unsubscribe_url:
        # RFC 8058: the receiver POSTs "List-Unsubscribe=One-Click" to the https address
        msg["List-Unsubscribe"] = f"<{out.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.attach(_part(out.text, "plain"))
    if out.html:
        html = _part(out.html, "html")
        images = out.extra.get("inline_images") or {}
        if images:
            # multipart/related: the HTML shows each as <img src="cid:...">
            related = MIMEMultipart("related", boundary=_boundary())
            del related["MIME-Version"]
            related.attach(html)
            for cid, png in images.items():
                image = MIMEImage(png, "png")
                del image["MIME-Version"]
                image["Content-ID"] = f"<{cid}>"
                image["Content-Disposition"] = "inline"
                related.attach(image)
            html = related
        msg.attach(html)
    return msg


def message_bytes(out: Outgoing, mail_from: str, when: float | None = None) -> bytes:
    """The message as it goes on the wire (CRLF line ends: what DKIM signs)."""
    return build_message(out, mail_from, when).as_bytes(policy=_WIRE)


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
        envelope = parseaddr(self.settings.mail_from)[1]
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
