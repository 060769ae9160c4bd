"""`stampbox wallet apple-pass|google-object`: a member's wallet pass for scripts and checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import box as box_mod
from .cli import UsageError, emit, parse_at


def cmd_apple_pass(args) -> int:
    from .wallet import WalletError, make_apple_pass

    box = box_mod.start()
    try:
        data, record = make_apple_pass(box, args.member_id, now=parse_at(args.at))
    except WalletError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.output)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    info = {"member_id": args.member_id, "serial": record.serial, "file": str(out),
            "bytes": len(data)}  # fmt: skip
    return emit(args, info, f"Wrote {out} ({len(data)} bytes, serial {record.serial}).")


def cmd_google_object(args) -> int:
    from .wallet import WalletError
    from .wallet.google import box_google_config, loyalty_object

    box = box_mod.start()
    try:
        obj = loyalty_object(box, box_google_config(box), args.member_id, now=parse_at(args.at))
    except WalletError as exc:
        raise UsageError(str(exc)) from None
    return emit(args, obj, json.dumps(obj, ensure_ascii=False, indent=2))


def cmd_updates(args) -> int:
    from .wallet.worker import run_wallet_updates

    box = box_mod.start()
    counts = run_wallet_updates(box, now=parse_at(args.at))
    data = {k: getattr(counts, k) for k in ("passes", "pushed", "unregistered", "google", "later")}
    data["errors"] = counts.errors
    text = (
        f"{counts.passes} pass update(s): {counts.pushed} push(es), {counts.google} Google "
        f"patch(es), {counts.unregistered} registration(s) removed, {counts.later} waiting."
    )
    text += "".join(f"\n  {e}" for e in counts.errors)
    return emit(args, data, text)


def cmd_check(args) -> int:
    from cryptography import x509

    from .wallet import check_pkpass

    root = None
    if args.root:
        root = x509.load_pem_x509_certificate(Path(args.root).read_bytes())
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    problems = check_pkpass(data, root=root)
    text = "\n".join(problems) or f"{args.file}: no problems found."
    return emit(args, {"file": args.file, "problems": problems}, text, 3 if problems else 0)


def register(sub, add) -> None:
    group = sub.add_parser("wallet", help="Apple and Google Wallet passes").add_subparsers(
        dest="wallet_command", required=True, metavar="ACTION"
    )
    p = add("apple-pass", cmd_apple_pass, "write a member's signed Apple Wallet pass", group)
    p.add_argument("member_id", type=int, metavar="MEMBER_ID")
    p.add_argument("--output", required=True, metavar="FILE.pkpass")
    p.add_argument("--at", help="ISO-8601 moment the pass shows (default: now)")
    p = add("google-object", cmd_google_object, "print a member's Google LoyaltyObject", group)
    p.add_argument("member_id", type=int, metavar="MEMBER_ID")
    p.add_argument("--at", help="ISO-8601 moment the pass shows (default: now)")
    p = add(
        "updates", cmd_updates, "send the pending pass updates now (what the worker does)", group
    )
    p.add_argument("--at", help="ISO-8601 moment to run for (default: now)")
    p = add("check", cmd_check, "check a .pkpass the way Apple's validator does", group)
    p.add_argument("file", metavar="FILE.pkpass")
    p.add_argument("--root", help="PEM root certificate the chain must lead to (verifies the CMS)")
