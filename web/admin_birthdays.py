"""The owner's birthday pages: who has a birthday soon, the gifts per month, and the settings
(the gift, its kind and validity, and its announcement per channel and language).

Owner only; every form is CSRF-checked (CSRFProtect) and every change audited by the core.
"""

from __future__ import annotations

import functools
from datetime import date

from babel.dates import format_date
from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext

from appliance import channels
from appliance.automations import AutomationError
from appliance.automations import load as load_automation
from appliance.birthday_report import monthly_gifts, upcoming_birthdays
from appliance.birthdays import (
    KINDS,
    BirthdayError,
    BirthdayGift,
    load_gift,
    save_announcement,
    save_gift,
)
from appliance.shop import LANGUAGES

from .i18n import page_language
from .refusals import explain
from .security import owner_required

bp = Blueprint("birthdays", __name__, url_prefix="/admin/birthdays")
# "" is the text for every language without its own
CONTENT_LANGUAGES = ("", *LANGUAGES)


def _parts(channel: str) -> tuple[str, ...]:
    return ("subject", "text") if channel == "email" else ("text",)


def _back(message: str, category: str = "info"):
    flash(message, category)
    return redirect(url_for("birthdays.settings"))


def _automations_page() -> str | None:
    """The general automations admin (another blueprint), at the birthday one if it has it."""
    rules = {r.rule.rstrip("/"): r for r in current_app.url_map.iter_rules() if "GET" in r.methods}
    for path, values in (("/admin/automations/<name>", {"name": "birthday"}),
                         ("/admin/automations", {})):  # fmt: skip
        if path in rules:
            return url_for(rules[path].endpoint, **values)
    return None


@bp.get("")
@owner_required
def overview():
    return render_template(
        "admin/birthdays.html",
        gift=load_gift(),
        announcement=load_automation("birthday"),
        upcoming=upcoming_birthdays(),
        months=monthly_gifts(),
    )


@bp.get("/settings")
@owner_required
def settings():
    return render_template(
        "admin/birthday_settings.html",
        gift=load_gift(),
        kinds=KINDS,
        announcement=load_automation("birthday"),
        channel_names=list(channels.REGISTRY),
        languages=CONTENT_LANGUAGES,
        parts=_parts,
        automations_url=_automations_page(),
    )


@bp.post("/settings")
@owner_required
def settings_save():
    form = request.form
    try:
        lead, after = int(form.get("lead_days", "")), int(form.get("after_days", ""))
    except ValueError:
        return _back(gettext("Days before and after the birthday are whole numbers."), "error")
    wanted = BirthdayGift(
        gift=form.get("gift", ""),
        kind=form.get("kind", ""),
        lead_days=lead,
        after_days=after,
        enabled=form.get("enabled") == "on",
    )
    try:
        save_gift(wanted, actor=g.staff.username)
    except BirthdayError as exc:
        return _back(explain(exc), "error")
    return _back(gettext("Birthday gift saved."))


@bp.post("/announcement")
@owner_required
def announcement_save():
    form = request.form
    content: dict = {}
    for channel in channels.REGISTRY:
        for lang in CONTENT_LANGUAGES:
            parts = {
                part: form.get(f"{channel}.{lang}.{part}", "").strip() for part in _parts(channel)
            }
            if any(parts.values()):
                content.setdefault(channel, {})[lang] = parts
    chosen = [c for c in channels.REGISTRY if form.get(f"channel.{c}") == "on"]
    try:
        save_announcement(
            form.get("enabled") == "on", chosen, content or None, actor=g.staff.username
        )
    except AutomationError as exc:
        return _back(explain(exc), "error")
    return _back(gettext("Birthday announcement saved."))


@bp.app_template_filter("calendar_day")
def calendar_day(value: str | date, pattern: str = "medium") -> str:
    """A calendar date (no time, no zone: the shop's own day) in the page's language."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return _calendar_day(page_language() or "en", day, pattern)


@functools.lru_cache(maxsize=4096)
def _calendar_day(locale: str, day: date, pattern: str) -> str:
    # member pages show the next birthday: Babel costs ~40 µs a date, a year has 366
    return format_date(day, pattern, locale=locale)


@bp.app_template_filter("calendar_month")
def calendar_month(value: str) -> str:
    """'2027-03' as the page's language writes a month and year."""
    return format_date(date.fromisoformat(f"{value}-01"), "LLLL y", locale=page_language() or "en")
