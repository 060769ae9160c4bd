"""Feedback through the receipt printer's own buzzer (ESC B n t, python-escpos' `buzzer`).

A printer buzzer has one pitch, so the outcomes differ by the number of beeps and their
length (t × ~50 ms on printers that have the command): short runs are good news, one long
beep is "no". The command goes out from a thread of its own, so a slow or absent printer never
holds up a tap, and a beep that could not sound within MAX_DELAY is dropped: a late beep would
belong to the next customer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING

from .errors import DeviceError
from .feedback import Feedback

if TYPE_CHECKING:
    from appliance.feedback import Pattern

log = logging.getLogger(__name__)

# signal -> (beeps 1-9, length of each 1-9): every pair differs
BUZZES: dict[str, tuple[int, int]] = {
    "stamped": (1, 1),
    "voucher": (2, 1),
    "reward": (3, 1),
    "birthday": (4, 1),
    "cooldown": (1, 4),
    "unknown": (2, 3),
    "refused": (1, 9),
    "error": (3, 5),
}
MAX_DELAY = 1.0  # seconds a beep may wait for the printer (a slip being printed) before dropped


class PrinterBuzzer(Feedback):
    """Sounds each signal on a printer with a `buzz(times, duration)` method."""

    def __init__(self, printer, name: str = "printer-buzzer"):
        super().__init__(name)
        self.printer = printer
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._thread: threading.Thread | None = None
        self.sent: list[str] = []  # what reached the printer: for `stampbox devices` and tests

    def _open(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def _close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(5)
            self._thread = None

    def _play(self, name: str, pattern: Pattern) -> None:
        if self._thread is None:
            self.open()
        try:
            self._queue.put_nowait((name, time.monotonic()))
        except queue.Full:
            log.info("%s: the printer is not taking beeps: %s dropped", self.name, name)

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queued beep was sent or dropped (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                name, queued_at = item
                self._sound(name, queued_at)
            finally:
                self._queue.task_done()

    def _sound(self, name: str, queued_at: float) -> None:
        times, duration = BUZZES.get(name, BUZZES["refused"])
        # the printer's lock is taken inside buzz(): a slip being printed is waited for
        try:
            sent = self.printer.buzz(times, duration, not_after=queued_at + MAX_DELAY)
        except DeviceError as exc:
            log.info("%s: %s; %s not sounded", self.name, exc, name)
            return
        except Exception:
            log.exception("%s: the buzzer failed on %s", self.name, name)
            return
        if sent:
            self.sent.append(name)
        else:
            log.info("%s: the printer was busy for over %.1f s: %s dropped", self.name,
                     MAX_DELAY, name)  # fmt: skip
