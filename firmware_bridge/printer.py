"""Receipt printers through python-escpos, picked by an address string (the printer setting).

serial:/dev/ttyUSB0?baudrate=19200   serial or USB-serial printer (two-way: status replies)
usb:04b8:0202                        USB printer by vendor and product id (two-way)
tcp:192.168.1.50:9100                network printer, raw port 9100 (two-way)
file:/path/to/out.bin                appends the raw ESC/POS bytes (one-way: always "ready")
preview                              no paper: only the PNG picture of each slip
none                                 no printer: slips wait in the queue

The driver knows slips only as documents to draw; it never decides what to print.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from urllib.parse import parse_qsl

from escpos.printer import Dummy

from .device import Device
from .errors import DeviceConfigError, DeviceLost, DeviceNotFound
from .slips import draw_escpos, paper, render_escpos

log = logging.getLogger(__name__)

STATUS_TIMEOUT = 3.0  # seconds a two-way printer has to answer a status request


class PrinterStatus(Enum):
    READY = "ready"
    PAPER_OUT = "paper_out"
    OFFLINE = "offline"  # cover open, or the printer's own offline state
    ABSENT = "absent"  # cannot be reached at all (unplugged, switched off, wrong address)


STATUS_TEXT = {
    PrinterStatus.READY: "Printer ready.",
    PrinterStatus.PAPER_OUT: "The printer is out of paper: slips wait and print once it has paper.",
    PrinterStatus.OFFLINE: "The printer is offline (cover open?): slips wait until it is back.",
    PrinterStatus.ABSENT: "The printer cannot be reached: slips wait until it is back.",
}


class ReceiptPrinter(Device):
    """Base of printers: status() before a job, print_receipt() for the job."""

    has_buzzer = False

    def __init__(self, name: str = "printer", width_mm: int = 80):
        super().__init__(name)
        self.width_mm = paper(width_mm).mm
        # one connection at a time: a beep waits for the slip being printed, never cuts into it
        self.lock = threading.Lock()

    def status(self) -> PrinterStatus:
        return PrinterStatus.READY

    def print_receipt(self, receipt) -> None:
        """Print one slip whole. Raises DeviceLost if the printer went away on the way."""
        raise NotImplementedError

    def buzz(self, times: int, duration: int, *, not_after: float | None = None) -> bool:
        """Sound the printer's buzzer `times` beeps of `duration` (1-9 each) with python-escpos'
        buzzer command. False if the printer stayed busy until `not_after` (time.monotonic());
        raises DeviceLost if it cannot be reached."""
        wait = -1 if not_after is None else max(0.0, not_after - time.monotonic())
        if not self.lock.acquire(timeout=wait):
            return False
        try:
            self._buzz(times, duration)
        finally:
            self.lock.release()
        return True

    def _buzz(self, times: int, duration: int) -> None:
        raise DeviceLost(f"{self.name}: this printer has no buzzer")


class PreviewPrinter(ReceiptPrinter):
    """No paper at all: the bridge's preview picture is the slip."""

    def print_receipt(self, receipt) -> None:
        pass


class FilePrinter(ReceiptPrinter):
    """Appends each slip's ESC/POS bytes to a file (or a device node such as /dev/usb/lp0)."""

    def __init__(self, path: Path, width_mm: int = 80):
        super().__init__("printer", width_mm)
        self.path = path

    has_buzzer = True  # a device node such as /dev/usb/lp0 passes the command on

    def print_receipt(self, receipt) -> None:
        with self.lock:
            self._append(render_escpos(receipt, self.width_mm))

    def _buzz(self, times: int, duration: int) -> None:
        command = Dummy()
        command.buzzer(times, duration)
        self._append(command.output)

    def _append(self, data: bytes) -> None:
        try:
            with open(self.path, "ab") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise DeviceLost(f"{self.name}: cannot write {self.path}: {exc.strerror}") from exc


