"""The shop's own settings, edited by the owner in the admin (not the box's startup settings)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_name

from .audit import audit
from .db import database
from .models import ShopSetting
from .refusal import N_, Refusal
from .shop_zone import invalidate_current

LANGUAGES = ("en", "he", "kk", "zh")


class ShopSettingsError(Refusal):
    """Settings the owner has to correct; the message says what."""


@dataclass(frozen=True)
class ShopSettings:
    shop_name: str = ""
    currency: str = "EUR"
    language: str = "en"
    privacy_text: str = ""
    # the zone pages show times in; "" keeps the box's STAMPBOX_TIMEZONE
    timezone: str = ""


# Pages read the settings on every request (currency, language, zone): keep them per process
# for a while. Saving clears it here at once; other processes follow within REFRESH_SECONDS.
REFRESH_SECONDS = 30.0
_cached: tuple | None = None  # (box, expires, settings)


def load_shop_settings() -> ShopSettings:
    global _cached
    from . import box as box_mod

    box, cached = box_mod._current, _cached
    if cached is not None and cached[0] is box and cached[1] > time.monotonic():
        return cached[2]
    values = {row.key: row.value for row in ShopSetting.select()}
    known = ShopSettings.__dataclass_fields__
    settings = ShopSettings(**{k: v for k, v in values.items() if k in known})
    _cached = (box, time.monotonic() + REFRESH_SECONDS, settings)
    return settings


def forget_shop_settings() -> None:
    global _cached
    _cached = None
    invalidate_current()


def save_shop_settings(values: dict, actor: str, now=None) -> ShopSettings:
    """Check and store the owner's settings; raises ShopSettingsError with a sentence."""
    settings = ShopSettings(
        shop_name=" ".join(str(values.get("shop_name", "")).split())[:80],
        currency=str(values.get("currency", "EUR")).strip().upper(),
        language=str(values.get("language", "en")),
        privacy_text=str(values.get("privacy_text", "")).strip()[:2000],
        timezone=str(values.get("timezone", "")).strip()[:64],
    )
    if settings.timezone:
        try:
            ZoneInfo(settings.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ShopSettingsError(
                N_("%(zone)r is not a time zone: write it like Europe/Berlin."),
                zone=settings.timezone,
            ) from None
    if settings.language not in LANGUAGES:
        raise ShopSettingsError(
            N_("The language must be one of %(languages)s."), languages=", ".join(LANGUAGES)
        )
    try:
        known = get_currency_name(settings.currency, locale=Locale("en")) != settings.currency
    except UnknownLocaleError:
        known = False
    if len(settings.currency) != 3 or not known:
        raise ShopSettingsError(
            N_("%(code)r is not a currency code like EUR or ILS."), code=settings.currency
        )
    with database.atomic():
        for key, value in asdict(settings).items():
            ShopSetting.insert(key=key, value=value).on_conflict(
                conflict_target=[ShopSetting.key], update={ShopSetting.value: value}
            ).execute()
        audit(actor, "shop.settings", now, **{k: v for k, v in asdict(settings).items()
                                               if k != "privacy_text"})  # fmt: skip
    forget_shop_settings()  # pages, slips and counter messages of this process follow at once
    return settings


LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
MAX_LOGO_BYTES = 60_000


def logo_path(settings):
    return settings.data_dir / "logo"


def save_logo(settings, data: bytes, actor: str, now=None) -> str:
    """Store the shop's logo (PNG or JPEG, small); returns its media type."""
    kind = next((t for magic, t in LOGO_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise ShopSettingsError(N_("The logo must be a PNG or JPEG picture."))
    if len(data) > MAX_LOGO_BYTES:
        raise ShopSettingsError(N_("The logo may be at most 60 kB: make it smaller."))
    path = logo_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    audit(actor, "shop.logo", now, bytes=len(data), type=kind)
    return kind


def logo_type(data: bytes) -> str | None:
    return next((t for magic, t in LOGO_TYPES.items() if data.startswith(magic)), None)
