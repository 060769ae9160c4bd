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
    from .wallet.google import google_config, loyalty_object

    box = box_mod.start()
    try:
        obj = loyalty_object(
            box, google_config(box.settings), args.member_id, now=parse_at(args.at)
        )
    except WalletError as exc:
        raise UsageError(str(exc)) from None
    return emit(args, obj, json.dumps(obj, ensure_ascii=False, indent=2))


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
