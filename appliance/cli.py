"""`stampbox`: the owner's and the scripts' command line. Every command takes --json.

Exit status: 0 done (stamped, cooldown, voucher, redeemed), 3 refused or unknown card,
2 bad usage or bad input, 1 the appliance could not start (a sentence says why).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from . import box as box_mod
from .amounts import parse_amount
from .clock import parse_moment
from .settings import SettingsError, load_settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


class UsageError(Exception):
    """Bad input from the person at the keyboard: printed as a sentence, exit 2."""


def emit(args, data: dict, text: str, code: int = EXIT_OK) -> int:
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(text)
    return code


def parse_at(text: str | None):
    if text is None:
        return None
    try:
        return parse_moment(text)
    except ValueError:
        raise UsageError(
            f"--at {text!r} is not an ISO-8601 time like 2026-11-24T09:30:00Z."
        ) from None


def cmd_init(args) -> int:
    from .provision import init_box

    settings = load_settings()
    result = init_box(settings)
    if result["owner"] and args.setup_slip:
        from .provision import queue_setup_slip

        result["setup_slip_job"] = queue_setup_slip(settings, result["owner"])
    if result["owner"]:
        text = (
            f"Stampbox is ready in {result['data_dir']}.\n"
            f"Owner login (shown only this once): username {result['owner']['username']}, "
            f"password {result['owner']['password']}"
        )
    else:
        text = f"Stampbox data folder {result['data_dir']} is already set up."
    return emit(args, result, text)


def cmd_tap(args) -> int:
    from .counter import handle

    box_mod.start()
    amount = None
    if args.amount is not None:
        try:
            amount = parse_amount(args.amount)
        except ValueError as exc:
            raise UsageError(f"--amount {exc}") from None
    try:
        result = handle(
            args.token, source="cli", stamps=args.stamps, now=parse_at(args.at), amount_cents=amount
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if result.status == "refused" and result.reason in ("bad_token", "unrecognised"):
        code = EXIT_USAGE
    elif result.status in ("refused", "unknown_card"):
        code = EXIT_REFUSED
    else:
        code = EXIT_OK
    lines = [result.message]
    lines += [f"  unlocked: {v['reward']}  {v['code']}" for v in result.unlocked]
    lines += [
        f"  waiting:  {v['reward']}  {v['code']}  until {v['valid_until']}"
        for v in result.vouchers
        if v not in result.unlocked
    ]
    if code != EXIT_OK and not args.json:
        print(result.message, file=sys.stderr)
        if result.enrol and "nfc_uid" in result.enrol:
            print(
                f"  enrol: stampbox member add --name NAME --card {result.enrol['nfc_uid']}",
                file=sys.stderr,
            )
        return code
    return emit(args, result.to_dict(), "\n".join(lines), code)


def cmd_redeem(args) -> int:
    from .vouchers import redeem_voucher

    box_mod.start()
    result = redeem_voucher(args.code, now=parse_at(args.at), by="cli", source="cli")
    code = EXIT_OK if result.status == "redeemed" else EXIT_REFUSED
    if code != EXIT_OK and not args.json:
        print(result.message, file=sys.stderr)
        return code
    return emit(args, result.to_dict(), result.message, code)


def cmd_member_add(args) -> int:
    from .members import MemberError, add_member

    box_mod.start()
    try:
        member = add_member(
            args.name, args.email, args.phone, args.birthday, args.card, actor="cli"
        )
    except MemberError as exc:
        raise UsageError(str(exc)) from None
    cards = ", ".join(
        c["code"] + (f" (NFC {c['nfc_uid']})" if c["nfc_uid"] else "") for c in member["cards"]
    )
    return emit(args, member, f"Member {member['id']} enrolled. Card: {cards}")


def cmd_program_set(args) -> int:
    from .program import ProgramError, parse_tier, set_program

    box_mod.start()
    try:
        state = set_program([parse_tier(t) for t in args.tier], args.voucher_days, actor="cli")
    except ProgramError as exc:
        raise UsageError(str(exc)) from None
    tiers = ", ".join(f"{t.stamps} stamps: {t.reward}" for t in state.tiers)
    return emit(
        args, state.to_dict(), f"Program saved. {tiers}. Vouchers valid {state.voucher_days} days."
    )


def cmd_program_show(args) -> int:
    from .program import load_program

    box_mod.start()
    state = load_program()
    if state is None:
        raise UsageError("No program yet: run `stampbox init` first.")
    tiers = ", ".join(f"{t.stamps} stamps: {t.reward}" for t in state.tiers)
    return emit(args, state.to_dict(), f"{tiers}. Vouchers valid {state.voucher_days} days.")


def cmd_import(args) -> int:
    from .importer import CsvImportError, import_files

    box_mod.start()
    try:
        report = import_files(args.members, args.visits)
    except CsvImportError as exc:
        raise UsageError(str(exc)) from None
    return emit(
        args,
        report,
        f"Imported {report['members_added']} new members and {report['visits_added']} new visits"
        f" ({report['members_skipped']} members and {report['visits_skipped']} visits"
        " were already there).",
    )


def cmd_device_token_create(args) -> int:
    from .staff import TokenError, create_device_token

    box_mod.start()
    try:
        token = create_device_token(args.name)
    except TokenError as exc:
        raise UsageError(str(exc)) from None
    return emit(
        args,
        {"name": args.name, "token": token},
        f"Token for {args.name} (shown only this once): {token}",
    )


def cmd_device_token_revoke(args) -> int:
    from .staff import revoke_device_token

    box_mod.start()
    if not revoke_device_token(args.name):
        raise UsageError(f"No active token for a device named {args.name!r}.")
    return emit(args, {"name": args.name, "revoked": True}, f"Token for {args.name} revoked.")


def cmd_web(args) -> int:
    from .processes import run_web

    return run_web(args.host, args.port)


def cmd_worker(args) -> int:
    from .processes import run_worker

    return run_worker()


def cmd_bridge(args) -> int:
    from .processes import run_bridge

    return run_bridge()


def cmd_run(args) -> int:
    from .processes import run_all

    return run_all(args.host, args.port)


# Command groups of other areas (campaigns, devices, ...) live in their own modules, each with
# register(sub, add): `sub` is the top-level subparsers, add(name, func, help, parent=sub)
# makes a command that takes --json. Listing a module here is all it takes. They are loaded
# only for a command line that is not one of this module's own: the box's long-running
# `stampbox worker` and `stampbox bridge` would otherwise carry every command's imports for
# their whole life (the certificate's cryptography alone: 3 MB, bench/memory.py).
COMMAND_MODULES: tuple[str, ...] = (
    "appliance.campaign_cli",
    "appliance.backup_cli",
    "appliance.status_cli",
    "appliance.tls",
    "appliance.birthday_cli",
    "appliance.device_cli",
    "appliance.wallet_cli",
    "appliance.chain_cli",
    "appliance.staff_cli",
    "appliance.outbox_cli",
)


def _version() -> str:
    """The installed release (what stampbox-update installed), for support and the image test."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stampbox")
    except PackageNotFoundError:
        return "unknown"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; for `command`, one of this module's own, only its part."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    parser = argparse.ArgumentParser(
        prog="stampbox", description="Stampbox loyalty appliance", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"stampbox {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text, parent=sub):
        p = parent.add_parser(name, help=help_text, parents=[common], description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("init", cmd_init, "create the data folder, secrets and owner account")
    p.add_argument(
        "--setup-slip",
        action="store_true",
        help="first boot: also make the HTTPS certificate and print the setup slip",
    )
    p = add("run", cmd_run, "run web, worker and bridge together")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p = add("web", cmd_web, "run the web process (gunicorn)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    add("worker", cmd_worker, "run the job worker (Huey consumer)")
    add("bridge", cmd_bridge, "run the device bridge")

    member = sub.add_parser("member", help="members").add_subparsers(
        dest="member_command", required=True, metavar="ACTION"
    )
    p = add("add", cmd_member_add, "enrol a member", member)
    p.add_argument("--name", default="")
    p.add_argument("--email")
    p.add_argument("--phone")
    p.add_argument("--birthday", help="MM-DD or YYYY-MM-DD")
    p.add_argument("--card", help="NFC card UID (hex)")

    p = add("tap", cmd_tap, "tap a card or scan a code at the counter")
    p.add_argument("token")
    p.add_argument("--at", help="ISO-8601 time of the visit (backdating, imports, tests)")
    p.add_argument("--stamps", type=int, default=1, help="stamps for a multi-item purchase")
    p.add_argument("--amount", help="amount spent, e.g. 4.50")

    p = add("redeem", cmd_redeem, "redeem a voucher code")
    p.add_argument("code")
    p.add_argument("--at", help="ISO-8601 time of the redemption")

    program = sub.add_parser("program", help="the stamp program").add_subparsers(
        dest="program_command", required=True, metavar="ACTION"
    )
    p = add("set", cmd_program_set, "set reward tiers", program)
    p.add_argument("--tier", action="append", required=True, metavar="N:REWARD")
    p.add_argument("--voucher-days", type=int)
    add("show", cmd_program_show, "show the program", program)

    p = add("import", cmd_import, "import members.csv and visits.csv (all or nothing)")
    p.add_argument("members")
    p.add_argument("visits")

    token = sub.add_parser("device-token", help="API tokens for POS devices").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    p = add("create", cmd_device_token_create, "create a token for a device", token)
    p.add_argument("name")
    p = add("revoke", cmd_device_token_revoke, "revoke a device's token", token)
    p.add_argument("name")

    if command not in sub.choices:  # another module's, none (--help), or a typo
        for module in COMMAND_MODULES:
            importlib.import_module(module).register(sub, add)
    return parser


def _command(argv: list[str]) -> str | None:
    # the first word that is not an option (the top level has only flags: --json, --version)
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        if args.json:
            print(json.dumps({"status": "error", "error": str(exc)}))
        print(f"stampbox: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SettingsError as exc:
        print(f"stampbox: configuration problem: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # run the package's module, not this __main__ copy: command modules import UsageError from
    # appliance.cli, and main() must catch that very class
    from appliance import cli

    sys.exit(cli.main())
