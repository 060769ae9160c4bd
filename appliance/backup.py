"""Online backups of the shop database and the box's secrets, rotation, and restore.

A backup is a tar file holding `stampbox.db` (a consistent copy made with SQLite's backup API
while the box keeps running) and `secrets/` (without the code key, printed cards and vouchers
could not be verified on a replacement box). Restore copies the database back through the same
API, so the running processes keep their connections and simply see the restored data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .audit import audit
from .clock import utcnow
from .settings import Settings

PREFIX = "stampbox-"
SUFFIX = ".tar"
KEEP_DAILY = 7
KEEP_WEEKLY = 4


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    taken_at: datetime
    bytes: int

    def to_dict(self) -> dict:
        return {"path": str(self.path), "taken_at": self.taken_at.isoformat(), "bytes": self.bytes}


def backup_dir(settings: Settings) -> Path:
    return settings.data_dir / "backups"


def _require_sqlite(settings: Settings) -> None:
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        raise BackupError(
            "Backups here cover the embedded SQLite database; use pg_dump for PostgreSQL."
        )


def _copy_database(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        # pages are copied in steps so that taps are never blocked for long
        src.backup(dst, pages=256)
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("The copy failed its integrity check; the database needs attention.")
    finally:
        dst.close()
        src.close()


def take_backup(
    settings: Settings,
    target_dir: Path | None = None,
    now: datetime | None = None,
    actor: str = "system",
) -> BackupInfo:
    """Write a consistent backup while the box keeps running; returns where it went."""
    _require_sqlite(settings)
    if not settings.db_path.exists():
        raise BackupError(f"No database at {settings.db_path}: run `stampbox init` first.")
    now = now or utcnow()
    target_dir = Path(target_dir or backup_dir(settings))
    target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # a backup must never take the space that taps need: leave the database's size free
    needed = 2 * settings.db_path.stat().st_size
    if shutil.disk_usage(target_dir).free < needed:
        raise BackupError(
            f"Not enough free space for a backup in {target_dir}: {needed // 2**20} MB needed."
        )
    name = f"{PREFIX}{now:%Y%m%d-%H%M%S}{SUFFIX}"
    final = target_dir / name
    with tempfile.TemporaryDirectory(dir=target_dir) as work:
        copy = Path(work) / "stampbox.db"
        _copy_database(settings.db_path, copy)
        partial = Path(work) / name
        with tarfile.open(partial, "w") as tar:
            tar.add(copy, arcname="stampbox.db")
            if settings.secrets_dir.exists():
                tar.add(settings.secrets_dir, arcname="secrets")
        os.chmod(partial, 0o600)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        # a half-written file never carries a backup's name
        os.replace(partial, final)
    _log(settings, actor, "backup.take", now, path=str(final))
    return BackupInfo(final, now, final.stat().st_size)


def list_backups(directory: Path) -> list[BackupInfo]:
    found = []
    for path in sorted(Path(directory).glob(f"{PREFIX}*{SUFFIX}")):
        stamp = path.name[len(PREFIX) : -len(SUFFIX)]
        try:
            taken = datetime.strptime(stamp, "%Y%m%d-%H%M%S").replace(tzinfo=utcnow().tzinfo)
        except ValueError:
            continue
        found.append(BackupInfo(path, taken, path.stat().st_size))
    return found


def rotate(
    directory: Path, keep_daily: int = KEEP_DAILY, keep_weekly: int = KEEP_WEEKLY
) -> list[Path]:
    """Keep the newest backup of each of the last `keep_daily` days and `keep_weekly` weeks."""
    backups = sorted(list_backups(directory), key=lambda b: b.taken_at, reverse=True)
    keep: set[Path] = set()
    days: set = set()
    weeks: set = set()
    for b in backups:
        day = b.taken_at.date()
        week = day.isocalendar()[:2]
        if day not in days and len(days) < keep_daily:
            days.add(day)
            keep.add(b.path)
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.add(week)
            keep.add(b.path)
    removed = [b.path for b in backups if b.path not in keep]
    for path in removed:
        path.unlink()
    return removed


def _safe_members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members = {}
    for info in tar.getmembers():
        name = os.path.normpath(info.name)
        if name.startswith(("/", "..")) or not (info.isfile() or info.isdir()):
            raise BackupError(f"{info.name!r} in the backup is not a plain file: refusing it.")
        members[name] = info
    if "stampbox.db" not in members:
        raise BackupError("This file holds no Stampbox database.")
    return members


def restore_backup(
    settings: Settings, file: Path, now: datetime | None = None, actor: str = "system"
) -> dict:
    """Restore a backup into the live database; a safety backup is taken first.

    Returns {"restored", "safety_backup", "secrets_changed"}; when the secrets changed, the
    services must be restarted so that they load them.
    """
    _require_sqlite(settings)
    file = Path(file)
    try:
        tar = tarfile.open(file, "r")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{file} is not a Stampbox backup ({exc}).") from None
    with tar, tempfile.TemporaryDirectory(dir=settings.data_dir) as work:
        members = _safe_members(tar)
        restored = Path(work) / "stampbox.db"
        restored.write_bytes(tar.extractfile(members["stampbox.db"]).read())
        check = sqlite3.connect(restored)
        try:
            ok = check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            ok = (
                ok
                and check.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'schema_version'"
                ).fetchone()
            )
        except sqlite3.DatabaseError:
            ok = False
        finally:
            check.close()
        if not ok:
            raise BackupError(f"The database in {file.name} is damaged or not Stampbox's.")
        safety = take_backup(settings, now=now, actor=actor)
        source = sqlite3.connect(restored)
        live = sqlite3.connect(settings.db_path, timeout=30)
        try:
            # the backup API takes the write lock and replaces every page: other processes keep
            # their connections and read the restored data on their next transaction
            source.backup(live)
        finally:
            live.close()
            source.close()
        secrets_changed = _restore_secrets(tar, members, settings.secrets_dir)
    _log(settings, actor, "backup.restore", now, path=str(file), safety=str(safety.path))
    return {
        "restored": str(file),
        "safety_backup": str(safety.path),
        "secrets_changed": secrets_changed,
    }


def _restore_secrets(tar, members, secrets_dir: Path) -> bool:
    changed = False
    for name, info in members.items():
        if not name.startswith("secrets/") or not info.isfile():
            continue
        data = tar.extractfile(info).read()
        target = secrets_dir / name[len("secrets/") :]
        if target.exists() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        changed = True
    return changed


def _log(settings: Settings, actor: str, action: str, now, **detail) -> None:
    from . import box as box_mod

    with box_mod.current().db.atomic():
        audit(actor, action, now, **detail)


def nightly(settings: Settings, now: datetime | None = None) -> BackupInfo:
    """The worker's nightly job: a backup, rotation, and a copy to the USB stick if one is set."""
    info = take_backup(settings, now=now)
    rotate(backup_dir(settings))
    copy_dir = settings.backup_copy_dir
    if copy_dir and Path(copy_dir).is_dir():
        # a stick that was pulled out just means no copy tonight, never a failed backup
        try:
            shutil.copy2(info.path, Path(copy_dir) / info.path.name)
            rotate(Path(copy_dir))
        except OSError:
            pass
    return info