class EscposPrinter(ReceiptPrinter):
    """A two-way printer: python-escpos' Serial, Usb or Network, connected per job so an
    unplugged or restarted printer is simply connected again next time."""

    def __init__(self, connect: Callable[[], object], where: str, width_mm: int = 80):
        super().__init__("printer", width_mm)
        self._connect = connect
        self.where = where

    def _session(self):
        try:
            printer = self._connect()
            printer.open()
        except Exception as exc:
            # python-escpos raises its own errors, socket/serial/usb errors: all mean "not there"
            raise DeviceNotFound(f"{self.name}: cannot reach {self.where}: {exc}") from exc
        return printer

    has_buzzer = True

    def status(self) -> PrinterStatus:
        with self.lock:
            return self._status()

    def _status(self) -> PrinterStatus:
        try:
            printer = self._session()
        except DeviceNotFound as exc:
            log.debug("%s", exc)
            return PrinterStatus.ABSENT
        try:
            # DLE EOT 4 then 1: real-time requests, answered even while printing is blocked
            if printer.paper_status() == 0:
                return PrinterStatus.PAPER_OUT
            if not printer.is_online():
                return PrinterStatus.OFFLINE
            return PrinterStatus.READY
        except Exception as exc:
            log.info("%s: no status answer from %s: %s", self.name, self.where, exc)
            return PrinterStatus.ABSENT
        finally:
            _close_quietly(printer)

    def print_receipt(self, receipt) -> None:
        with self.lock:
            self._send(lambda printer: draw_escpos(receipt, printer, self.width_mm), "printing")

    def _buzz(self, times: int, duration: int) -> None:
        self._send(lambda printer: printer.buzzer(times, duration), "beeping")

    def _send(self, draw: Callable[[object], None], doing: str) -> None:
        try:
            printer = self._session()
        except DeviceNotFound as exc:
            raise DeviceLost(str(exc)) from exc
        try:
            draw(printer)
        except Exception as exc:
            raise DeviceLost(f"{self.name}: {self.where} failed while {doing}: {exc}") from exc
        finally:
            _close_quietly(printer)


def _close_quietly(printer) -> None:
    try:
        printer.close()
    except Exception as exc:
        log.debug("closing the printer: %s", exc)


def _tcp(arg: str, width: int) -> ReceiptPrinter:
    host, _, port = arg.rpartition(":")
    if not host or not port.isdigit():
        raise DeviceConfigError(f"'tcp:{arg}': write tcp:HOST:PORT, e.g. tcp:192.168.1.50:9100")

    def connect():
        from escpos.printer import Network

        return Network(host, int(port), timeout=STATUS_TIMEOUT)

    return EscposPrinter(connect, f"{host}:{port}", width)


def _serial(arg: str, width: int) -> ReceiptPrinter:
    path, _, query = arg.partition("?")
    options = dict(parse_qsl(query))
    try:
        baudrate = int(options.pop("baudrate", "19200"))
    except ValueError:
        raise DeviceConfigError(f"'serial:{arg}': baudrate must be a number") from None
    if options or not path:
        raise DeviceConfigError(
            f"'serial:{arg}': write serial:/dev/ttyUSB0?baudrate=19200 (baudrate is optional)"
        )

    def connect():
        return _serial_class()(path, baudrate=baudrate, timeout=STATUS_TIMEOUT)

    return EscposPrinter(connect, path, width)


@functools.cache
def _serial_class():
    from escpos.printer import Serial

    class StatusSerial(Serial):
        """python-escpos' Serial reading a status answer as the one byte it is."""

        def _read(self) -> bytes:
            # escpos reads read(16), which on a serial line waits the whole timeout for 15
            # bytes that never come (3 s per status request); DLE EOT n answers one byte
            return self.device.read(1)

    return StatusSerial


def _usb(arg: str, width: int) -> ReceiptPrinter:
    try:
        vendor, product = (int(part, 16) for part in arg.split(":"))
    except ValueError:
        raise DeviceConfigError(
            f"'usb:{arg}': write usb:VID:PID in hex, e.g. usb:04b8:0202"
        ) from None

    def connect():
        from escpos.printer import Usb

        return Usb(vendor, product, timeout=int(STATUS_TIMEOUT * 1000))

    return EscposPrinter(connect, f"USB {arg}", width)


def _file(arg: str, width: int) -> ReceiptPrinter:
    if not arg:
        raise DeviceConfigError("'file:': name the file, e.g. file:/var/lib/stampbox/slips.bin")
    return FilePrinter(Path(arg), width)


TRANSPORTS = {"tcp": _tcp, "serial": _serial, "usb": _usb, "file": _file}


def build_printer(spec: str, width_mm: int = 80) -> ReceiptPrinter | None:
    """The printer the setting names, not yet used; None for `none`.

    Raises DeviceConfigError naming what is wrong.
    """
    spec = spec.strip()
    try:
        paper(width_mm)
    except ValueError as exc:
        raise DeviceConfigError(f"STAMPBOX_PRINTER_WIDTH: {exc}") from None
    if spec in ("none", ""):
        return None
    if spec == "preview":
        return PreviewPrinter(width_mm=width_mm)
    kind, _, arg = spec.partition(":")
    factory = TRANSPORTS.get(kind)
    if factory is None:
        known = ", ".join([*TRANSPORTS, "preview", "none"])
        raise DeviceConfigError(f"printer {spec!r}: unknown kind {kind!r}; use one of: {known}")
    return factory(arg, width_mm)
