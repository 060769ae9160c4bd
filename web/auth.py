"""Owner and staff login: a session cookie for people at the counter or in the back office."""

from __future__ import annotations

import functools
import math
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length

from appliance.staff import StaffError, change_own_password, staff_by_id
from appliance.staff import login as check_login

from .refusals import explain

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=200)])


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired(), Length(max=200)])
    new = PasswordField("New password", validators=[InputRequired(), Length(max=200)])
    confirm = PasswordField(
        "New password again",
        validators=[
            InputRequired(),
            EqualTo("new", message=lazy_gettext("The two new passwords differ.")),
        ],
    )


@bp.before_app_request
def load_staff() -> None:
    staff_id = session.get("staff_id")
    # a deleted account loses access at its next request, not when its cookie expires
    g.staff = staff_by_id(staff_id) if isinstance(staff_id, int) else None


def login_required(view):
    """A logged-in person; one still holding a password someone else gave them chooses their
    own first (every staff page goes through here, owner pages too)."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.staff is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if g.staff.must_change_password:
            return redirect(url_for("auth.change_password", next=request.full_path.rstrip("?")))
        return view(**kwargs)

    wrapped.login_required = True
    return wrapped


def _safe_next(target: str | None) -> str:
    # only paths on this box: a crafted ?next= must not send staff to another site
    parts = urlsplit(target or "")
    if (
        not target
        or parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return url_for("counter.screen")
    return target


# A browser an account logged in from: a signed list of account names in a long-lived cookie.
# Its holder is not held by the account-wide back-off (someone guessing at the owner's
# account from another machine cannot keep the owner out); per-address limits still apply.
KNOWN_COOKIE = "stampbox_known"
_KNOWN_MAX = 5


def _known_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="known-device")


def known_accounts() -> list[str]:
    raw = request.cookies.get(KNOWN_COOKIE)
    if not raw:
        return []
    try:
        names = _known_serializer().loads(raw)
    except BadSignature:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _remember_device(response, username: str) -> None:
    names = [username, *(n for n in known_accounts() if n != username)][:_KNOWN_MAX]
    response.set_cookie(
        KNOWN_COOKIE,
        _known_serializer().dumps(names),
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"] or request.is_secure),
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        result = check_login(
            username,
            form.password.data,
            request.remote_addr,
            known_device=username in known_accounts(),
        )
        if result.throttled:
            flash(_throttled(result.retry_after), "error")
            page = render_template("auth/login.html", form=form)
            return page, 429, {"Retry-After": str(result.retry_after)}
        user = result.user
        if user is not None:
            # a fresh session: nothing set before login (fixation) survives it
            session.clear()
            session.permanent = True
            session["staff_id"] = user.id
            target = _safe_next(request.args.get("next"))
            if user.must_change_password:
                target = url_for("auth.change_password", next=target)
            response = redirect(target)
            _remember_device(response, user.username)
            return response
        flash(gettext("Wrong username or password. Check the caps lock and try again."), "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


def _throttled(seconds: int) -> str:
    if seconds < 90:
        return gettext(
            "Too many wrong passwords. Try again in %(count)s seconds, or ask the owner to check"
            " the account.",
            count=seconds,
        )
    return gettext(
        "Too many wrong passwords. Try again in %(count)s minutes, or ask the owner to check"
        " the account.",
        count=math.ceil(seconds / 60),
    )


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    """Choose one's own password: required after a one-time or owner-set one, open to all."""
    if g.staff is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        try:
            change_own_password(g.staff.id, form.current.data, form.new.data, request.remote_addr)
        except StaffError as exc:
            flash(explain(exc), "error")
            status = 400
        else:
            flash(gettext("Your new password is set."), "info")
            return redirect(_safe_next(request.args.get("next")))
    elif form.is_submitted():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        status = 400
    return render_template(
        "auth/password.html", form=form, forced=g.staff.must_change_password
    ), status


@bp.post("/logout")
def logout():
    session.clear()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("auth.login"))
