"""The bridge loop: a reader's record goes to the core, and the result comes back as a beep.

This module, the print loop and the receipt renderer are the parts of the bridge that import
`appliance`; drivers deliver bytes and play patterns without knowing what a stamp is.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from appliance.clock import utcnow
from appliance.counter import handle
from appliance.db import database
from appliance.events import CounterResult
from appliance.feedback import SIGNALS, signal_for
from appliance.printing import print_birthday_gift

from .debounce import WINDOW, Debounce
from .device import READABLE_STATES, RETRY_STATES
from .errors import DeviceError, DeviceLost
from .feedback import Feedback
from .health import HealthListener
from .reader import Reader

log = logging.getLogger(__name__)


class CounterLoop:
    """One reader's loop. Drive it with initialize(), loop(now=...) per iteration, shutdown()."""

    def __init__(
        self,
        reader: Reader,
        feedback: Feedback,
        *,
        debounce: timedelta = WINDOW,
        poll_seconds: float = 0.5,
        retry_seconds: float = 5.0,
        health: HealthListener | None = None,
    ):
        self.reader = reader
        self.health = health
        if health is not None:
            reader.add_listener(health)
        # a reward unlocked at the counter prints its voucher slip (queued, printed by the bridge)
        self.feedback = feedback
        self.debounce = Debounce(debounce)
        # how long one iteration waits for input: also how quickly a stop request is noticed
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self._retry_at = 0.0

    def initialize(self) -> None:
        """Open the reader. Raises DeviceNotFound: at startup a missing reader is fatal."""
        self.reader.open()

    def loop(self, now: datetime | None = None) -> CounterResult | None:
        """Wait up to poll_seconds for one record and act on it; None if nothing was handled.

        `now` is the moment of the tap (default: the clock once the record arrives).
        Never raises for bad input, a lost device or a failing core: it logs and carries on.
        """
        if self.reader.state not in READABLE_STATES:
            self._idle()
            return None
        try:
            record = self.reader.read(self.poll_seconds)
        except DeviceLost as exc:
            log.warning("%s: %s; retrying every %.0f s", self.reader.name, exc, self.retry_seconds)
            self._retry_at = time.monotonic() + self.retry_seconds
            self._signal("error")
            return None
        if record is None:
            return None
        now = now or utcnow()
        if self.debounce.is_repeat(record, now):
            log.debug("%s: same record again within the debounce window: ignored", self.reader.name)
            return None
        try:
            result = handle(record, self.reader.name, now=now)
        except Exception:
            # a stack trace here is a bug or a broken database: log it, beep, keep serving
            log.exception("%s: the counter failed on %r", self.reader.name, record[:80])
            self._signal("error")
            return None
        log.info("%s: %s: %s", self.reader.name, result.status, result.message)
        self._signal(signal_for(result))
        if result.birthday:
            try:
                # the gift's slip, at the first tap that finds it (queued once, after the tap)
                print_birthday_gift(result, now=now)
            except Exception:
                log.exception("%s: cannot queue the birthday slip", self.reader.name)
        if self.health is not None:
            try:
                self.health.on_event(self.reader, now)
            except Exception:
                log.exception("%s: cannot record device health", self.reader.name)
        return result

    def shutdown(self) -> None:
        self.reader.close()
        # each thread has its own SQLite connection; give it back before the thread ends
        if database.obj is not None and not database.is_closed():
            database.close()

    def _idle(self) -> None:
        if self.reader.state in RETRY_STATES and time.monotonic() >= self._retry_at:
            try:
                self.reader.open()
                log.info("%s: back", self.reader.name)
                return
            except DeviceError as exc:
                log.debug("%s: still gone: %s", self.reader.name, exc)
                self._retry_at = time.monotonic() + self.retry_seconds
        # nothing to read (lost, or input ended): do not spin
        time.sleep(self.poll_seconds)

    def _signal(self, name: str) -> None:
        try:
            self.feedback.signal(name, SIGNALS[name])
        except Exception:
            # a broken buzzer must not stop stamps from landing
            log.exception("%s: feedback %r failed", self.feedback.name, name)
