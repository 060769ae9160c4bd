"""The web process: login, the counter screen, the admin, self-signup and the local JSON API.

Gunicorn runs `web:create_app()` (gthread worker: a counter screen holds one thread with its
event stream). The app only adapts HTTP to the core in `appliance`; it owns no loyalty rules.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, redirect, url_for

from appliance.keys import secret_bytes
from appliance.provision import init_box
from appliance.settings import load_settings

from . import (
    admin,
    admin_automations,
    admin_birthdays,
    admin_campaigns,
    admin_chain,
    admin_segments,
    admin_wallet,
    api,
    auth,
    counter,
    db,
    errors,
    health,
    i18n,
    members,
    openapi,
    public,
    security,
    signup,
)
from . import wallet as wallet_service
from .extensions import csrf, init_csrf
from .flask_app import StampboxFlask
from .qr import qr_svg

__all__ = ["create_app"]


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app. test_config may carry "STAMPBOX_SETTINGS" (a Settings) and Flask keys."""
    test_config = dict(test_config or {})
    settings = test_config.pop("STAMPBOX_SETTINGS", None) or load_settings()
    # idempotent: every worker may call it; it creates secrets and schema on a fresh box
    init_box(settings)

    app = StampboxFlask(__name__)
    app.config.from_mapping(
        SECRET_KEY=secret_bytes(settings.secrets_dir, "web_session_key"),
        SESSION_COOKIE_NAME="stampbox_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # a shop day; every request (the event stream reconnects too) pushes it forward
        PERMANENT_SESSION_LIFETIME=timedelta(hours=14),
        # the counter screen stays open all day: a CSRF token bound to the session must not
        # expire after Flask-WTF's default hour, or Redeem would fail in the afternoon
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=64 * 1024,
        # the event stream: how long one response lives (EventSource then resumes by
        # Last-Event-ID, so workers are freed and restarts are seamless), how often it
        # polls the durable log, and how many past events a fresh screen shows
        COUNTER_STREAM_SECONDS=300.0,
        COUNTER_POLL_SECONDS=0.25,
        COUNTER_KEEPALIVE_SECONDS=15.0,
        COUNTER_BACKLOG=8,
    )
    app.config.update(test_config)
    app.config["STAMPBOX_SETTINGS"] = settings

    init_csrf(app)
    db.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    admin.init_app(app)
    app.jinja_env.globals["qr_svg"] = qr_svg
    app.register_blueprint(auth.bp)
    app.register_blueprint(counter.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(members.bp)
    app.register_blueprint(admin_segments.bp)
    app.register_blueprint(admin_campaigns.bp)
    app.register_blueprint(admin_automations.bp)
    app.register_blueprint(signup.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(health.bp)
    # messages' voucher QR images and the SMS provider's reply webhook (no login)
    app.register_blueprint(public.bp)
    app.register_blueprint(admin_birthdays.bp)
    app.register_blueprint(admin_chain.bp)
    # machines authenticate with bearer tokens, not cookies: CSRF cannot apply to them
    csrf.exempt(api.bp)
    # Apple's PassKit web service: ApplePass tokens, no cookies
    app.register_blueprint(wallet_service.bp)
    csrf.exempt(wallet_service.bp)
    app.register_blueprint(wallet_service.public)
    app.register_blueprint(admin_wallet.bp)

    @app.get("/")
    def index():
        return redirect(url_for("counter.screen"))

    return app
