"""`python -m firmware_bridge`: start the devices in a fixed order, run until SIGTERM/SIGINT.

Order: settings, the devices and printer settings, the database, feedback, each reader, the
printer's queue. The first failure
stops startup with one line that says what to fix; nothing is left half-open.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from appliance import box as box_mod
from appliance.db import DatabaseError
from appliance.heartbeat import beat
from appliance.printer_status import preview_dir
from appliance.settings import Settings, SettingsError, load_settings

from .commands import main_command
from .counter_loop import CounterLoop
from .device import DeviceState
from .drivers import build_nfc, build_readers, build_scanners
from .errors import DeviceConfigError, DeviceError, DeviceNotFound
from .feedback import Feedback, FeedbackSet, LogFeedback
from .feedback_board import SerialFeedback
from .health import HealthListener
from .print_loop import PrintLoop
from .printer import ReceiptPrinter, build_printer
from .printer_buzzer import PrinterBuzzer
from .runner import LoopThread
from .sim import FifoReader

log = logging.getLogger("firmware_bridge")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


class StartupError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


HEARTBEAT_SECONDS = 30.0


class Bridge:
    """The running bridge: one feedback device, one counter loop per reader, a thread each."""

    def __init__(self, loops: list[CounterLoop], feedback: Feedback, services: tuple = ()):
        self.loops = loops
        self.feedback = feedback
        # loops that serve the counter without reading it: the printer's queue
        self.services = list(services)
        self.stop_event = threading.Event()
        self.threads = [LoopThread(loop.reader.name, loop, self.stop_event) for loop in loops]
        self.threads += [
            LoopThread(type(service).__name__, service, self.stop_event) for service in services
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finished(self) -> bool:
        """True when every reader's input has ended for good (stdin fed from a file)."""
        return all(loop.reader.state is DeviceState.ENDED for loop in self.loops)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop every loop and close the devices; False if a thread did not finish in time."""
        self.stop_event.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [thread.name for thread in self.threads if thread.is_alive()]
        if stuck:
            log.error("did not stop in %.0f s: %s", timeout, ", ".join(stuck))
        self.feedback.close()
        return not stuck


def build_feedback(spec: str, printer: ReceiptPrinter | None = None) -> Feedback:
    """The feedback setting, comma separated: log, serial:PORT (a feedback board), printer
    (the receipt printer's buzzer). Raises DeviceConfigError naming the entry at fault."""
    outputs: list[Feedback] = []
    for entry in (part.strip() for part in spec.split(",")):
        kind, _, arg = entry.partition(":")
        if kind == "log" and not arg:
            outputs.append(LogFeedback())
        elif kind == "serial" and arg:
            outputs.append(SerialFeedback(arg))
        elif entry == "printer":
            if printer is None or not printer.has_buzzer:
                raise DeviceConfigError(
                    "feedback 'printer': the printer setting names no printer with a buzzer "
                    "(use serial:, usb:, tcp: or file:)"
                )
            outputs.append(PrinterBuzzer(printer))
        else:
            raise DeviceConfigError(
                f"feedback {entry!r}: use log, serial:/dev/ttyACM1 or printer (comma separated)"
            )
    return outputs[0] if len(outputs) == 1 else FeedbackSet(outputs)


def start_bridge(settings: Settings) -> Bridge:
    """Open everything in order. Raises StartupError with one sentence for a person."""
    try:
        readers = build_readers(settings.devices, settings.data_dir)
        readers += [r for r in (build_nfc(settings.nfc),) if r is not None]
        readers += build_scanners(settings.scanners, settings.keyboard_layout)
        printer = build_printer(settings.printer, settings.printer_width)
        build_feedback(settings.feedback, printer)
    except DeviceConfigError as exc:
        raise StartupError(f"configuration problem: {exc}", EXIT_CONFIG) from None
    try:
        box_mod.start(settings)
    except (OSError, DatabaseError) as exc:
        # describe() hides a password in a database URL
        where = settings.describe()["database_url"] or settings.db_path
        raise StartupError(f"cannot open the database {where}: {exc}") from None
    feedback = build_feedback(settings.feedback, printer)
    health = HealthListener()
    loops = [CounterLoop(reader, feedback, health=health) for reader in readers]
    services = []
    if printer is not None:
        print_loop = PrintLoop(printer, preview_dir(settings))
        # a printer problem is never fatal: slips wait in the queue until it is back
        print_loop.initialize()
        services.append(print_loop)
    opened: list[CounterLoop] = []
    try:
        try:
            feedback.open()
        except DeviceNotFound as exc:
            # a missing beeper must not keep stamps from landing: it is opened again per signal
            log.warning("%s; carrying on without it", exc)
        for loop in loops:
            try:
                loop.initialize()
            except DeviceError as exc:
                if not getattr(loop.reader, "hot_plug", False):
                    raise
                # hardware that is not plugged in yet: looked for again every few seconds
                log.warning("%s; looking for it every %.0f s", exc, loop.retry_seconds)
                loop.reader.mark_lost()
            opened.append(loop)
    except DeviceError as exc:
        for loop in opened:
            loop.reader.close()
        feedback.close()
        raise StartupError(f"device problem: {exc}") from None
    for reader in readers:
        if reader.state is not DeviceState.READY:
            continue
        where = getattr(reader, "path", None) if isinstance(reader, FifoReader) else None
        log.info(
            "%s ready%s", reader.name, f": write tokens, one per line, to {where}" if where else ""
        )
    return Bridge(loops, feedback, services)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(
        # a one-shot command prints JSON; its log says only what went wrong
        level=logging.WARNING if argv else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        # python-escpos adds a handler to the root logger when imported: replace it
        force=True,
    )
    # python-escpos warns on every slip about a profile field we do not use
    logging.getLogger("escpos").setLevel(logging.ERROR)
    code = main_command(argv)
    if code is not None:
        return code
    stopping = threading.Event()

    def request_stop(signum, _frame):
        log.info("%s: stopping", signal.Signals(signum).name)
        stopping.set()

    # installed first: a SIGTERM during startup then means "stop once started", not a crash
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        settings = load_settings()
        bridge = start_bridge(settings)
    except SettingsError as exc:
        log.error("cannot start: configuration problem: %s", exc)
        return EXIT_CONFIG
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        return exc.code
    bridge.start()
    last_beat = 0.0
    # a timed wait, so the signal handler gets to run promptly in this (the main) thread
    while not stopping.wait(0.2):
        if bridge.finished():
            log.info("all input has ended: stopping")
            break
        if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            # `stampbox status` shows when the bridge was last seen alive
            try:
                beat(settings, "bridge")
            except OSError as exc:
                log.warning("cannot record the heartbeat: %s", exc)
            last_beat = time.monotonic()
    clean = bridge.stop()
    box_mod.stop()
    return EXIT_OK if clean else EXIT_FAILED
