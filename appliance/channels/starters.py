"""Ready-made messages the owner starts from and fills in: subject, text, HTML, SMS and a
wallet push.

The HTML goes inside the ready-made email layout (messages.email_html: the shop's name on
top, the voucher with its QR when the campaign issues one, the unsubscribe footer); its
<style> block is inlined when sent, since mail clients drop style sheets. Only the
variables of messages.VARIABLES are used, so every starter passes the content checks.
"""

from __future__ import annotations

# one rule and one block a line: the owner edits this in a text box
_STYLE = """<style>
h1 { font-size: 22px; margin: 0 0 12px; color: #2b2b2b; }
p { margin: 0 0 12px; }
.lead { font-size: 18px; }
.cta { display: inline-block; background: #c58b2c; color: #ffffff; padding: 10px 18px;
  border-radius: 6px; font-weight: bold; }
.small { font-size: 13px; color: #666; }
</style>
"""


def _wallet_text(sms: str) -> str:
    """The SMS's words on the member's pass, which names the shop already; a link to the QR
    image would only be a long address there (the code itself stays)."""
    text = sms.removeprefix("{{shop_name}}: ").replace(" {{voucher_qr}}", "")
    return text[:1].upper() + text[1:]


def _starter(label, subject, heading, lead, body, cta, sms, segment=None, voucher=False):
    text = f"{heading}\n\n{lead}\n\n{body}\n\n{cta}"
    html = (
        f"{_STYLE}<h1>{heading}</h1>\n<p class='lead'>{lead}</p>\n<p>{body}</p>\n"
        f"<p><span class='cta'>{cta}</span></p>\n"
    )
    return {
        "label": label,
        # the audience it is written for (None: any) and whether it offers each a voucher
        "segment": segment,
        "voucher": voucher,
        "content": {
            "email": {"": {"subject": subject, "text": text, "html": html}},
            "sms": {"": {"text": sms}},
            "wallet": {"": {"text": _wallet_text(sms)}},
        },
    }


STARTERS = {
    "news": _starter(
        "News from the shop",
        "News from {{shop_name}}",
        "Hello {{first_name}}!",
        "We have something new for you.",
        "Write your news here: a new product, new opening hours, an event.",
        "See you soon at {{shop_name}}",
        "{{shop_name}}: hello {{first_name}}! Write your news here.",
    ),
    "offer": _starter(
        "An offer with a voucher",
        "A gift for you, {{first_name}}",
        "A gift for you, {{first_name}}",
        "Show this code at the counter: {{voucher_code}}",
        "It is good for: {{reward}}. Describe the offer and how long it lasts here.",
        "Scan it at {{shop_name}}",
        "{{shop_name}}: a gift for you, {{first_name}}! {{reward}} with code {{voucher_code}}"
        " {{voucher_qr}}",
        voucher=True,
    ),
    "almost_there": _starter(
        "Close to a reward",
        "Only {{stamps_left}} more for {{reward}}",
        "So close, {{first_name}}!",
        "You have {{stamps}} stamps: {{stamps_left}} more and {{reward}} is yours.",
        "Add a reason to drop by this week here.",
        "Collect them at {{shop_name}}",
        "{{shop_name}}: {{stamps}} stamps! {{stamps_left}} more for {{reward}}.",
        segment="close-to-reward",
    ),
    "we_miss_you": _starter(
        "We miss you (win-back)",
        "We miss you, {{first_name}}",
        "It has been a while, {{first_name}}",
        "Your card still has {{stamps}} stamps waiting for you.",
        "Tell them what is new since their last visit here.",
        "Come back to {{shop_name}}",
        "{{shop_name}}: we miss you, {{first_name}}! Your {{stamps}} stamps are waiting.",
        segment="inactive",
    ),
    "birthday": _starter(
        "Happy birthday",
        "Happy birthday, {{first_name}}!",
        "Happy birthday, {{first_name}}!",
        "Celebrate with us: {{reward}}.",
        "Say how to claim the birthday gift here.",
        "Celebrate at {{shop_name}}",
        "{{shop_name}}: happy birthday, {{first_name}}! {{reward}} is waiting for you.",
        segment="birthday",
    ),
}


def starter_content(name: str, channels=("email", "sms")) -> dict:
    """A starter's content for those of the channels asked for that it has (a fresh copy the
    owner may edit). The texts exist in English only: they fill the every-language slot."""
    content = STARTERS[name]["content"]
    return {
        ch: {lang: dict(parts) for lang, parts in content[ch].items()}
        for ch in channels
        if ch in content
    }


__all__ = ["STARTERS", "starter_content"]
