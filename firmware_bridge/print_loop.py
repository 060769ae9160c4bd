"""The printer's loop: take the next slip from the durable queue, but only once the printer
says it is ready; print it; mark it printed. A picture of every slip goes to the data folder.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path

from appliance import printer_status, printing
from appliance.clock import utcnow
from appliance.db import database
from appliance.device_health import record_health

from .errors import DeviceError
from .printer import STATUS_TEXT, PrinterStatus, ReceiptPrinter
from .slips import render_png

log = logging.getLogger(__name__)


class PrintLoop:
    """Drive with initialize(), loop(now=...) per iteration, shutdown()."""

    def __init__(
        self,
        printer: ReceiptPrinter,
        preview_dir: Path,
        *,
        poll_seconds: float = 0.5,
        retry_seconds: float = 5.0,
    ):
        self.printer = printer
        self.preview_dir = Path(preview_dir)
        self.poll_seconds = poll_seconds
        # how long to wait before asking a printer that was not ready again
        self.retry_seconds = retry_seconds
        self._retry_at = 0.0
        self._reported: PrinterStatus | None = None

    def initialize(self) -> None:
        interrupted = printing.recover_interrupted()
        if interrupted:
            log.warning(
                "%d slip(s) were being printed when the bridge stopped: marked unsure, "
                "check them in the admin",
                interrupted,
            )
        self.preview_dir.mkdir(parents=True, exist_ok=True)

    def loop(self, now: datetime | None = None) -> str | None:
        """One step: "printed", a PrinterStatus value while waiting, "failed", or None (idle).

        Never raises for a printer problem: the slip stays queued and the state is recorded.
        """
        if time.monotonic() < self._retry_at or not printing.has_pending():
            time.sleep(self.poll_seconds)
            return None
        status = self.printer.status()
        self._report(status, now)
        if status is not PrinterStatus.READY:
            self._retry_at = time.monotonic() + self.retry_seconds
            return status.value
        job = printing.claim_next()
        if job is None:
            return None
        try:
            self.printer.print_receipt(job.receipt)
        except DeviceError as exc:
            log.warning(
                "%s: slip %d not printed, kept in the queue: %s", self.printer.name, job.id, exc
            )
            printing.release(job.id, str(exc))
            self._report(PrinterStatus.ABSENT, now, str(exc))
            self._retry_at = time.monotonic() + self.retry_seconds
            return PrinterStatus.ABSENT.value
        except Exception as exc:
            # a slip the renderer chokes on is a bug: keep it visible, do not retry forever
            log.exception("%s: slip %d cannot be printed", self.printer.name, job.id)
            printing.mark_failed(job.id, f"{type(exc).__name__}: {exc}")
            return "failed"
        now = now or utcnow()
        printing.mark_printed(job.id, now=now)
        log.info("%s: printed slip %d (%s)", self.printer.name, job.id, job.receipt.kind)
        self.write_preview(job.receipt, job.id)
        record_health(
            self.printer.name,
            "printer",
            "ready",
            STATUS_TEXT[PrinterStatus.READY],
            event_at=now,
            now=now,
        )
        return "printed"

    def write_preview(self, receipt, job_id: int) -> Path | None:
        """The slip's picture as <preview_dir>/last.png, replaced atomically."""
        try:
            picture = render_png(receipt, self.printer.width_mm)
            target = self.preview_dir / printer_status.LAST_SLIP
            with tempfile.NamedTemporaryFile(
                dir=self.preview_dir, suffix=".png", delete=False
            ) as out:
                picture.save(out, format="PNG")
            os.replace(out.name, target)
            return target
        except OSError as exc:
            # a full disk must not stop slips from printing
            log.warning("cannot write the slip preview for job %d: %s", job_id, exc)
            return None

    def shutdown(self) -> None:
        if database.obj is not None and not database.is_closed():
            database.close()

    def _report(self, status: PrinterStatus, now, detail: str = "") -> None:
        if status is self._reported:
            return
        self._reported = status
        if status is PrinterStatus.READY:
            log.info("%s: ready", self.printer.name)
        else:
            log.warning("%s: %s", self.printer.name, STATUS_TEXT[status])
        try:
            record_health(
                self.printer.name, "printer", status.value, detail or STATUS_TEXT[status], now=now
            )
        except Exception:
            log.exception("%s: cannot record the printer's state", self.printer.name)
