"""The back office: dashboard, staff accounts, device tokens, program, audit log.

Owner-only pages use `owner_required`; staff reach the counter and the member pages.
Every POST here is CSRF-checked by CSRFProtect and every change is audited by the core.
"""

from __future__ import annotations

import functools
import json
from datetime import date
from datetime import time as dt_time
from decimal import Decimal

from babel.dates import format_date, format_time
from babel.numbers import (
    format_currency,
    format_decimal,
    get_decimal_symbol,
    get_group_symbol,
)
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.globals import _cv_request
from flask_babel import gettext

from appliance import box as box_mod
from appliance.dashboard import build_dashboard
from appliance.models import (
    AuditLog,
    CounterEvent,
    DeviceHealth,
    DeviceToken,
    PrintJob,
    StaffUser,
)
from appliance.printer_status import printer_state
from appliance.program import ProgramError, load_program, parse_tier, set_program
from appliance.receipts import last_valid_day
from appliance.shop import (
    LANGUAGES,
    ShopSettingsError,
    load_shop_settings,
    logo_path,
    logo_type,
    save_logo,
    save_shop_settings,
)
from appliance.shop_zone import ShopZone
from appliance.staff import (
    ROLES,
    StaffError,
    TokenError,
    create_device_token,
    create_staff,
    delete_staff,
    revoke_device_token,
    set_password,
)

from . import page_cache
from .charts import svg_bars
from .page_cache import page_locale
from .refusals import explain
from .security import owner_required

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PAGE = 100


def _actor() -> str:
    return g.staff.username


def _back(endpoint: str, message: str, category: str = "info", **values):
    flash(message, category)
    return redirect(url_for(endpoint, **values))


@bp.get("")
@owner_required
def dashboard():
    board = build_dashboard(zone=page_zone())
    return render_template("admin/dashboard.html", board=board, svg_bars=svg_bars)


@bp.get("/staff")
@owner_required
def staff():
    users = StaffUser.select().order_by(StaffUser.username)
    return render_template("admin/staff.html", users=users, roles=ROLES)


@bp.post("/staff")
@owner_required
def staff_create():
    form = request.form
    try:
        user = create_staff(
            form.get("username", ""), form.get("password", ""), form.get("role", ""), _actor()
        )
    except StaffError as exc:
        return _back("admin.staff", explain(exc), "error")
    return _back("admin.staff", gettext("Account %(name)s created.", name=user.username))


@bp.post("/staff/<int:user_id>/password")
@owner_required
def staff_password(user_id: int):
    try:
        set_password(user_id, request.form.get("password", ""), _actor())
    except (StaffError, StaffUser.DoesNotExist) as exc:
        message = explain(exc) if isinstance(exc, StaffError) else ""
        return _back("admin.staff", message or gettext("There is no such account."), "error")
    return _back("admin.staff", gettext("Password changed."))


@bp.post("/staff/<int:user_id>/delete")
@owner_required
def staff_delete(user_id: int):
    try:
        delete_staff(user_id, _actor())
    except StaffError as exc:
        return _back("admin.staff", explain(exc), "error")
    return _back("admin.staff", gettext("Account removed."))


@bp.get("/devices")
@owner_required
def devices():
    tokens = DeviceToken.select().order_by(DeviceToken.revoked_at.is_null(False), DeviceToken.name)
    last_event = CounterEvent.select().order_by(CounterEvent.id.desc()).first()
    last_print = PrintJob.select().order_by(PrintJob.id.desc()).first()
    pending_prints = PrintJob.select().where(PrintJob.state == "pending").count()
    return render_template(
        "admin/devices.html",
        tokens=tokens,
        last_event=last_event,
        last_print=last_print,
        pending_prints=pending_prints,
        health=DeviceHealth.select().order_by(DeviceHealth.name),
        printer=printer_state(),
    )


@bp.post("/devices")
@owner_required
def devices_create():
    name = request.form.get("name", "")
    try:
        token = create_device_token(name, actor=_actor())
    except TokenError as exc:
        return _back("admin.devices", explain(exc), "error")
    # shown once, like the owner's first password: only its hash is stored
    flash(
        gettext(
            "Token for %(name)s (shown only this once): %(token)s", name=name.strip(), token=token
        ),
        "info",
    )
    return redirect(url_for("admin.devices"))


@bp.post("/devices/revoke")
@owner_required
def devices_revoke():
    name = request.form.get("name", "")
    if revoke_device_token(name, actor=_actor()):
        return _back("admin.devices", gettext("The token of %(name)s no longer works.", name=name))
    return _back("admin.devices", gettext("%(name)s has no active token.", name=name), "error")


@bp.get("/program")
@owner_required
def program():
    return render_template("admin/program.html", program=load_program())


@bp.post("/program")
@owner_required
def program_save():
    lines = [line for line in request.form.get("tiers", "").splitlines() if line.strip()]
    try:
        tiers = [parse_tier(line) for line in lines]
        days = int(request.form.get("voucher_days") or 0) or None
        set_program(tiers, days, actor=_actor())
    except ValueError as exc:
        if isinstance(exc, ProgramError):
            message = explain(exc)
        else:
            message = gettext("Days must be a whole number.")
        return _back("admin.program", message, "error")
    return _back("admin.program", gettext("Program saved."))


@bp.get("/settings")
@owner_required
def settings():
    return render_template(
        "admin/settings.html",
        shop=load_shop_settings(),
        languages=LANGUAGES,
        has_logo=logo_path(_settings()).exists(),
    )


@bp.post("/settings")
@owner_required
def settings_save():
    try:
        save_shop_settings(request.form, _actor())
    except ShopSettingsError as exc:
        return _back("admin.settings", explain(exc), "error")
    return _back("admin.settings", gettext("Settings saved."))


