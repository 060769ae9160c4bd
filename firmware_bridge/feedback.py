"""Feedback at the counter: a beep and a light per outcome, so staff need not read a screen.

Outputs (the feedback setting, comma separated): the log, a serial feedback board
(feedback_board.py), the receipt printer's buzzer (printer_buzzer.py); the counter screen
sounds the same patterns itself (web/static/counter.js). Several play at once (FeedbackSet).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from .device import Device

if TYPE_CHECKING:  # the patterns are the core's; the device layer only plays them
    from appliance.feedback import Pattern

log = logging.getLogger(__name__)


class Feedback(Device):
    """Base of buzzer/LED drivers: subclasses implement the one I/O method _play()."""

    def __init__(self, name: str = "feedback"):
        super().__init__(name)
        # one buzzer, several reader threads: patterns must not interleave
        self._lock = threading.Lock()

    def signal(self, name: str, pattern: Pattern) -> None:
        """Play `pattern` for the outcome `name` (appliance.feedback.SIGNALS holds both)."""
        with self._lock:
            self._play(name, pattern)

    def _play(self, name: str, pattern: Pattern) -> None:
        raise NotImplementedError


class LogFeedback(Feedback):
    """Writes each pattern to the log: the terminal is the buzzer on a laptop."""

    def _play(self, name: str, pattern: Pattern) -> None:
        log.info("feedback %s: %s", name, pattern.describe())


class MemoryFeedback(Feedback):
    """Remembers what it played, like escpos' Dummy printer: for tests and demonstrations."""

    def __init__(self, name: str = "feedback"):
        super().__init__(name)
        self.played: list[str] = []

    def _play(self, name: str, pattern: Pattern) -> None:
        self.played.append(name)


class FeedbackSet(Feedback):
    """Several outputs at once (the log, a feedback board, the printer's buzzer): each plays
    every signal, and one failing never silences the others."""

    def __init__(self, outputs: list[Feedback], name: str = "feedback"):
        super().__init__(name)
        self.outputs = outputs

    def _open(self) -> None:
        for output in self.outputs:
            try:
                output.open()
            except Exception as exc:
                # opened again on its next signal (a board plugged in later)
                log.warning("%s: %s", output.name, exc)

    def _close(self) -> None:
        for output in self.outputs:
            output.close()

    def signal(self, name: str, pattern: Pattern) -> None:
        for output in self.outputs:
            try:
                output.signal(name, pattern)
            except Exception:
                log.exception("%s: feedback %r failed", output.name, name)
