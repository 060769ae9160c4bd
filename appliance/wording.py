"""The members' languages and their catalogues, read with Babel directly (the core never
imports Flask).

Wording comes from the web's catalogues (web/translations, he/kk/zh; English is the msgid).
Messages (appliance.channels.transactional) and printed slips (appliance.receipts) both use
it; it is apart from the channels so that the bridge, which prints, does not load the email,
SMS and wallet channels with it (smtplib, ssl, urllib: 2.5 MB for the bridge's whole life,
bench/memory.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).resolve().parents[1] / "web" / "translations"
LANGUAGES = ("en", "he", "kk", "zh")
RTL = frozenset({"he"})
HTML_LANG = {"zh": "zh-Hans"}


def language(locale: str | None, default: str = "en") -> str:
    """One of LANGUAGES for a stored locale ("he", "zh_Hans", "kk-KZ", ""...)."""
    lang = (locale or "").replace("-", "_").split("_")[0].lower()
    return lang if lang in LANGUAGES else default


@lru_cache(maxsize=8)
def _catalogue(lang: str) -> NullTranslations:
    if lang == "en" or not (TRANSLATIONS_DIR / lang).is_dir():
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [lang])


def gettext(lang: str, text: str) -> str:
    return _catalogue(lang).ugettext(text)
