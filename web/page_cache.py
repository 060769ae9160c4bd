"""Per-page costs paid once: URLs, the signed CSRF token, the page's locale.

An admin page builds dozens of URLs (the navigation, a link per listed member) and
formats a date per row. Measured on the member pages (bench/admin.py), werkzeug's URL
building, the CSRF token's signature and Babel's locale lookup were a large share of
each request. The results do not change between requests, so they are kept.
"""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, session, url_for
from flask_wtf.csrf import generate_csrf
from jinja2 import nodes
from jinja2.ext import Extension

from .i18n import page_language

_URLS: dict[tuple, str] = {}  # (script root, endpoint, *values) -> path
_URLS_MAX = 20_000  # a link per listed member: bounded, refilled as pages ask


def cached_url_for(endpoint: str, **values) -> str:
    """url_for for templates; the same endpoint and values always give the same path."""
    return _bound_url_for(request.script_root)(endpoint, **values)


def _bound_url_for(root: str):
    """url_for for one page: a dictionary look-up per link once a path was built."""

    def page_url_for(endpoint: str, **values) -> str:
        key = (root, endpoint, *values.items()) if values else (root, endpoint)
        try:
            return _URLS[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value
            return url_for(endpoint, **values)
        # relative endpoints depend on the blueprint, _external/_scheme on the request's host
        if endpoint.startswith(".") or any(name.startswith("_") for name in values):
            return url_for(endpoint, **values)
        url = url_for(endpoint, **values)
        if len(_URLS) >= _URLS_MAX:
            _URLS.clear()
        _URLS[key] = url
        return url

    return page_url_for


_SIGNED: dict[tuple, str] = {}  # (secret key, raw token) -> signed token


def cached_csrf_token() -> str:
    """The session's CSRF token, signed once per session rather than once per page.

    Only without a time limit (WTF_CSRF_TIME_LIMIT=None, as the app runs): a token signed
    earlier then stays valid, so reusing it changes nothing a check would see.
    """
    app = current_app._get_current_object()  # one proxy look-up, not five
    if app.config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    page_session = session._get_current_object()
    raw = page_session.get("csrf_token")
    token = _SIGNED.get((app.secret_key, raw)) if isinstance(raw, str) else None
    if token is None:
        token = generate_csrf()
        if len(_SIGNED) > 10_000:  # sessions come and go: keep the memory bounded
            _SIGNED.clear()
        _SIGNED[(app.secret_key, page_session["csrf_token"])] = token
    return token


def page_locale() -> str:
    """The language being rendered, as text ("en" outside a request)."""
    return page_language() or "en"


class FragmentCache(Extension):
    """`{% cached "name", key... %}...{% endcached %}`: a part of a page rendered once per key.

    For parts that depend only on the language, the script root and the given keys (the
    admin's navigation: a dozen links and their labels, the same on every page for a role).
    Nothing personal may go inside: the part is shared by every session with the same keys.
    """

    tags = {"cached"}

    def __init__(self, environment):
        super().__init__(environment)
        # the look-up, a plain function under a global name: templates call it directly
        environment.globals[_KEPT] = _kept_fragment

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        key = [parser.parse_expression()]
        while parser.stream.skip_if("comma"):
            key.append(parser.parse_expression())
        body = parser.parse_statements(("name:endcached",), drop_needle=True)
        # the kept part is looked up first and written out; only when none is kept is the
        # body made into a caller (a Macro object, a call with it) and rendered to be kept
        kept = parser.free_identifier(lineno)
        lookup = nodes.Call(nodes.Name(_KEPT, "load"), [nodes.List(key)], [], None, None)
        render = nodes.CallBlock(self.call_method("_fragment", [nodes.List(key)]), [], [], body)
        missing = nodes.Test(kept, "none", [], [], None, None)
        return [
            nodes.Assign(kept, lookup).set_lineno(lineno),
            nodes.If(missing, [render], [], [nodes.Output([kept])]).set_lineno(lineno),
        ]

    def _fragment(self, key: list, caller):
        # only reached when _kept_fragment found none: render it, and keep it if it can be
        full = _full_key(key)
        text = caller()
        if len(_FRAGMENTS) > 256:
            _FRAGMENTS.clear()
        try:
            _FRAGMENTS[full] = text
        except TypeError:  # an unhashable key: rendered each time, never kept
            pass
        return text


_FRAGMENTS: dict[tuple, str] = {}
_KEPT = "_page_kept_fragment"


def _full_key(key: list) -> tuple:
    # the language as rendered now (not page_locale's per-request copy: a view may force
    # another), so a part is never kept under the wrong language
    locale = page_language() or "en"
    return (locale, request.script_root if has_request_context() else "", *key)


def _kept_fragment(key: list):
    """The part kept under `key`, or None (then the template renders and keeps it)."""
    try:
        return _FRAGMENTS.get(_full_key(key))
    except TypeError:  # an unhashable key: never kept
        return None


def _page_globals() -> dict:
    # bound once per page: each link then skips the request proxy and the key's sorting
    if not has_request_context():
        return {"csrf_token": cached_csrf_token}
    return {"csrf_token": _page_csrf_token(), "url_for": _bound_url_for(request.script_root)}


def _page_csrf_token():
    """csrf_token() for one page: a page with five forms asks five times."""
    token = None

    def page_csrf_token() -> str:
        nonlocal token
        if token is None:
            token = cached_csrf_token()
        return token

    return page_csrf_token


def init_app(app: Flask) -> None:
    app.jinja_env.add_extension(FragmentCache)
    app.jinja_env.globals["url_for"] = cached_url_for
    # Flask-WTF offers csrf_token() as a context variable too: a later processor wins
    app.context_processor(_page_globals)
