"""Message content: {{variables}} in the owner's text, SMS length rules, the email layout.

Templates are plain text with `{{ name }}` placeholders (VARIABLES); an unknown placeholder is
refused when the content is saved, never discovered while sending. HTML content gets its
values escaped; the ready-made email layout carries its CSS inline (style attributes), and
any <style> the owner's HTML brings is inlined with css-inline.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from .refusal import N_, Refusal

VARIABLES = {
    "first_name": "the member's first name (or 'there')",
    "name": "the member's full name",
    "stamps": "stamps on the current card",
    "stamps_left": "stamps still needed for the next reward",
    "reward": "the reward (the voucher's, else the next tier's)",
    "voucher_code": "the voucher code issued with this message",
    "voucher_qr": "address of the voucher's QR code image",
    "shop_name": "the shop's name",
    "unsubscribe_url": "one-click unsubscribe address",
    "wallet_url": "page where the member adds the card to Apple or Google Wallet",
    "apple_wallet_url": "the member's card as an Apple Wallet pass (.pkpass download)",
    "google_wallet_url": "the member's \"Save to Google Wallet\" address",
}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
SMS_MAX_CHARS = 640


class ContentError(Refusal):
    """Content the owner has to fix: the message says what (in the owner's language, see
    appliance.refusal)."""


def check_template(text: str, where: str) -> None:
    unknown = sorted({m for m in _PLACEHOLDER.findall(text or "") if m not in VARIABLES})
    if unknown:
        raise ContentError(
            N_("%(where)s: unknown variable(s) %(unknown)s; known: %(known)s."),
            where=where,
            unknown=", ".join(unknown),
            known=", ".join(VARIABLES),
        )


def render(text: str, values: dict, *, as_html: bool = False) -> str:
    def one(match):
        value = str(values.get(match.group(1), ""))
        return html.escape(value) if as_html else value

    return _PLACEHOLDER.sub(one, text or "")


# -- SMS ------------------------------------------------------------------------------------

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsInfo:
    length: int  # characters as the sender sees them
    encoding: str  # GSM-7 | UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int

    def to_dict(self) -> dict:
        return {
            "length": self.length,
            "encoding": self.encoding,
            "units": self.units,
            "segments": self.segments,
        }


def sms_info(text: str) -> SmsInfo:
    """Encoding and segment count as a phone network counts them.

    GSM-7: 160 septets in one SMS, 153 per part when split; ^{}[]~|\\€ take two septets.
    Anything else makes the whole text UCS-2: 70 units alone, 67 per part; characters
    outside the BMP (most emoji) take two units.
    """
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = -(-units // part)
    return SmsInfo(len(text), encoding, units, segments)


def check_sms(text: str, where: str = "SMS text") -> SmsInfo:
    info = sms_info(text)
    if info.length > SMS_MAX_CHARS:
        raise ContentError(
            N_("%(where)s has %(length)s characters; an SMS may have at most %(max)s."),
            where=where,
            length=info.length,
            max=SMS_MAX_CHARS,
        )
    return info


# -- email layout ---------------------------------------------------------------------------

_LAYOUT = """<!DOCTYPE html>
<html{html_attrs}><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="margin:0;padding:0;background:#f4f1ec;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f1ec;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"
 style="max-width:560px;background:#ffffff;border-radius:8px;font-family:Helvetica,Arial,sans-serif;color:#2b2b2b;">
<tr><td style="padding:20px 28px;font-size:20px;font-weight:bold;border-bottom:1px solid #eee;">
{shop}</td></tr>
<tr><td style="padding:24px 28px;font-size:16px;line-height:1.5;">{body}</td></tr>
{voucher}
<tr><td style="padding:16px 28px;font-size:12px;color:#777;border-top:1px solid #eee;">
{footer}</td></tr>
</table></td></tr></table></body></html>
"""
_VOUCHER = (
    '<tr><td align="center" style="padding:0 28px 24px;">'
    '<div style="border:2px dashed #c58b2c;border-radius:8px;padding:16px;">'
    '<div style="font-size:18px;font-weight:bold;">{reward}</div>'
    '<img src="{qr}" width="160" height="160" alt="QR code"'
    ' style="display:block;margin:12px auto;">'
    '<div style="font-family:Courier,monospace;font-size:18px;letter-spacing:2px;">{code}</div>'
    "</div></td></tr>"
)


def text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    return "".join(
        '<p style="margin:0 0 12px;">' + html.escape(p).replace("\n", "<br>") + "</p>"
        for p in paragraphs
    )


_FOOTER = (
    'You get this because you agreed to hear from {shop}.\n<a href="{unsubscribe}"'
    ' style="color:#777;">Unsubscribe</a>'
)


def email_html(
    body_html: str | None,
    text: str,
    values: dict,
    subject: str,
    *,
    footer_html: str | None = None,
    lang: str = "",
    rtl: bool = False,
) -> str:
    """The owner's HTML (or their text as paragraphs) inside the ready-made layout.

    footer_html replaces the English footer (a translated one, or a transactional message's,
    which has no unsubscribe link); lang and rtl go on <html> (Hebrew reads right to left).
    """
    body = render(body_html, values, as_html=True) if body_html else text_to_html(text)
    voucher = ""
    if values.get("voucher_code"):
        voucher = _VOUCHER.format(
            reward=html.escape(str(values.get("reward", ""))),
            qr=html.escape(str(values.get("voucher_qr", ""))),
            code=html.escape(str(values["voucher_code"])),
        )
    shop = html.escape(str(values.get("shop_name", "")))
    if footer_html is None:
        unsubscribe = html.escape(str(values.get("unsubscribe_url", "")))
        footer_html = _FOOTER.format(shop=shop, unsubscribe=unsubscribe)
    attrs = (f' lang="{html.escape(lang)}"' if lang else "") + (' dir="rtl"' if rtl else "")
    document = _LAYOUT.format(
        html_attrs=attrs,
        title=html.escape(subject),
        shop=shop,
        body=body,
        voucher=voucher,
        footer=footer_html,
    )
    if "<style" in document:
        # mail clients drop <style> blocks: the owner's CSS moves into style attributes
        import css_inline

        document = css_inline.inline(document)
    return document
