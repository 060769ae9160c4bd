"""The shop's time zone as one tzinfo that follows the owner's setting in the admin.

Every process (web workers, the worker, the bridge) formats times for people: slips, counter
messages ("next stamp at 14:30", "expired on …"), the dashboard's "today". They all take the
box's zone, so the box's zone is this object: the owner's choice (shop settings) when there
is one, else STAMPBOX_TIMEZONE, else the machine's. The setting is read again at most every
REFRESH_SECONDS (one small query; never on each tap), and at once in the process that saves it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REFRESH_SECONDS = 30.0


class ShopZone(tzinfo):
    """A tzinfo delegating to the zone the shop currently uses (fallback: the box's)."""

    def __init__(self, fallback: tzinfo | None = None):
        self.fallback = fallback  # None: the machine's local time
        self._lock = threading.Lock()
        self._zone: tzinfo | None = fallback
        self._expires = 0.0

    def invalidate(self) -> None:
        """The setting changed in this process: read it again at the next use."""
        self._expires = 0.0

    def current(self) -> tzinfo | None:
        """The zone in force now (None: the machine's local time)."""
        if time.monotonic() >= self._expires:
            with self._lock:
                self._zone = self._load()
                self._expires = time.monotonic() + REFRESH_SECONDS
        return self._zone

    def _load(self) -> tzinfo | None:
        from .models import ShopSetting

        try:
            row = ShopSetting.get_or_none(ShopSetting.key == "timezone")
        except Exception:  # no database bound (yet): the box's own zone
            return self.fallback
        if row is None or not row.value:
            return self.fallback
        try:
            return ZoneInfo(row.value)
        except (ZoneInfoNotFoundError, ValueError):
            return self.fallback  # save_shop_settings refuses bad names; an old row falls back

    @property
    def key(self) -> str:
        zone = self.current()
        return getattr(zone, "key", "") or str(zone or "local")

    def __repr__(self) -> str:
        return f"ShopZone({self.key})"

    # tzinfo: ask the zone in force about the same wall time
    def _wall(self, dt: datetime) -> datetime:
        zone = self.current()
        if zone is None:
            return dt.replace(tzinfo=None).astimezone()
        return dt.replace(tzinfo=zone)

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        if dt is None:
            return None
        return self._wall(dt).utcoffset()

    def dst(self, dt: datetime | None) -> timedelta | None:
        if dt is None:
            return None
        return self._wall(dt).dst()

    def tzname(self, dt: datetime | None) -> str | None:
        if dt is None:
            return self.key
        return self._wall(dt).tzname()

    def fromutc(self, dt: datetime) -> datetime:
        zone = self.current()
        moment = dt.replace(tzinfo=UTC)
        local = moment.astimezone(zone) if zone is not None else moment.astimezone()
        return local.replace(tzinfo=self)


def invalidate_current() -> None:
    """After the owner saved the settings: this process uses the new zone at once."""
    from . import box as box_mod

    zone = getattr(box_mod._current, "zone", None)
    if isinstance(zone, ShopZone):
        zone.invalidate()
