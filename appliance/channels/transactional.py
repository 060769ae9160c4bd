"""Messages in the member's language, and the transactional signup confirmation.

A transactional message is one the member asked for (the double opt-in confirmation): it
needs no marketing consent (it is how consent is asked for) and carries no unsubscribe
link, but it never goes to an erased member or to an address that bounced.

Wording: appliance.wording (the members' languages and catalogues).
"""

from __future__ import annotations

import html

from ..messages import email_html, render
from ..wording import HTML_LANG, RTL, gettext

# -- the footer every marketing email carries ------------------------------------------------

MARKETING_FOOTER = "You get this because you agreed to hear from {{shop_name}}."
UNSUBSCRIBE = "Unsubscribe"
PREFERENCES = "Your preferences"


def marketing_footer(lang: str, values: dict) -> tuple[str, str]:
    """(text, HTML) footer with the unsubscribe and preference links, in the member's language."""
    sentence = render(gettext(lang, MARKETING_FOOTER), values)
    links = [
        (gettext(lang, UNSUBSCRIBE), str(values.get("unsubscribe_url", ""))),
        (gettext(lang, PREFERENCES), str(values.get("preferences_url", ""))),
    ]
    links = [(word, url) for word, url in links if url]
    lines = "".join(f"{word}: {url}\n" for word, url in links)
    text = f"\n\n--\n{values.get('shop_name', '')}\n{sentence}\n{lines}"
    markup = html.escape(sentence) + "".join(
        f'\n<a href="{html.escape(url)}" style="color:#777;">{html.escape(word)}</a>'
        for word, url in links
    )
    return text, markup


# -- the signup confirmation (double opt-in) -------------------------------------------------

CONFIRM_SUBJECT = "Confirm your email address for {{shop_name}}"
HELLO_NAMED = "Hello {{first_name}},"
HELLO = "Hello,"
CONFIRM_ASK = "Please confirm that you want offers and news from {{shop_name}} by email."
CONFIRM_BUTTON = "Confirm my email address"
CONFIRM_IGNORE = "If you did not sign up, ignore this message: you will get no offers by email."
CONFIRM_FOOTER = (
    "You get this message because this address was given when signing up at {{shop_name}}."  # noqa: E501
)
WORDING = (
    MARKETING_FOOTER,
    UNSUBSCRIBE,
    PREFERENCES,
    CONFIRM_SUBJECT,
    HELLO_NAMED,
    HELLO,
    CONFIRM_ASK,
    CONFIRM_BUTTON,
    CONFIRM_IGNORE,
    CONFIRM_FOOTER,
)

_BUTTON = (
    '<p style="margin:20px 0;"><a href="{{confirm_url}}" style="display:inline-block;'
    "background:#c58b2c;color:#ffffff;text-decoration:none;font-weight:bold;"
    'padding:12px 22px;border-radius:6px;">{button}</a></p>'
)


def confirmation(lang: str, values: dict) -> dict:
    """Subject, text and HTML of the confirmation email; values carry confirm_url."""

    def t(text):
        return gettext(lang, text)

    hello = t(HELLO_NAMED) if values.get("first_name") else t(HELLO)
    subject = render(t(CONFIRM_SUBJECT), values)
    text = "\n\n".join(
        [
            render(hello, values),
            render(t(CONFIRM_ASK), values),
            str(values["confirm_url"]),
            t(CONFIRM_IGNORE),
            f"--\n{values.get('shop_name', '')}\n{render(t(CONFIRM_FOOTER), values)}",
        ]
    )
    body = "".join(
        [
            f'<p style="margin:0 0 12px;">{html.escape(render(hello, values))}</p>',
            f'<p style="margin:0 0 12px;">{html.escape(render(t(CONFIRM_ASK), values))}</p>',
            _BUTTON.replace("{button}", html.escape(t(CONFIRM_BUTTON))),
            f'<p style="margin:0 0 12px;font-size:13px;color:#555;">'
            f"{html.escape(str(values['confirm_url']))}</p>",
            f'<p style="margin:0;">{html.escape(t(CONFIRM_IGNORE))}</p>',
        ]
    )
    markup = email_html(
        body,
        "",
        values,
        subject,
        footer_html=html.escape(render(t(CONFIRM_FOOTER), values)),
        lang=HTML_LANG.get(lang, lang),
        rtl=lang in RTL,
    )
    return {"subject": subject, "text": text + "\n", "html": markup}