@bp.post("/settings/logo")
@owner_required
def logo_upload():
    upload = request.files.get("logo")
    try:
        save_logo(_settings(), upload.read() if upload else b"", _actor())
    except ShopSettingsError as exc:
        return _back("admin.settings", explain(exc), "error")
    return _back("admin.settings", gettext("Logo saved."))


def _settings():
    return current_app.config["STAMPBOX_SETTINGS"]


def shop_logo():
    """The shop's logo for every page (customers too); 404 until the owner uploads one."""
    path = logo_path(_settings())
    if not path.exists():
        abort(404)
    data = path.read_bytes()
    response = make_response(data)
    response.headers["Content-Type"] = logo_type(data) or "application/octet-stream"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def page_zone():
    """The zone times are shown in: the shop's setting, else the box's (see ShopZone).

    Resolved once per request to the concrete zone: a page converts a hundred moments, and
    a Python-level tzinfo costs several times zoneinfo's C implementation per conversion."""
    if "_zone" not in g:
        zone = box_mod.current().zone
        g._zone = zone.current() if isinstance(zone, ShopZone) else zone
    return g._zone


@bp.get("/audit")
@owner_required
def audit_log():
    page = max(1, request.args.get("page", 1, type=int))
    rows = list(
        AuditLog.select()
        .order_by(AuditLog.id.desc())
        .limit(AUDIT_PAGE + 1)
        .offset((page - 1) * AUDIT_PAGE)
    )
    entries = [(r, json.loads(r.detail or "{}")) for r in rows[:AUDIT_PAGE]]
    return render_template(
        "admin/audit.html", entries=entries, page=page, has_more=len(rows) > AUDIT_PAGE
    )


# a member page shows a hundred moments: Babel's formatting costs ~20 µs each, so the
# date and the time are each formatted once per language and kept
@functools.lru_cache(maxsize=8192)
def _date_text(locale: str, year: int, month: int, day: int) -> str:
    return format_date(date(year, month, day), "medium", locale=locale)


@functools.lru_cache(maxsize=8192)
def _time_text(locale: str, hour: int, minute: int) -> str:
    return format_time(dt_time(hour, minute), "short", locale=locale)


@functools.lru_cache(maxsize=4096)
def _number_text(locale: str, value: int) -> str:
    return format_decimal(value, locale=locale)


def _money_text(locale: str, currency: str, cents: int) -> str:
    """An amount of cents the way Babel writes it: through a template of Babel's own answer
    where one was checked (Babel's format_currency costs ~80 µs, and amounts rarely repeat),
    else Babel itself."""
    shape = _money_shape(locale, currency)
    if shape is None:
        return _babel_money(locale, currency, cents)
    return _shaped_money(shape, cents)


def _babel_money(locale: str, currency: str, cents: int) -> str:
    return format_currency(Decimal(cents) / 100, currency, locale=locale)


# amounts that check a shape against Babel: every length of grouping, both signs, zero
_MONEY_CHECKS = (0, 1, 5, 99, 100, 105, 1_234, 99_999, 123_456, 1_000_000, 123_456_789,
                 10**13 + 7, -1, -99, -100, -123_456, -123_456_789)  # fmt: skip


@functools.lru_cache(maxsize=64)
def _money_shape(locale: str, currency: str) -> tuple | None:
    """(positive template, negative template, group symbol, decimal symbol) taken from Babel
    for 3-digit grouping and two decimals, or None when this locale and currency write
    money some other way (then Babel formats every amount)."""
    try:
        sample = _babel_money(locale, currency, 123_456_789)
        negative = _babel_money(locale, currency, -123_456_789)
        group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    except (ValueError, LookupError):
        return None
    number = f"1{group}234{group}567{decimal}89"
    if sample.count(number) != 1 or negative.count(number) != 1:
        return None  # another grouping, other digits, or no decimals (JPY)
    shape = (sample.replace(number, "{}"), negative.replace(number, "{}"), group, decimal)
    if any(_shaped_money(shape, c) != _babel_money(locale, currency, c) for c in _MONEY_CHECKS):
        return None
    return shape


def _shaped_money(shape: tuple, cents: int) -> str:
    positive, negative, group, decimal = shape
    whole, part = divmod(abs(cents), 100)
    number = f"{whole:,}".replace(",", group) + f"{decimal}{part:02d}"
    return (negative if cents < 0 else positive).replace("{}", number)


def init_app(app) -> None:
    app.add_url_rule("/logo", "shop_logo", shop_logo)
    page_cache.init_app(app)

    @app.template_filter("when")
    def when(moment):
        """A moment in the shop's zone, written the way the page's language writes dates."""
        if moment is None:
            return ""
        # a page shows dozens of moments: the zone and the language are looked up once,
        # and kept on the request's context (no proxy per moment)
        ctx = _cv_request.get(None)
        kept = getattr(ctx, "stampbox_when", None)  # no exception made when absent
        if kept is None:
            kept = page_zone(), page_locale()
            if ctx is not None:
                ctx.stampbox_when = kept
        zone, locale = kept
        local = moment.astimezone(zone)
        return (
            f"{_date_text(locale, local.year, local.month, local.day)}"
            f" {_time_text(locale, local.hour, local.minute)}"
        )

    @app.template_filter("last_day")
    def last_day(moment):
        """A voucher's last valid day: its end is the exclusive midnight after that day."""
        if moment is None:
            return ""
        day = last_valid_day(moment, page_zone())
        return _date_text(page_locale(), day.year, day.month, day.day)

    @app.template_filter("number")
    def number(value):
        return _number_text(page_locale(), int(value or 0))

    @app.template_filter("money")
    def money(cents):
        return _money_text(page_locale(), load_shop_settings().currency, int(cents or 0))
