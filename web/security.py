"""Security for every response: headers, the session cookie's Secure flag, owner-only views."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

from flask import Flask, abort, g, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature
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


_SERIALIZERS: dict[tuple, object] = {}
_OPENED: dict[tuple, tuple] = {}  # (serializer, cookie) -> (its data, when it was signed)
_PLAIN = (str, int, float, bool, type(None))
# a signed session as itsdangerous writes it: URL-safe base64 and dots, nothing to unquote
_SIGNED = re.compile(r"[A-Za-z0-9_.\-]+\Z")


def _session_cookie(request, name: str) -> str | None:
    """The named cookie's value, as request.cookies would give it.

    Werkzeug parses every cookie of the header into a dictionary (about 9 µs, on every
    page) for the one the session needs. A header without quotes is split here; the first
    cookie of that name wins, as in Werkzeug's parse. A header with quotes, or a value that
    is not a plain signed token, goes Werkzeug's way."""
    header = request.environ.get("HTTP_COOKIE")
    if not header:
        return None
    if '"' not in header:
        for part in header.split(";"):
            key, _, value = part.partition("=")
            if key.strip() == name:
                value = value.strip()
                if not value or _SIGNED.match(value):
                    return value
                break
        else:
            return None
    return request.cookies.get(name)


class SessionInterface(SecureCookieSessionInterface):
    """The cookie is Secure whenever the page came over HTTPS (directly or via a proxy).

    A permanent session slides forward, but not on every request: re-signing and re-sending
    the cookie cost every page a little (see bench/README.md). It is sent again when the
    session changed or when the cookie is older than REFRESH_AFTER, so a session still ends
    PERMANENT_SESSION_LIFETIME after the last activity, give or take those minutes.
    """

    REFRESH_AFTER = timedelta(minutes=10)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def get_signing_serializer(self, app: Flask):
        # Flask builds a new serializer per request, and itsdangerous checks it by serializing
        # a sample each time: one per (app, keys) is enough, it keeps no request state
        if not app.secret_key:
            return None
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = _SERIALIZERS.get(key)
        if serializer is None:
            if len(_SERIALIZERS) > 64:  # tests make an app (and key) each
                _SERIALIZERS.clear()
            serializer = _SERIALIZERS[key] = super().get_signing_serializer(app)
        return serializer

    def open_session(self, app: Flask, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = _session_cookie(request, self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        # A cookie checked once stays valid under the same keys until it is max_age old: the
        # same string is not checked and decoded again on every page (its age still is)
        known = (serializer, value)
        kept = _OPENED.get(known)
        if kept is not None and (datetime.now(UTC) - kept[1]).total_seconds() <= max_age:
            data, signed_at = kept
        else:
            try:
                data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            # only sessions of plain values: a list (flashed messages) is changed in place
            if isinstance(data, dict) and all(type(v) in _PLAIN for v in data.values()):
                if len(_OPENED) > 10_000:  # sessions come and go: keep the memory bounded
                    _OPENED.clear()
                _OPENED[known] = (data, signed_at)
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def save_session(self, app: Flask, session, response) -> None:
        # the usual page: a session read but not changed, its cookie still fresh. Flask's
        # own path parsed and re-wrote the Vary header and asked for seven cookie settings
        if session and not self.should_set_cookie(app, session):
            # a no-store answer is kept by no cache (RFC 9111, 5.2.2.5), so no cache needs
            # to know it varies by cookie: one header less on every staff page
            if session.accessed and "no-store" not in response.headers.get("Cache-Control", ""):
                if any(name.lower() == "vary" for name, _ in response.headers):
                    response.vary.add("Cookie")
                else:
                    response.headers.add("Vary", "Cookie")
            return
        super().save_session(app, session, response)

    def should_set_cookie(self, app: Flask, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or datetime.now(UTC) - signed_at > self.REFRESH_AFTER


# as the WSGI server gets them: (lower-case name, (name, value))
_CONSTANT = tuple((name.lower(), (name, value)) for name, value in HEADERS.items())


class SecurityHeaders:
    """Every response gets HEADERS, unless its view set its own (those stay).

    Added to the list the WSGI server is handed: Werkzeug's Headers checked each of these
    constant values for line breaks when added and again when copied for the server, five
    headers on every page (bench/README.md, seventh pass)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def respond(status, headers, exc_info=None):
            given = {name.lower() for name, _ in headers}
            headers.extend(item for lower, item in _CONSTANT if lower not in given)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, respond)


def _no_store(response):
    # pages with members' data must not be kept by a shared browser's cache (a view may
    # have said otherwise: that stays)
    # (getlist, not `in`: Werkzeug's `in` raises and catches a KeyError when it is absent)
    if (
        g.get("staff") is not None or request.path.startswith("/admin")
    ) and not response.headers.getlist("Cache-Control"):
        response.headers.add("Cache-Control", "no-store")
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

    # what ProxyFix(x_for=1, x_proto=1) reads: a request without them it leaves unchanged
    FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")

    def __call__(self, environ, start_response):
        if environ.get("REMOTE_ADDR") in self.LOOPBACK and (
            self.FORWARDED[0] in environ or self.FORWARDED[1] in environ
        ):
            return self.proxied(environ, start_response)
        return self.plain(environ, start_response)


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.after_request(_no_store)
    app.wsgi_app = SecurityHeaders(LoopbackProxyFix(app.wsgi_app))
