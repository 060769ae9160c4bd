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
ADMIN_VIEWS = [
    "admin_wallet.py",
    "admin.py",
    "members.py",
    "auth.py",
    "admin_birthdays.py",
    "admin_chain.py",
]
# the core's refusals (appliance.refusal: N_ templates) those views show, via web.refusals
ADMIN_CORE = [
    f"../appliance/{name}.py"
    for name in (
        "staff",
        "members",
        "program",
        "shop",
        "signup",
        "member_rights",
        "voucher_admin",
        "wallet/uploads",
        "wallet/cards",
        "wallet/apple",
        "wallet/google",
        "wallet/preview",
        "wallet/worker",
        "chain/conflicts",
    )
]
KEYWORDS = {"_": None, "gettext": None, "N_": None, "lazy_gettext": None}


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
    messages = _messages(ADMIN_FILES + AUTH_FILES + ADMIN_VIEWS + ADMIN_CORE)
    assert _untranslated(catalog, messages) == []


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


def test_the_owner_reads_the_cores_refusals_and_the_views_sentences_in_hebrew(owner):
    from .test_web import csrf_token

    token = csrf_token(owner.get("/admin/staff?lang=he"))
    taken = {"username": "owner", "password": "a-long-enough-pass", "role": "staff"}
    page = owner.post("/admin/staff", data={**taken, "csrf_token": token}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "כבר יש חשבון בשם owner." in text and "There is already an account" not in text
    fresh = {"username": "dana", "password": "a-long-enough-pass", "role": "staff"}
    page = owner.post("/admin/staff", data={**fresh, "csrf_token": token}, follow_redirects=True)
    assert "החשבון dana נוצר." in page.get_data(as_text=True)
    # the same refusal in English for an English page, and on the command line (str)
    token = csrf_token(owner.get("/admin/staff?lang=en"))
    page = owner.post("/admin/staff", data={**taken, "csrf_token": token}, follow_redirects=True)
    assert "There is already an account named owner." in page.get_data(as_text=True)


def test_the_cores_sentences_read_in_english_and_explain_in_the_page_language(app):
    from appliance.refusal import N_, Sentence
    from appliance.wallet import WalletError
    from web.refusals import explain

    said = Sentence(N_("Apple accepted the push (apns-id %(id)s)."), id="A1")
    refused = WalletError(N_("Apple Wallet is not set up: %(name)s is empty."), name="X")
    assert said == "Apple accepted the push (apns-id A1)." and isinstance(said, str)
    assert str(refused) == "Apple Wallet is not set up: X is empty."
    with app.test_request_context("/admin/wallet?lang=he"):
        app.preprocess_request()
        assert explain(said) == "\u200fApple קיבלה את ההתראה (apns-id A1)."
        assert explain(refused) == "\u200fApple Wallet לא הוגדר: X ריק."
        # a plain message from elsewhere (an outside service's words) reads as it came
        assert explain(WalletError.wrapping(ValueError("APNs answered 403"))) == (
            "APNs answered 403"
        )
