"""Languages: Flask-Babel with a locale per request.

Customer pages (signup, unsubscribe) speak English, Hebrew, Kazakh and Simplified Chinese;
the admin English and Hebrew. The choice is ?lang=, else the browser's Accept-Language.
Hebrew pages are laid out right to left (<html dir="rtl">).
"""

from __future__ import annotations

import weakref

from babel import Locale
from flask import Flask, g, request, session
from flask_babel import Babel, get_locale, get_translations

CUSTOMER_LOCALES = ("en", "he", "kk", "zh")
ADMIN_LOCALES = ("en", "he")
RTL = {"he", "ar", "fa", "ur"}
# what <html lang> says: Simplified Chinese is "zh" in the catalogues
HTML_LANG = {"zh": "zh-Hans"}

babel = Babel()


def _choose() -> Locale:
    # Flask-Babel parses the selector's answer on every request unless it is a Locale already
    code = _choose_code()
    locale = _LOCALES.get(code)
    if locale is None:
        locale = _LOCALES[code] = Locale.parse(code)
    return locale


_LOCALES: dict[str, Locale] = {}


def _choose_code() -> str:
    offered = g.get("locales") or ADMIN_LOCALES
    asked = request.args.get("lang", "")
    if asked in offered:
        if offered is ADMIN_LOCALES:
            session["lang"] = asked
        return asked
    if offered is ADMIN_LOCALES and session.get("lang") in offered:
        return session["lang"]
    best = _best_match(offered, request.headers.get("Accept-Language", ""))
    if best is None and offered is CUSTOMER_LOCALES:
        from appliance.shop import load_shop_settings

        return load_shop_settings().language
    return best or "en"


_BEST: dict[tuple, str | None] = {}  # (offered, Accept-Language) -> the best offered


def _best_match(offered: tuple, header: str) -> str | None:
    # a browser sends the same header on every page: parse and match it once
    key = (offered, header)
    try:
        return _BEST[key]
    except KeyError:
        pass
    best = request.accept_languages.best_match(offered)
    if len(_BEST) > 1000:
        _BEST.clear()
    _BEST[key] = best
    return best


def customer_pages(bp) -> None:
    """Mark a blueprint as customer-facing: it gets the customer languages."""

    @bp.before_request
    def _offer():
        g.locales = CUSTOMER_LOCALES


def _html_attrs():
    code = str(get_locale() or "en")
    return {
        "html_lang": HTML_LANG.get(code, code),
        "html_dir": "rtl" if code.split("_")[0] in RTL else "ltr",
    }


# per catalogue (one per language, kept by Flask-Babel for the process): msgid -> text
_LOOKED_UP: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _catalogue() -> tuple:
    # (web.counter drops g._translations to switch language: both follow it)
    translations = g.get("_translations")
    if translations is None:
        translations = g._translations = get_translations()
        g._texts = _LOOKED_UP.setdefault(translations, {})
    return translations, g._texts


def _lookup(translations, texts: dict, string: str, variables: dict) -> str:
    text = texts.get(string)
    if text is None:
        text = texts[string] = translations.ugettext(string)
    return text % variables if variables else text


def _gettext(string: str, **variables) -> str:
    # Flask-Babel's own `_` looks the catalogue up again for every string; a page has dozens
    translations, texts = _catalogue()
    return _lookup(translations, texts, string, variables)


def _page_gettext() -> dict:
    """`_` bound to the page's catalogue when the page renders: no request proxy per string."""
    translations, texts = _catalogue()

    def page_gettext(string: str, **variables) -> str:
        text = texts.get(string)
        if text is None:
            return _lookup(translations, texts, string, variables)
        return text % variables if variables else text

    return {"_": page_gettext, "gettext": page_gettext}


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=_choose, timezone_selector=lambda: None)
    app.context_processor(_html_attrs)
    app.context_processor(_page_gettext)
    app.jinja_env.globals.update(_=_gettext, gettext=_gettext)
