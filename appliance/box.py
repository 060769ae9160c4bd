"""The running appliance: settings, the open database and the signing key, started once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import migrate
from .db import open_database
from .keys import secret_bytes
from .settings import Settings, SettingsError, load_settings
from .shop_zone import ShopZone


@dataclass(frozen=True)
class Box:
    settings: Settings
    db: object
    code_key: bytes
    zone: object

    @property
    def cooldown_micros(self) -> int:
        return self.settings.stamp_cooldown_minutes * 60 * 1_000_000

    def clock_trusted(self) -> bool:
        """A Pi has no battery clock: until NTP has synchronised it, its time may be years off."""
        marker = self.settings.clock_sync_file
        return not marker or os.path.exists(marker)


_current: Box | None = None


def _zone(name: str):
    if not name:
        return None  # the machine's local zone, via astimezone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"STAMPBOX_TIMEZONE: unknown time zone {name!r}") from None


def start(settings: Settings | None = None, upgrade: bool = True) -> Box:
    """Open the database (migrating it forward) and load the keys; makes this box current."""
    global _current
    settings = settings or load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(settings)
    if upgrade:
        migrate.upgrade(db)
        from .program import ensure_default_program

        ensure_default_program()
    box = Box(
        settings=settings,
        db=db,
        code_key=secret_bytes(settings.secrets_dir, "code_key"),
        # the owner's zone from the admin's settings when set (read again every 30 s)
        zone=ShopZone(_zone(settings.timezone)),
    )
    _current = box
    return box


def current() -> Box:
    if _current is None:
        return start()
    return _current


def stop() -> None:
    global _current
    if _current is not None and not _current.db.is_closed():
        _current.db.close()
    _current = None
