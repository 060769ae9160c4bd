"""Security for every response: headers, the session cookie's Secure flag, owner-only views."""

from __future__ import annotations

import functools

from flask import Flask, abort, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from .auth import login_required

# no inline script or style anywhere: everything the pages run is a file under /static
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SessionInterface(SecureCookieSessionInterface):
    """The cookie is Secure whenever the page came over HTTPS (directly or via a proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def _headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if g.get("staff") is not None or request.path.startswith("/admin"):
        # pages with members' data must not be kept by a shared browser's cache
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def owner_required(view):
    """Only the owner's accounts; staff get 403 (the page exists, they may not see it)."""

    @functools.wraps(view)
    @login_required
    def wrapped(**kwargs):
        if g.staff.role != "owner":
            abort(403)
        return view(**kwargs)

    wrapped.owner_only = True
    return wrapped


class LoopbackProxyFix:
    """Believe X-Forwarded-For/-Proto only from nginx on this box (loopback).

    Behind the box's nginx every request comes from 127.0.0.1: without this, the login limit
    per address would lump all clients together and the session cookie would never be Secure.
    A client reaching gunicorn directly cannot fake its address this way.
    """

    LOOPBACK = ("127.0.0.1", "::1")

    def __init__(self, wsgi_app):
        self.plain = wsgi_app
        self.proxied = ProxyFix(wsgi_app, x_for=1, x_proto=1)

    def __call__(self, environ, start_response):
        if environ.get("REMOTE_ADDR") in self.LOOPBACK:
            return self.proxied(environ, start_response)
        return self.plain(environ, start_response)


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.after_request(_headers)
    app.wsgi_app = LoopbackProxyFix(app.wsgi_app)
