"""Catalogues: every customer-facing message is translated into each customer language, the
admin into Hebrew, and the compiled .mo files match their .po sources."""

from __future__ import annotations

import io

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from .conftest import ROOT

WEB = ROOT / "web"
CUSTOMER_FILES = [
    "signup.py",
    *(
        f"templates/signup/{name}.html"
        for name in ("customer", "join", "welcome", "confirmed", "unsubscribe", "preferences")
    ),
    "templates/signup/slip.html",
    "templates/signup/qr.html",
]
ADMIN_FILES = [p.relative_to(WEB).as_posix() for p in (WEB / "templates/admin").glob("*.html")]
AUTH_FILES = [p.relative_to(WEB).as_posix() for p in (WEB / "templates/auth").glob("*.html")]
# admin views whose own sentences (flashed after a form) are marked for translation
ADMIN_VIEWS = ["admin_wallet.py"]
KEYWORDS = {"_": None, "gettext": None, "N_": None}


def _messages(files) -> set[str]:
    found = set()
    for name in files:
        method = "python" if name.endswith(".py") else "jinja2"
        for _lineno, message, _comments, _context in extract_from_file(
            method, str(WEB / name), keywords=KEYWORDS
        ):
            found.add(message)
    return found


def _catalog(lang):
    with open(WEB / f"translations/{lang}/LC_MESSAGES/messages.po", "rb") as fh:
        return read_po(fh, locale=lang)


def _untranslated(catalog, messages) -> list[str]:
    # a fuzzy entry is a guess that is not compiled: it counts as missing
    return sorted(
        m
        for m in messages
        if not (catalog.get(m) and catalog.get(m).string) or catalog.get(m).fuzzy
    )


@pytest.mark.parametrize("lang", ["he", "kk", "zh"])
def test_every_customer_message_is_translated(lang):
    catalog = _catalog(lang)
    missing = [
        m for m in _messages(CUSTOMER_FILES) if not (catalog.get(m) and catalog.get(m).string)
    ]
    assert missing == []


def test_the_admin_is_translated_into_hebrew():
    catalog = _catalog("he")
    assert _untranslated(catalog, _messages(ADMIN_FILES + AUTH_FILES + ADMIN_VIEWS)) == []


@pytest.mark.parametrize("lang", ["he", "kk", "zh"])
def test_the_compiled_catalogue_matches_its_source(lang):
    with open(WEB / f"translations/{lang}/LC_MESSAGES/messages.mo", "rb") as fh:
        compiled = read_mo(io.BytesIO(fh.read()))
    source = _catalog(lang)
    wanted = {m.id: m.string for m in source if m.id and m.string and not m.fuzzy}
    got = {m.id: m.string for m in compiled if m.id}
    assert got == wanted, "run: pybabel compile -d web/translations"


def test_pages_speak_the_chosen_language(settings, init_info):
    from .test_web import log_in, make_app

    client = make_app(settings).test_client()
    assert "הצטרפות לכרטיס החותמות" in client.get("/join?lang=he").get_data(as_text=True)
    assert "加入集章卡" in client.get("/join?lang=zh").get_data(as_text=True)
    assert "Мөртаңба" in client.get("/join?lang=kk").get_data(as_text=True)
    log_in(client, init_info["owner"]["password"])
    page = client.get("/admin/members?lang=he").get_data(as_text=True)
    assert 'dir="rtl"' in page and "חיפוש" in page
    # the admin keeps the language chosen once
    assert "חיפוש" in client.get("/admin/members").get_data(as_text=True)
