"""`stampbox devices` and `stampbox print voucher|test|summary`: the counter hardware from the
command line.

The core imports no device library, so listing devices runs the bridge's own one-shot command
(`python -m firmware_bridge devices`), and printing queues a slip in the durable print queue
and asks the bridge to print what is queued (`python -m firmware_bridge drain`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

from . import box as box_mod
from .cli import EXIT_OK, EXIT_REFUSED, UsageError, emit
from .clock import utcnow


def _bridge(command: str) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "firmware_bridge", command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise UsageError(
            f"the device bridge failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
        ) from None


def cmd_devices(args) -> int:
    code, report = _bridge("devices")
    if report.get("status") == "error":
        raise UsageError(report["error"])
    lines = []
    for reader in report["readers"] + report["scanners"] + [report["nfc"]]:
        if "name" in reader:
            state = "present" if reader["present"] else f"missing ({reader['detail']})"
            lines.append(f"{reader['name']:<10} {state}")
    printer = report["printer"]
    lines.append(
        f"{'printer':<10} {printer['setting']} {printer['width_mm']} mm: {printer['status']}"
    )
    for output in report["feedback"]["outputs"]:
        where = output.get("port") or output["detail"]
        state = "present" if output["present"] else "missing"
        lines.append(f"{'feedback':<10} {output['kind']} ({where}): {state}")
    counts = report["print_queue"]["counts"]
    lines.append(f"{'queue':<10} {counts['pending']} waiting, {counts['unsure']} unsure")
    return emit(args, report, "\n".join(lines))


def _print(args, receipt) -> int:
    from .printing import enqueue

    box = box_mod.start()
    with box.db.atomic():
        job = enqueue(receipt, box=box)
    box_mod.stop()
    if args.queue_only:
        return emit(args, {"job": job, "status": "queued"}, f"Slip queued (job {job}).")
    code, result = _bridge("drain")
    if result.get("status") == "error":
        raise UsageError(result["error"])
    result["job"] = job
    return emit(args, result, result["message"], EXIT_OK if code == 0 else EXIT_REFUSED)


def cmd_print_voucher(args) -> int:
    from .receipts import voucher_receipt_for_code

    box_mod.start()
    try:
        receipt = voucher_receipt_for_code(args.code)
    except LookupError as exc:
        raise UsageError(str(exc)) from None
    return _print(args, receipt)


def cmd_print_test(args) -> int:
    from .receipts import printer_test_receipt

    box = box_mod.start()
    return _print(args, printer_test_receipt(zone=box.zone, width=box.settings.printer_width))


def _shop_day(day: str | None, zone) -> date:
    """--day as a date (YYYY-MM-DD), default the shop's today."""
    if day is None:
        return utcnow().astimezone(zone).date()
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise UsageError(f"--day {day!r} is not a date like 2026-11-24.") from None


def cmd_print_summary(args) -> int:
    from .printing import day_bounds
    from .receipts import day_summary_receipt

    box = box_mod.start()
    start, end = day_bounds(_shop_day(args.day, box.zone), box.zone)
    return _print(args, day_summary_receipt(start, end, box=box))


def register(sub, add) -> None:
    add("devices", cmd_devices, "list the configured and detected counter devices")
    group = sub.add_parser("print", help="print a slip").add_subparsers(
        dest="print_command", required=True, metavar="WHAT"
    )
    p = add("voucher", cmd_print_voucher, "print a voucher's slip again", group)
    p.add_argument("code")
    p.add_argument("--queue-only", action="store_true", help="queue it for the running bridge")
    p = add("test", cmd_print_test, "print a test slip", group)
    p.add_argument("--queue-only", action="store_true", help="queue it for the running bridge")
    p = add("summary", cmd_print_summary, "print the end-of-day summary slip", group)
    p.add_argument("--day", help="the shop's day, YYYY-MM-DD (default: today)")
    p.add_argument("--queue-only", action="store_true", help="queue it for the running bridge")
