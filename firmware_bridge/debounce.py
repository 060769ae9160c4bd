"""Debounce: a card left on the reader is read again and again, and must count once."""

from __future__ import annotations

from datetime import datetime, timedelta

WINDOW = timedelta(seconds=1.5)


class Debounce:
    """Remembers one device's last record; a repeat within `window` of its last sighting is dropped.

    Each sighting restarts the window, so a card resting on the reader counts once until it has
    been lifted off for `window`. Another record in between ends the repeat.
    """

    def __init__(self, window: timedelta = WINDOW):
        self.window = window
        self._last: bytes | None = None
        self._seen_at: datetime | None = None

    def is_repeat(self, record: bytes, now: datetime) -> bool:
        repeat = (
            record == self._last
            and self._seen_at is not None
            # a clock stepped backwards (NTP after boot) must not swallow taps: count it
            and timedelta(0) <= now - self._seen_at < self.window
        )
        self._last, self._seen_at = record, now
        return repeat
