"""The devices setting: a configuration string picks each driver, as nfcpy and escpos do.

sim                  the named pipe <data_dir>/sim-reader.fifo
sim:/path/to/fifo    a named pipe elsewhere
stdin                lines typed (or piped) into the bridge
sim,stdin            several readers, one thread each
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import DeviceConfigError
from .reader import Reader
from .sim import FifoReader, StdinReader

SIM_FIFO_NAME = "sim-reader.fifo"


def _sim(arg: str, data_dir: Path) -> Reader:
    return FifoReader(Path(arg) if arg else data_dir / SIM_FIFO_NAME)


def _stdin(arg: str, data_dir: Path) -> Reader:
    if arg:
        raise DeviceConfigError(f"'stdin:{arg}': stdin takes no arguments")
    return StdinReader()


DRIVERS: dict[str, Callable[[str, Path], Reader]] = {"sim": _sim, "stdin": _stdin}

# hardware has its own settings (nfc, scanners, printer): point there from `devices`
PLANNED = {
    "usb": "NFC readers go in the nfc setting (STAMPBOX_NFC=usb)",
    "tty": "NFC readers go in the nfc setting (STAMPBOX_NFC=tty:AMA0:pn532)",
    "udp": "NFC readers go in the nfc setting (STAMPBOX_NFC=udp:HOST:PORT)",
    "hid": "scanners go in the scanners setting (STAMPBOX_SCANNERS)",
}


def build_readers(spec: str, data_dir: Path) -> list[Reader]:
    """The readers a comma-separated devices setting names, not yet opened.

    Raises DeviceConfigError naming the entry at fault.
    """
    entries = [entry.strip() for entry in spec.split(",") if entry.strip()]
    if not entries:
        raise DeviceConfigError("the devices setting is empty: name at least one reader, e.g. sim")
    if len(set(entries)) < len(entries):
        twice = next(entry for entry in entries if entries.count(entry) > 1)
        # two threads on one pipe would each get half of the input
        raise DeviceConfigError(f"{twice!r} is named twice in the devices setting")
    readers: list[Reader] = []
    for entry in entries:
        kind, _, arg = entry.partition(":")
        factory = DRIVERS.get(kind.strip().lower())
        if factory is None:
            known = ", ".join(DRIVERS)
            if kind in PLANNED:
                raise DeviceConfigError(
                    f"{entry!r}: {PLANNED[kind]}; the devices setting takes: {known}"
                )
            raise DeviceConfigError(
                f"{entry!r}: unknown device driver {kind!r}; use one of: {known}"
            )
        readers.append(factory(arg.strip(), data_dir))
    _name_uniquely(readers)
    return readers


def _name_uniquely(readers: list[Reader]) -> None:
    """Two readers of one kind become sim, sim-2: the name is the source in the counter log."""
    seen: dict[str, int] = {}
    for reader in readers:
        seen[reader.name] = seen.get(reader.name, 0) + 1
        if seen[reader.name] > 1:
            reader.name = f"{reader.name}-{seen[reader.name]}"


NFC_KINDS = ("usb", "tty", "udp", "pn532")


def build_nfc(spec: str) -> Reader | None:
    """The NFC reader the nfc setting names (nfcpy's path syntax), or None for `none`."""
    spec = spec.strip()
    if spec in ("", "none"):
        return None
    kind = spec.partition(":")[0]
    if kind not in NFC_KINDS:
        raise DeviceConfigError(
            f"nfc {spec!r}: use usb, usb:VID:PID, tty:AMA0:pn532, tty:USB0:pn532, "
            "udp:HOST:PORT or none"
        )
    from .nfc_reader import NfcReader

    return NfcReader(spec)


def build_scanners(spec: str, layout: str = "us") -> list[Reader]:
    """The scanners the scanners setting names (comma separated), not yet opened."""
    readers: list[Reader] = []
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        kind, _, arg = entry.partition(":")
        if kind == "serial" and arg:
            from .serial_scanner import SerialScanner

            readers.append(SerialScanner(arg))
        elif entry.startswith("/dev/input/") or kind == "hid":
            from .hid_scanner import HidScanner

            readers.append(HidScanner(arg if kind == "hid" else entry, layout))
        else:
            raise DeviceConfigError(
                f"scanner {entry!r}: use serial:/dev/ttyACM0, /dev/input/eventN or hid:NAME"
            )
    _name_uniquely(readers)
    return readers
