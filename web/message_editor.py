"""The message editor that campaigns and automations share: form fields to content, SMS checks,
and the preview of a message for one member.

No routes here: the campaign and automation blueprints call these with their own core
functions (appliance.campaigns.preview_campaign, appliance.automations.preview).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, make_response, render_template, request
from flask_babel import gettext

from appliance import box as box_mod
from appliance.channels import REGISTRY
from appliance.channels.delivery import Suppressed
from appliance.messages import SMS_MAX_CHARS, VARIABLES, sms_info
from appliance.search import search_members
from appliance.shop import LANGUAGES

# the parts of a message each channel takes, in the order the form shows them
PARTS = {"email": ("subject", "text", "html"), "sms": ("text",), "wallet": ("text",)}
# the preview of an email is the real message: its own inline styles, no script, in a frame
PREVIEW_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox"
)

Render = Callable[[int], dict]  # member id → {channel: {part: text}}


def content_from_form(form, channel_names) -> dict:
    """Fields c.<channel>.<lang>.<part> → {channel: {locale: {part: text}}}; "" = every language."""
    content = {}
    for channel in channel_names:
        per_locale = {}
        for lang in ("", *LANGUAGES):
            parts = {}
            for part in PARTS.get(channel, ("text",)):
                value = form.get(f"c.{channel}.{lang or 'all'}.{part}", "").replace("\r\n", "\n")
                if value.strip():
                    parts[part] = value
            if parts:
                per_locale[lang] = parts
        if per_locale:
            content[channel] = per_locale
    return content


def sms_checks(content: dict) -> list[dict]:
    """Each SMS text as written (before variables): length, encoding and parts."""
    return [
        {"lang": lang, **sms_info(parts.get("text", "")).to_dict()}
        for lang, parts in (content.get("sms") or {}).items()
    ]


def editor_context(**values) -> dict:
    """What the editor's templates need besides the message itself."""
    return {
        "channel_names": list(REGISTRY),
        # a channel plugged in later (see appliance.channels.register) takes a text
        "parts": {name: PARTS.get(name, ("text",)) for name in REGISTRY},
        "languages": LANGUAGES,
        "variables": VARIABLES,
        "sms_max": SMS_MAX_CHARS,
        **values,
    }


def first_member() -> int | None:
    return box_mod.current().db.execute_sql("SELECT MIN(id) FROM member").fetchone()[0]


def _chosen_member() -> tuple[int | None, str]:
    """The member a preview is for: ?member= a number, or a name, email, phone or card."""
    asked = request.args.get("member", "").strip()
    if not asked:
        return first_member(), ""
    if asked.isdigit():
        return int(asked), asked
    found = search_members(asked, 1, 1).rows
    return (found[0].id if found else None), asked


def preview_page(template: str, render: Render, **context) -> str:
    """The page `template` with the message rendered for the member the query asks for."""
    member_id, asked = _chosen_member()
    preview, problem = None, None
    if member_id is None and asked:
        problem = gettext("No member matches %(query)s.", query=asked)
    elif member_id is None:
        problem = gettext("A preview needs at least one member.")
    else:
        try:
            preview = render(member_id)
        except Suppressed:
            problem = gettext("There is no member %(id)s.", id=member_id)
    context.setdefault("sms_max", SMS_MAX_CHARS)
    return render_template(
        template, member_id=member_id, preview=preview, problem=problem, **context
    )


def email_html_response(render: Render, member_id: int):
    """The rendered email's HTML alone, locked down to be shown in the preview's frame."""
    try:
        page = render(member_id).get("email", {}).get("html") or abort(404)
    except Suppressed:
        abort(404)
    response = make_response(page)
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
