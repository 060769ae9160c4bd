"""`stampbox wallet apple-pass|google-object`: a member's wallet pass for scripts and checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import box as box_mod
from .cli import EXIT_OK, EXIT_REFUSED, UsageError, emit, parse_at


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


def _read(path: str | None) -> bytes:
    if not path:
        return b""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def cmd_setup(args) -> int:
    """What the admin's wallet page does, for scripts: checked uploads and identifiers."""
    from .wallet.uploads import (
        SetupError,
        save_apns_key,
        save_apple,
        save_google_key,
        save_identifiers,
    )

    box = box_mod.start()
    done = []
    try:
        ids = {"apple_pass_type_id": args.pass_type_id, "apple_team_id": args.team_id,
               "google_issuer_id": args.issuer_id}  # fmt: skip
        if any(v is not None for v in ids.values()):
            current = _stored_ids(box)
            save_identifiers(box, "cli", {k: current.get(k, "") if v is None else v
                                          for k, v in ids.items()})  # fmt: skip
            done.append("identifiers")
        if args.cert or args.key or args.wwdr:
            signer = save_apple(box, "cli", cert=_read(args.cert), key=_read(args.key),
                                wwdr=_read(args.wwdr))  # fmt: skip
            done.append(f"apple ({signer.pass_type_id})")
        if args.google_key:
            info = save_google_key(box, "cli", _read(args.google_key))
            done.append(f"google ({info['client_email']})")
        if args.apns_key:
            save_apns_key(box, "cli", _read(args.apns_key), args.apns_key_id or "", "")
            done.append("apns token key")
    except SetupError as exc:
        return emit(args, {"status": "refused", "message": str(exc), "done": done},
                    f"Refused: {exc}", EXIT_REFUSED)  # fmt: skip
    if not done:
        raise UsageError("nothing to set up: give --cert/--key/--wwdr, --google-key, ids")
    return emit(args, {"status": "saved", "done": done}, "Saved: " + ", ".join(done) + ".")


def _stored_ids(box) -> dict:
    from .wallet.setup import stored_values

    return stored_values(box.db)


def cmd_status(args) -> int:
    """Which wallets are ready, from where their settings come, and why not."""
    from .wallet import WalletError, load_signer, wallet_box
    from .wallet.apple import web_service_url
    from .wallet.google import box_google_config
    from .wallet.setup import fixed_by_box

    box = box_mod.start()
    settings = wallet_box(box).settings
    data = {"apple": {"ready": False}, "google": {"ready": False},
            "apple_updates": bool(web_service_url(settings.public_url)),
            "from_configuration": sorted(fixed_by_box(box.settings))}  # fmt: skip
    try:
        signer = load_signer(settings)
        data["apple"] = {"ready": True, "pass_type_id": signer.pass_type_id,
                         "team_id": signer.team_id,
                         "push_auth": "token" if settings.apns_key_file else "certificate",
                         "expires": signer.cert.not_valid_after_utc.date().isoformat()}  # fmt: skip
    except WalletError as exc:
        data["apple"]["problem"] = str(exc)
    try:
        config = box_google_config(box)
        data["google"] = {"ready": True, "issuer_id": config.issuer_id,
                          "client_email": config.account["client_email"]}  # fmt: skip
    except WalletError as exc:
        data["google"]["problem"] = str(exc)
    lines = []
    for name in ("apple", "google"):
        part = data[name]
        lines.append(f"{name}: " + ("ready" if part["ready"] else part["problem"]))
    if not data["apple_updates"]:
        lines.append("Apple passes stay static: STAMPBOX_PUBLIC_URL is not https.")
    code = EXIT_OK if data["apple"]["ready"] or data["google"]["ready"] else EXIT_REFUSED
    return emit(args, data, "\n".join(lines), code)


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
    p = add("setup", cmd_setup, "store checked wallet certificates, keys and ids", group)
    p.add_argument("--cert", help="Pass Type ID certificate (.cer or .pem)")
    p.add_argument("--key", help="its private key (.pem)")
    p.add_argument("--wwdr", help="Apple's WWDR intermediate certificate")
    p.add_argument("--google-key", help="the Google service account's JSON key")
    p.add_argument("--pass-type-id", help="Apple pass type identifier")
    p.add_argument("--team-id", help="Apple team identifier")
    p.add_argument("--issuer-id", help="Google Wallet issuer ID")
    p.add_argument("--apns-key", help="APNs token key (.p8), instead of the certificate")
    p.add_argument("--apns-key-id", help="the .p8 key's Key ID")
    add("status", cmd_status, "which wallets are ready, and why not", group)
    p = add("check", cmd_check, "check a .pkpass the way Apple's validator does", group)
    p.add_argument("file", metavar="FILE.pkpass")
    p.add_argument("--root", help="PEM root certificate the chain must lead to (verifies the CMS)")
