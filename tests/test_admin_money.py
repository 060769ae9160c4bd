"""Money on the admin pages is written exactly as Babel writes it (web.admin._money_text keeps
a template of Babel's answer per language and currency: Babel's own call was the costliest
thing on a member page)."""

from __future__ import annotations

from random import Random

from babel.numbers import format_currency

from web.admin import _money_shape, _money_text

LOCALES = ("en", "he", "kk", "zh", "de", "fr", "es", "pl", "hi", "en_IN", "ar", "ru", "de_CH")
CURRENCIES = ("USD", "EUR", "ILS", "KZT", "CNY", "JPY", "GBP", "CHF", "INR")


def test_every_amount_reads_as_babel_writes_it():
    rng = Random(7)
    for locale in LOCALES:
        for currency in CURRENCIES:
            for _ in range(60):
                cents = rng.choice(
                    (
                        rng.randint(-200, 200),
                        rng.randint(-(10**7), 10**7),
                        rng.randint(-(10**13), 10**13),
                    )
                )
                expected = format_currency(cents / 100, currency, locale=locale)
                assert _money_text(locale, currency, cents) == expected, (locale, currency, cents)


def test_the_shop_languages_take_the_template_and_other_writings_take_babel():
    for locale in ("en", "he", "kk", "zh"):
        for currency in ("ILS", "USD", "EUR", "KZT", "CNY"):
            assert _money_shape(locale, currency) is not None, (locale, currency)
    assert _money_shape("en", "JPY") is None  # no decimals
    assert _money_shape("en_IN", "INR") is None  # lakh grouping: 12,34,567.89
    assert _money_text("en_IN", "INR", 123_456_789) == "₹12,34,567.89"
    assert _money_text("en", "JPY", 123_456) == "¥1,235"
