"""Flask extensions, created unbound and attached to each app in create_app."""

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


def init_csrf(app: Flask) -> None:
    """CSRF checked on every form, as Flask-WTF does, with the method looked at first.

    Flask-WTF's own hook inspected each request's view and blueprint for exemptions before
    it looked at the method, so every page view paid for a check that never applies to a
    GET. Its hook is turned off (WTF_CSRF_CHECK_DEFAULT) and this one calls the same check,
    exemptions included, for the methods it covers.
    """
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    config = app.config

    @app.before_request
    def csrf_check() -> None:
        if request.method in config["WTF_CSRF_METHODS"] and config["WTF_CSRF_ENABLED"]:
            csrf.protect(apply_exemptions=True)
