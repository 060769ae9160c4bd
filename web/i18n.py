"""Languages: Flask-Babel with a locale per request.

Customer pages (signup, unsubscribe) speak English, Hebrew, Kazakh and Simplified Chinese;
the admin English and Hebrew. The choice is ?lang=, else the browser's Accept-Language.
Hebrew pages are laid out right to left (<html dir="rtl">).
"""

from __future__ import annotations

import weakref
from types import SimpleNamespace

from babel import Locale
from flask import Flask, g, request
from flask.globals import _cv_app, _cv_request
from flask.templating import Environment as FlaskEnvironment
from flask_babel import Babel, get_translations
from jinja2 import nodes
from jinja2.visitor import NodeTransformer

# the members' languages, their direction and what <html lang> says, as the core's messages
# and slips have them (Simplified Chinese is "zh" in the catalogues, "zh-Hans" in HTML)
from appliance.wording import HTML_LANG, RTL
from appliance.wording import LANGUAGES as CUSTOMER_LOCALES

ADMIN_LOCALES = ("en", "he")

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
    # the request's own objects, not Flask's proxies (a context look-up at each use)
    ctx = _cv_request.get()
    page_session = ctx.session
    offered = _cv_app.get().g.get("locales") or ADMIN_LOCALES
    environ = ctx.request.environ
    query = environ.get("QUERY_STRING", "")
    # most pages have no ?lang=: their query string is not parsed for it
    asked = ctx.request.args.get("lang", "") if ("lang" in query or "%" in query) else ""
    if asked in offered:
        if offered is ADMIN_LOCALES:
            page_session["lang"] = asked
        return asked
    if offered is ADMIN_LOCALES:
        kept = page_session.get("lang")
        if kept in offered:
            return kept
    best = _best_match(offered, environ.get("HTTP_ACCEPT_LANGUAGE", ""))
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


def page_language() -> str | None:
    """The code of the language being rendered ("he"), None outside a request.

    Flask-Babel's get_locale() and str() of its answer cost several microseconds and a
    page asks a dozen times (templates loaded, cached parts, dates): the locale is read
    where Flask-Babel keeps it for the request (`force_locale` included; pinned
    flask-babel 4.0, tested in tests/test_admin_page_cache.py) and its code is
    remembered per Locale object.
    """
    if _cv_request.get(None) is None:
        return None
    # Flask-Babel 4 keeps it in g._flask_babel (a namespace; force_locale swaps it there)
    page_g = _cv_app.get().g
    # g's own attributes live in its __dict__: getattr() on a missing one raised and caught
    # a KeyError and an AttributeError in Flask's __getattr__ on every page's first question
    kept = page_g.__dict__.get("_flask_babel")
    locale = getattr(kept, "babel_locale", None)
    if locale is None:
        # the page's first question: chosen as Flask-Babel's get_locale() would (its selector
        # is _choose, see init_app) and kept where it keeps it, without its proxies
        if kept is None:
            kept = page_g._flask_babel = SimpleNamespace()
        locale = kept.babel_locale = _choose()
    try:
        kept, code = _CODES[id(locale)]
        if kept is locale:
            return code
    except KeyError:
        pass
    if len(_CODES) > 64:  # force_locale makes a new Locale each time: keep it bounded
        _CODES.clear()
    code = str(locale)
    _CODES[id(locale)] = (locale, code)  # the Locale is kept: its id is not reused
    return code


_CODES: dict[int, tuple[Locale, str]] = {}


def _html_attrs():
    code = page_language() or "en"
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
    """`_` bound to the page's catalogue when the page renders: no request proxy per string.

    The catalogue is looked up at the first call: most pages' texts are all literal, and
    those were translated when the template was compiled (TranslatedEnvironment)."""
    catalogue = None

    def page_gettext(string: str, **variables) -> str:
        nonlocal catalogue
        if catalogue is None:
            catalogue = _catalogue()
        translations, texts = catalogue
        text = texts.get(string)
        if text is None:
            return _lookup(translations, texts, string, variables)
        return text % variables if variables else text

    return {"_": page_gettext, "gettext": page_gettext}


class _TranslateFixedTexts(NodeTransformer):
    """`_('Email')` -> the translation, as a constant (escaped once, when compiled)."""

    NAMES = ("_", "gettext")

    def __init__(self, translations):
        self.translations = translations

    def visit_Call(self, node):
        node = self.generic_visit(node)
        if (
            isinstance(node.node, nodes.Name)
            and node.node.name in self.NAMES
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            text = self.translations.ugettext(node.args[0].value)
            return nodes.Const(text, lineno=node.lineno, environment=node.environment)
        return node


class TranslatedEnvironment(FlaskEnvironment):
    """Templates compiled once per language, with their fixed texts already translated.

    A page's labels are `_('literal')` calls: each cost a call, a catalogue look-up and an
    escape on every page (about 25 on a member page), yet their text depends only on the
    language. A template loaded during a request is compiled for that request's language
    (Flask-Babel's current locale, so `force_locale` is followed) with those calls replaced
    by their translations, and kept per language. Calls with variables or a computed text
    stay calls, and so does everything compiled outside a request. Like the template itself,
    a catalogue changed while the server runs shows after a restart.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loaded: dict[tuple, object] = {}  # (name, language) -> compiled template

    def _load_template(self, name, globals):
        # Jinja's own, with the language in the cache key, and a plain dictionary in front of
        # Jinja's locked LRU cache while templates are not reloaded (a page loads three or four)
        language = page_language()
        if not self.auto_reload and not globals:
            try:
                return self._loaded[(name, language)]
            except KeyError:
                pass
        if self.loader is None:
            raise TypeError("no loader for this environment specified")
        key = (weakref.ref(self.loader), name, language)
        template = self.cache.get(key) if self.cache is not None else None
        if template is not None and (not self.auto_reload or template.is_up_to_date):
            if globals:
                template.globals.update(globals)
            return template
        template = self.loader.load(self, name, self.make_globals(globals))
        if self.cache is not None:
            self.cache[key] = template
            if not self.auto_reload and not globals:
                if len(self._loaded) > 2000:  # templates on disk × languages: never near this
                    self._loaded.clear()
                self._loaded[(name, language)] = template
        return template

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        if page_language() is None:
            return tree
        return _TranslateFixedTexts(get_translations()).visit(tree)


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=_choose, timezone_selector=lambda: None)
    app.context_processor(_html_attrs)
    app.context_processor(_page_gettext)
    app.jinja_env.globals.update(_=_gettext, gettext=_gettext)
