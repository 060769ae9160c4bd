"""A device: a name, a state, an open/close pair, and listeners it reports to.

Drivers know nothing of loyalty. They say what happened (a record was read, the device went
away) and the bridge decides what it means.
"""

from __future__ import annotations

import logging
from enum import Enum

from .errors import DeviceError, DeviceNotFound

log = logging.getLogger(__name__)


class DeviceState(Enum):
    CLOSED = "closed"  # not opened yet, or shut down
    OPENING = "opening"
    READY = "ready"
    LOST = "lost"  # was working and went away: the bridge retries opening it
    ENDED = "ended"  # the input finished for good (standard input at end of file)


# named sets, so callers ask "can I read?" rather than listing states
READABLE_STATES = frozenset({DeviceState.READY})
RETRY_STATES = frozenset({DeviceState.LOST})


class DeviceListener:
    """Receives a device's reports. Every method's default does nothing; override what you need."""

    def on_state(self, device: Device, old: DeviceState, new: DeviceState) -> None:
        pass


class Device:
    """Base of every driver: subclasses implement _open() and _close() (and one I/O method)."""

    def __init__(self, name: str):
        self.name = name
        self.state = DeviceState.CLOSED
        self._listeners: list[DeviceListener] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.state.value}>"

    def add_listener(self, listener: DeviceListener) -> None:
        self._listeners.append(listener)

    def open(self) -> None:
        """Open the device. Raises DeviceNotFound with a sentence a person can act on."""
        if self.state is DeviceState.READY:
            return
        before = self.state
        self._set_state(DeviceState.OPENING)
        try:
            self._open()
        except DeviceError:
            self._set_state(before)
            raise
        except OSError as exc:
            self._set_state(before)
            raise DeviceNotFound(f"{self.name}: cannot open: {exc.strerror or exc}") from exc
        self._set_state(DeviceState.READY)

    def close(self) -> None:
        try:
            self._close()
        except OSError as exc:
            # closing is best effort: the device may already be gone
            log.warning("%s: error while closing: %s", self.name, exc)
        self._set_state(DeviceState.CLOSED)

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _set_state(self, new: DeviceState) -> None:
        old, self.state = self.state, new
        if old is new:
            return
        log.debug("%s: %s -> %s", self.name, old.value, new.value)
        for listener in list(self._listeners):
            # a failing listener must never take the device (or its thread) down with it
            try:
                listener.on_state(self, old, new)
            except Exception:
                log.exception(
                    "%s: listener %r failed on %s -> %s", self.name, listener, old.value, new.value
                )
