"""`stampbox backup` and `stampbox restore FILE`: what the owner and the update script run."""

from __future__ import annotations

from pathlib import Path

from . import box as box_mod
from .backup import BackupError, backup_dir, list_backups, restore_backup, take_backup
from .cli import UsageError, emit


def cmd_backup(args) -> int:
    box = box_mod.start()
    try:
        info = take_backup(box.settings, Path(args.to) if args.to else None, actor="cli")
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    return emit(args, info.to_dict(), f"Backup written to {info.path} ({info.bytes} bytes).")


def cmd_restore(args) -> int:
    box = box_mod.start()
    try:
        result = restore_backup(box.settings, Path(args.file), actor="cli")
    except BackupError as exc:
        raise UsageError(str(exc)) from None
    text = f"Restored {args.file}. The data before it is in {result['safety_backup']}."
    if result["secrets_changed"]:
        text += " The box's secrets changed: restart the services (systemctl restart 'stampbox-*')."
    return emit(args, result, text)


def cmd_backups(args) -> int:
    box = box_mod.start()
    found = [b.to_dict() for b in list_backups(backup_dir(box.settings))]
    lines = [f"{b['taken_at']}  {b['bytes']:>12}  {b['path']}" for b in found] or [
        "No backups yet."
    ]
    return emit(args, {"backups": found}, "\n".join(lines))


def register(sub, add) -> None:
    p = add("backup", cmd_backup, "write a consistent backup while the box runs")
    p.add_argument("--to", help="folder to write it to (default: <data_dir>/backups)")
    p = add("restore", cmd_restore, "restore a backup into the running box")
    p.add_argument("file")
    add("backups", cmd_backups, "list the backups in the data folder")
