"""The shop's own settings, edited by the owner in the admin (not the box's startup settings)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_name

from .audit import audit
from .db import database
from .models import ShopSetting

LANGUAGES = ("en", "he", "kk", "zh")


class ShopSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class ShopSettings:
    shop_name: str = ""
    currency: str = "EUR"
    language: str = "en"
    privacy_text: str = ""


def load_shop_settings() -> ShopSettings:
    values = {row.key: row.value for row in ShopSetting.select()}
    known = ShopSettings.__dataclass_fields__
    return ShopSettings(**{k: v for k, v in values.items() if k in known})


def save_shop_settings(values: dict, actor: str, now=None) -> ShopSettings:
    """Check and store the owner's settings; raises ShopSettingsError with a sentence."""
    settings = ShopSettings(
        shop_name=" ".join(str(values.get("shop_name", "")).split())[:80],
        currency=str(values.get("currency", "EUR")).strip().upper(),
        language=str(values.get("language", "en")),
        privacy_text=str(values.get("privacy_text", "")).strip()[:2000],
    )
    if settings.language not in LANGUAGES:
        raise ShopSettingsError(f"The language must be one of {', '.join(LANGUAGES)}.")
    try:
        known = get_currency_name(settings.currency, locale=Locale("en")) != settings.currency
    except UnknownLocaleError:
        known = False
    if len(settings.currency) != 3 or not known:
        raise ShopSettingsError(f"{settings.currency!r} is not a currency code like EUR or ILS.")
    with database.atomic():
        for key, value in asdict(settings).items():
            ShopSetting.insert(key=key, value=value).on_conflict(
                conflict_target=[ShopSetting.key], update={ShopSetting.value: value}
            ).execute()
        audit(actor, "shop.settings", now, **{k: v for k, v in asdict(settings).items()
                                               if k != "privacy_text"})  # fmt: skip
    return settings
