"""One-shot bridge commands behind `stampbox devices` and `stampbox print`:

python -m firmware_bridge devices     what is configured and detected, as JSON
python -m firmware_bridge drain       print the queued slips once through the configured
                                      printer, then exit (safe beside a running bridge: a
                                      job is claimed by one printer loop only)
"""

from __future__ import annotations

import json
import logging
import sys

from appliance import box as box_mod
from appliance import printer_status, printing
from appliance.device_health import device_health
from appliance.settings import Settings

from .drivers import build_nfc, build_readers, build_scanners
from .errors import DeviceError
from .print_loop import PrintLoop
from .printer import STATUS_TEXT, build_printer

log = logging.getLogger(__name__)


def _probe(reader) -> dict:
    """Open and close a reader once: present or not, and why not."""
    try:
        reader.open()
    except DeviceError as exc:
        return {"name": reader.name, "present": False, "detail": str(exc)}
    finally:
        reader.close()
    return {"name": reader.name, "present": True, "detail": ""}


def _detected_inputs() -> list[dict]:
    try:
        from evdev import InputDevice, list_devices

        found = []
        for path in list_devices():
            device = InputDevice(path)
            found.append({"path": path, "name": device.name})
            device.close()
        return found
    except (ImportError, OSError):
        return []


def _detected_serial_ports() -> list[dict]:
    from serial.tools import list_ports

    return [{"path": port.device, "name": port.description} for port in list_ports.comports()]


def _feedback_report(spec: str, printer, printer_status: str) -> dict:
    """The feedback outputs the setting names; a board is opened once to see it is there."""
    from .feedback import FeedbackSet, LogFeedback
    from .main import build_feedback
    from .printer_buzzer import PrinterBuzzer

    feedback = build_feedback(spec, printer)
    outputs = []
    for output in feedback.outputs if isinstance(feedback, FeedbackSet) else [feedback]:
        if isinstance(output, LogFeedback):
            outputs.append({"kind": "log", "present": True, "detail": "the bridge's log"})
        elif isinstance(output, PrinterBuzzer):
            detail = "the receipt printer's buzzer (ESC B)"
            present = printer_status == "ready"
            outputs.append({"kind": "printer", "present": present, "detail": detail})
        else:
            outputs.append(dict(_probe(output), kind="serial", port=output.port))
    return {"setting": spec, "outputs": outputs}


def devices_report(settings: Settings) -> dict:
    """The configured devices probed once, what the machine offers, and the bridge's health."""
    nfc = build_nfc(settings.nfc)
    printer = build_printer(settings.printer, settings.printer_width)
    readers = build_readers(settings.devices, settings.data_dir)
    status = printer.status().value if printer is not None else "none"
    return {
        "readers": [dict(_probe(r), setting=settings.devices) for r in readers],
        "nfc": dict(_probe(nfc), setting=settings.nfc) if nfc else {"setting": "none"},
        "scanners": [
            dict(_probe(s), setting=settings.scanners)
            for s in build_scanners(settings.scanners, settings.keyboard_layout)
        ],
        "printer": {
            "setting": settings.printer,
            "width_mm": settings.printer_width,
            "status": status,
        },
        "feedback": _feedback_report(settings.feedback, printer, status),
        "detected": {"input": _detected_inputs(), "serial": _detected_serial_ports()},
        "health": device_health(),
        "print_queue": printing.queue_status(),
    }


def drain(settings: Settings) -> dict:
    """Print every queued slip the printer will take now; stop at the first that waits."""
    printer = build_printer(settings.printer, settings.printer_width)
    if printer is None:
        return {
            "printed": 0,
            "status": "none",
            "message": "No printer configured (printer = none).",
        }
    loop = PrintLoop(printer, printer_status.preview_dir(settings), poll_seconds=0, retry_seconds=0)
    loop.preview_dir.mkdir(
        parents=True, exist_ok=True
    )  # not initialize(): a bridge may be printing
    printed = 0
    while printing.has_pending():
        outcome = loop.loop()
        if outcome != "printed":
            status = outcome or "ready"
            return {
                "printed": printed,
                "status": status,
                "message": STATUS_TEXT.get(_status(status), f"Slip not printed: {status}."),
            }
        printed += 1
    return {"printed": printed, "status": "ready", "message": f"Printed {printed} slip(s)."}


def _status(value: str):
    from .printer import PrinterStatus

    try:
        return PrinterStatus(value)
    except ValueError:
        return None


COMMANDS = {"devices": devices_report, "drain": drain}


def run(name: str, settings: Settings) -> int:
    """Run one command, print its JSON on standard output. Exit 0, or 3 if a slip waits."""
    box_mod.start(settings)
    try:
        result = COMMANDS[name](settings)
    except DeviceError as exc:
        print(json.dumps({"status": "error", "error": str(exc)}))
        return 2
    finally:
        box_mod.stop()
    print(json.dumps(result, ensure_ascii=False))
    return 3 if name == "drain" and result["status"] not in ("ready", "none") else 0


def main_command(argv: list[str]) -> int | None:
    """Dispatch `python -m firmware_bridge <command>`; None if argv names no command."""
    if not argv:
        return None
    if argv[0] not in COMMANDS:
        print(f"usage: python -m firmware_bridge [{'|'.join(COMMANDS)}]", file=sys.stderr)
        return 2
    from appliance.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(json.dumps({"status": "error", "error": f"configuration problem: {exc}"}))
        return 2
    return run(argv[0], settings)
