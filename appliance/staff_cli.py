"""`stampbox staff`: accounts from the command line, and the way back in for a locked-out owner."""

from __future__ import annotations

import secrets

from . import box as box_mod
from .cli import EXIT_OK, EXIT_REFUSED, emit
from .db import database
from .models import LoginAttempt, StaffUser
from .staff import ROLES, StaffError, create_staff, set_password


def cmd_staff_add(args) -> int:
    box_mod.start()
    password = secrets.token_urlsafe(12)
    try:
        user = create_staff(args.username, password, args.role, actor="cli")
    except StaffError as exc:
        return emit(args, {"error": str(exc)}, str(exc), EXIT_REFUSED)
    data = {"username": user.username, "role": user.role, "password": password}
    text = f"Account {user.username} ({user.role}) created. Password (shown only now): {password}"
    return emit(args, data, text)


def cmd_staff_reset(args) -> int:
    """A new generated password; clears the login limit so the person can log in now."""
    box_mod.start()
    user = StaffUser.get_or_none(StaffUser.username == args.username.strip().lower())
    if user is None:
        message = f"There is no account named {args.username}. `stampbox staff list` shows them."
        return emit(args, {"error": message}, message, EXIT_REFUSED)
    password = secrets.token_urlsafe(12)
    with database.atomic():
        set_password(user.id, password, actor="cli")
        LoginAttempt.delete().where(LoginAttempt.account == user.username).execute()
    data = {"username": user.username, "password": password}
    return emit(args, data, f"New password for {user.username} (shown only now): {password}")


def cmd_staff_list(args) -> int:
    box_mod.start()
    users = [
        {"username": u.username, "role": u.role}
        for u in StaffUser.select().order_by(StaffUser.username)
    ]
    text = "\n".join(f"{u['username']}  {u['role']}" for u in users)
    return emit(args, {"staff": users}, text, EXIT_OK)


def register(sub, add) -> None:
    staff = sub.add_parser("staff", help="staff accounts").add_subparsers(
        dest="staff_command", required=True, metavar="ACTION"
    )
    p = add("add", cmd_staff_add, "create an account with a generated password", staff)
    p.add_argument("username")
    p.add_argument("--role", choices=ROLES, default="staff")
    p = add("reset-password", cmd_staff_reset, "give an account a new generated password", staff)
    p.add_argument("username")
    add("list", cmd_staff_list, "list the accounts", staff)
