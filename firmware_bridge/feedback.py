"""Feedback at the counter: a beep and a light per outcome, so staff need not read a screen.

Outputs (the feedback setting, comma separated): the log, a serial feedback board
(feedback_board.py), the receipt printer's buzzer (printer_buzzer.py); the counter screen
sounds the same patterns itself (web/static/counter.js). Several play at once (FeedbackSet).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from .device import Device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pattern:
    """Beeps as (pitch in Hz, duration in ms), in order; the LED's colour while they sound."""

    beeps: tuple[tuple[int, int], ...]
    led: str

    def describe(self) -> str:
        beeps = " ".join(f"{hz}Hz/{ms}ms" for hz, ms in self.beeps)
        return f"{len(self.beeps)} beep(s) [{beeps}], LED {self.led}"


# distinct by ear alone: high and short is good news, low and long is "no"
SIGNALS: dict[str, Pattern] = {
    "stamped": Pattern(((2700, 80),), "green"),
    "voucher": Pattern(((2700, 80), (3400, 120)), "blue"),
    # a card just filled: a rising run, so staff hand over the slip
    "reward": Pattern(((2700, 80), (3400, 80), (4000, 200)), "blue"),
    # a birthday gift is waiting: two bright chirps, magenta
    "birthday": Pattern(((3400, 60), (4000, 60), (3400, 60), (4000, 60)), "magenta"),
    "cooldown": Pattern(((1800, 250),), "amber"),
    "unknown": Pattern(((2000, 80), (2000, 80), (2000, 80)), "amber"),
    "refused": Pattern(((600, 500),), "red"),
    # the bridge itself failed (not the customer's card): try again, or call the owner
    "error": Pattern(((600, 150), (600, 150), (600, 150)), "red"),
}


class Feedback(Device):
    """Base of buzzer/LED drivers: subclasses implement the one I/O method _play()."""

    def __init__(self, name: str = "feedback"):
        super().__init__(name)
        # one buzzer, several reader threads: patterns must not interleave
        self._lock = threading.Lock()

    def signal(self, name: str) -> None:
        """Play the named pattern (one of SIGNALS). Raises KeyError for an unknown name."""
        pattern = SIGNALS[name]
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

    def signal(self, name: str) -> None:
        SIGNALS[name]  # an unknown name is the caller's bug: raise KeyError as one output would
        for output in self.outputs:
            try:
                output.signal(name)
            except Exception:
                log.exception("%s: feedback %r failed", output.name, name)
