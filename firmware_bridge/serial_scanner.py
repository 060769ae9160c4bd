"""Serial (USB-CDC) barcode scanners through pyserial: one scan per CR/LF-terminated line."""

from __future__ import annotations

from .errors import DeviceLost, DeviceNotFound
from .lines import LineReader


class SerialScanner(LineReader):
    """A scanner at a serial port (/dev/ttyACM0, a pseudo-terminal in tests)."""

    hot_plug = True  # unplugged and plugged back: opened again by the bridge loop

    def __init__(self, port: str, baudrate: int = 9600, name: str = "scanner"):
        super().__init__(name)
        self.port = port
        self.baudrate = baudrate
        self._serial = None

    def _open(self) -> None:
        import serial

        self._reset()
        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=0)
        except (serial.SerialException, OSError) as exc:
            raise DeviceNotFound(f"{self.name}: cannot open {self.port}: {exc}") from exc
        self._fd = self._serial.fileno()

    def _close(self) -> None:
        if self._serial is not None:
            self._serial.close()
        self._serial = self._fd = None

    def _read(self, timeout: float) -> bytes | None:
        record = super()._read(timeout)
        if record is None and self._eof:
            # a serial port has no end of input: zero bytes after select means it went away
            raise DeviceLost(f"{self.name}: {self.port} went away")
        return record
