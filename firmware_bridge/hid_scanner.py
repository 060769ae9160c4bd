"""Keyboard-wedge (HID) barcode/QR scanners through evdev.

The scanner is grabbed (EVIOCGRAB) so its keystrokes reach only us, not the console. Key
events are decoded with the configured layout; Enter or Tab ends a scan. A burst that stops
half-way (no key for BURST_TIMEOUT) is dropped; an overlong scan is cut and handed on, so the
core refuses it with a sentence.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import select
import time

from evdev import ecodes as e

from .device import DeviceState
from .errors import DeviceConfigError, DeviceLost, DeviceNotFound
from .keymaps import ALTGR_KEYS, END_KEYS, LAYOUTS, SHIFT_KEYS
from .lines import MAX_LINE
from .reader import Reader

log = logging.getLogger(__name__)

# scanners type a whole code in well under this; a person typing on a keyboard does not
BURST_TIMEOUT = 0.3
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2


class KeyDecoder:
    """Turns key events (with their own timestamps, in seconds) into whole scans."""

    def __init__(self, layout: str = "us", max_len: int = MAX_LINE):
        if layout not in LAYOUTS:
            raise DeviceConfigError(f"keyboard layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        self.table = LAYOUTS[layout]
        self.max_len = max_len
        self._text: list[str] = []
        self._shift = self._altgr = False
        self._last_at: float | None = None
        self._overlong = False
        self.dropped = 0  # bursts given up on (for the log and the tests)

    def feed(self, etype: int, code: int, value: int, at: float) -> bytes | None:
        """One input event; returns a finished scan (undecoded bytes of its text) or None."""
        if etype != e.EV_KEY:
            return None  # MSC_SCAN and SYN carry nothing we need
        if code in SHIFT_KEYS:
            self._shift = value != KEY_UP
            return None
        if code in ALTGR_KEYS:
            self._altgr = value != KEY_UP
            return None
        if value != KEY_DOWN:
            return None
        self.expire(at)
        self._last_at = at
        if code in END_KEYS:
            return self._finish()
        level = 2 if self._altgr else int(self._shift)
        char = self.table.get((code, level))
        if char is None:
            # a key the layout does not type: the scan cannot be trusted as read
            char = "\ufffd"
        if len(self._text) < self.max_len:
            self._text.append(char)
        else:
            self._overlong = True
        return None

    def expire(self, now: float) -> None:
        """Drop a half-finished burst if no key came for BURST_TIMEOUT before `now`."""
        if self._text and self._last_at is not None and now - self._last_at > BURST_TIMEOUT:
            log.warning(
                "scanner: a scan stopped after %d characters without Enter: dropped",
                len(self._text),
            )
            self.dropped += 1
            self._reset()

    def _finish(self) -> bytes:
        text = "".join(self._text)
        if self._overlong:
            log.warning("scanner: scan longer than %d characters: cut", self.max_len)
        self._reset()
        # UTF-8: the core decides what is garbage (non-ASCII is "not a Stampbox code")
        return text.encode("utf-8")

    def _reset(self) -> None:
        self._text.clear()
        self._overlong = False


class HidScanner(Reader):
    """A scanner at an event device path (/dev/input/eventN, or by name: hid:*Scanner*), or
    any descriptor carrying raw input_event records (a pipe, in tests)."""

    hot_plug = True

    def __init__(self, where: str | int, layout: str = "us", name: str = "scanner"):
        super().__init__(name)
        self.where = where
        self.decoder = KeyDecoder(layout)
        self._device = None
        self._fd: int | None = None
        self._pending: list[bytes] = []

    def _open(self) -> None:
        self._pending = []
        self.decoder = KeyDecoder(layout_of(self.decoder))
        if isinstance(self.where, int):
            self._fd = self.where  # borrowed: a pipe from a test or a supervisor
            return
        from evdev import InputDevice

        path = self._find(self.where)
        try:
            device = InputDevice(path)
        except OSError as exc:
            raise DeviceNotFound(f"{self.name}: cannot open {path}: {exc.strerror}") from exc
        try:
            device.grab()  # otherwise every scan is also typed into the console
        except OSError as exc:
            device.close()
            raise DeviceNotFound(
                f"{self.name}: {path} is held by another program: {exc.strerror}"
            ) from exc
        self._device, self._fd = device, device.fd
        log.info("%s: reading %s (%s), grabbed", self.name, path, device.name)

    def _find(self, where: str) -> str:
        if where.startswith("/dev/"):
            return where
        from evdev import InputDevice, list_devices

        for path in list_devices():
            try:
                device = InputDevice(path)
            except OSError:
                continue
            name = device.name
            device.close()
            if fnmatch.fnmatch(name, where) or where.lower() in name.lower():
                return path
        raise DeviceNotFound(f"{self.name}: no input device named like {where!r}")

    def _close(self) -> None:
        if self._device is not None:
            try:
                self._device.ungrab()
            except OSError:
                pass  # unplugged: nothing left to release
            self._device.close()
        self._device = self._fd = None

    def _read(self, timeout: float) -> bytes | None:
        from evdev._input import device_read_many

        deadline = time.monotonic() + timeout
        while not self._pending:
            left = deadline - time.monotonic()
            try:
                ready, _, _ = select.select([self._fd], [], [], max(0.0, left))
                if not ready:
                    # nothing more came: a burst that stopped half-way is given up
                    self.decoder.expire(time.time())
                    return None
                events = device_read_many(self._fd)
            except BlockingIOError:
                continue
            except (OSError, ValueError, TypeError) as exc:
                raise DeviceLost(f"{self.name}: read failed: {exc}") from exc
            if not events:
                self._set_state(DeviceState.ENDED)  # the pipe's writer finished
                return None
            for sec, usec, etype, code, value in events:
                scan = self.decoder.feed(etype, code, value, int(sec) + int(usec) / 1e6)
                if scan is not None:
                    self._pending.append(scan)
        return self._pending.pop(0)


def layout_of(decoder: KeyDecoder) -> str:
    return next(name for name, table in LAYOUTS.items() if table is decoder.table)


def open_pipe_scanner(fd: int, layout: str = "us") -> HidScanner:
    """A scanner on a descriptor of raw input_event records, already opened (tests, bench)."""
    scanner = HidScanner(fd, layout)
    scanner.open()
    os.set_blocking(fd, False)
    return scanner
