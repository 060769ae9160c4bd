"""Runs a loop object (initialize/loop/shutdown) in a thread until asked to stop."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class LoopObject(Protocol):
    def initialize(self) -> None: ...

    def loop(self, now=None) -> object: ...

    def shutdown(self) -> None: ...


class LoopThread(threading.Thread):
    """Calls loop() until `stop` is set, then shutdown(). initialize() is the caller's job,
    so startup can open every device in order and fail before any thread runs."""

    def __init__(
        self, name: str, target: LoopObject, stop: threading.Event, pause_after_error: float = 1.0
    ):
        # daemon: a thread stuck in a driver call must not keep a stopped bridge alive
        super().__init__(name=name, daemon=True)
        self.target = target
        self.stop = stop
        self.pause_after_error = pause_after_error

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    self.target.loop()
                except Exception:
                    # loops handle their own errors; this is the last net, not the plan
                    log.exception("%s: unexpected error; continuing", self.name)
                    self.stop.wait(self.pause_after_error)
        finally:
            try:
                self.target.shutdown()
            except Exception:
                log.exception("%s: error during shutdown", self.name)
