"""A small serial feedback board (buzzer + RGB LED, e.g. a microcontroller on USB-CDC).

Line protocol, host to board, ASCII, one command per line ending in LF, 9600 8N1:

    HELLO stampbox 1                          sent once after opening (protocol version 1)
    PLAY <signal> <led> <hz>/<ms>[,<hz>/<ms>...]
                                              e.g. PLAY reward blue 2700/80,3400/80,4000/200
    OFF                                       LED off, buzzer silent (sent when closing)

<signal> is one of appliance.feedback.SIGNALS (a board may key its own sounds on it),
<led> a colour name (green, blue, amber, red, magenta), each beep a pitch in Hz and a length
in ms, played in order with the LED lit meanwhile. The board sends nothing back: a board that
is missing or hung never slows a tap.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .errors import DeviceLost, DeviceNotFound
from .feedback import Feedback

if TYPE_CHECKING:
    from appliance.feedback import Pattern

log = logging.getLogger(__name__)


def play_line(name: str, pattern: Pattern) -> bytes:
    beeps = ",".join(f"{hz}/{ms}" for hz, ms in pattern.beeps)
    return f"PLAY {name} {pattern.led} {beeps}\n".encode("ascii")


class SerialFeedback(Feedback):
    def __init__(self, port: str, baudrate: int = 9600, name: str = "feedback"):
        super().__init__(name)
        self.port = port
        self.baudrate = baudrate
        self._serial = None

    def _open(self) -> None:
        import serial

        try:
            # write_timeout: a board that stops reading must not block the counter
            self._serial = serial.Serial(self.port, self.baudrate, write_timeout=0.2)
        except (serial.SerialException, OSError) as exc:
            raise DeviceNotFound(f"{self.name}: cannot open {self.port}: {exc}") from exc
        self._write(b"HELLO stampbox 1\n")

    def _close(self) -> None:
        if self._serial is not None:
            try:
                self._write(b"OFF\n")
            except DeviceLost:
                pass
            self._serial.close()
            self._serial = None

    def _play(self, name: str, pattern: Pattern) -> None:
        if self._serial is None:
            try:
                self.open()  # plugged back in since the last signal
            except DeviceNotFound as exc:
                log.info("%s: %s; %s not played", self.name, exc, name)
                return
        try:
            self._write(play_line(name, pattern))
        except DeviceLost as exc:
            log.warning("%s", exc)
            self._serial.close()
            self._serial = None

    def _write(self, line: bytes) -> None:
        import serial

        try:
            self._serial.write(line)
        except (serial.SerialException, serial.SerialTimeoutException, OSError) as exc:
            raise DeviceLost(f"{self.name}: {self.port} went away: {exc}") from exc
