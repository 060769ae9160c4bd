"""Per-page costs paid once: URLs, the signed CSRF token, the page's locale.

An admin page builds dozens of URLs (the navigation, a link per listed member) and
formats a date per row. Measured on the member pages (bench/admin.py), werkzeug's URL
building, the CSRF token's signature and Babel's locale lookup were a large share of
each request. The results do not change between requests, so they are kept.
"""

from __future__ import annotations

import functools

from flask import Flask, current_app, g, request, session, url_for
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf


@functools.lru_cache(maxsize=4096)
def _built(script_root: str, endpoint: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))


def cached_url_for(endpoint: str, **values) -> str:
    """url_for for templates; the same endpoint and values always give the same path."""
    # relative endpoints depend on the blueprint, _external/_scheme on the request's host
    if endpoint.startswith(".") or any(key.startswith("_") for key in values):
        return url_for(endpoint, **values)
    try:
        key = tuple(sorted(values.items()))
        hash(key)
    except TypeError:
        return url_for(endpoint, **values)
    return _built(request.script_root, endpoint, key)


_SIGNED: dict[tuple, str] = {}  # (secret key, raw token) -> signed token


def cached_csrf_token() -> str:
    """The session's CSRF token, signed once per session rather than once per page.

    Only without a time limit (WTF_CSRF_TIME_LIMIT=None, as the app runs): a token signed
    earlier then stays valid, so reusing it changes nothing a check would see.
    """
    if current_app.config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    raw = session.get("csrf_token")
    token = _SIGNED.get((current_app.secret_key, raw)) if isinstance(raw, str) else None
    if token is None:
        token = generate_csrf()
        if len(_SIGNED) > 10_000:  # sessions come and go: keep the memory bounded
            _SIGNED.clear()
        _SIGNED[(current_app.secret_key, session["csrf_token"])] = token
    return token


def page_locale() -> str:
    """The request's locale as text, looked up once per request."""
    if "_locale_text" not in g:
        g._locale_text = str(get_locale() or "en")
    return g._locale_text


def init_app(app: Flask) -> None:
    app.jinja_env.globals["url_for"] = cached_url_for
    # Flask-WTF offers csrf_token() as a context variable too: a later processor wins
    app.context_processor(lambda: {"csrf_token": cached_csrf_token})
