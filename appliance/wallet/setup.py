"""The owner's wallet setup from the admin: uploaded files in the secrets folder, identifiers and
the pass's look in the shop settings table.

The box's own settings (TOML file, STAMPBOX_* variables) win wherever they are set; the admin
fills in what they leave empty. Scripts and images that configure the box keep working, and the
admin says which values the configuration fixes.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from ..db import sql

WALLET_DIR = "wallet"  # under the secrets folder
# setting name -> file name of its upload
FILES = {
    "apple_cert": "apple-pass-cert.pem",
    "apple_key": "apple-pass-key.pem",
    "apple_wwdr": "apple-wwdr.pem",
    "google_service_account": "google-service-account.json",
    "apns_key_file": "apns-auth-key.p8",
}
VALUES = ("apple_pass_type_id", "apple_team_id", "google_issuer_id", "apns_key_id", "apns_team_id")
PREFIX = "wallet."


@dataclass(frozen=True)
class WalletLook:
    """Colours (#rrggbb) and the optional shop location the pass carries."""

    background: str = "#3c2415"
    foreground: str = "#ffffff"
    label: str = "#e6c8aa"
    latitude: float | None = None
    longitude: float | None = None
    relevant_text: str = ""  # what the lock screen says near the shop

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def wallet_dir(settings) -> Path:
    return Path(settings.secrets_dir) / WALLET_DIR


def upload_path(settings, name: str) -> Path:
    return wallet_dir(settings) / FILES[name]


def logo_file(settings) -> Path:
    """The owner's pass logo (a PNG we made from the upload; not a secret)."""
    return Path(settings.data_dir) / "wallet-logo.png"


def stored_values(db) -> dict[str, str]:
    rows = db.execute_sql(
        sql("SELECT key, value FROM shop_setting WHERE key LIKE ?", db), (PREFIX + "%",)
    ).fetchall()
    return {key[len(PREFIX) :]: value for key, value in rows}


def store_values(db, values: dict[str, str]) -> None:
    """Write (or, for "", remove) admin values; call inside the caller's transaction."""
    _ANSWERS.clear()
    for name, value in values.items():
        key = PREFIX + name
        db.execute_sql(sql("DELETE FROM shop_setting WHERE key = ?", db), (key,))
        if value != "":
            db.execute_sql(
                sql("INSERT INTO shop_setting (key, value) VALUES (?, ?)", db), (key, str(value))
            )


# Every member page asks (its wallet QR): the answer is kept per (settings, database) for a
# few seconds, and dropped at once when this process writes a value or an upload. Another
# process's saved value or upload shows here within ANSWER_SECONDS. (The wallet folder was
# stat'ed on every page to catch another process's upload at once: a system call per page,
# during which the page's thread let the other threads take Python's lock; bench/README.md.)
ANSWER_SECONDS = 2.0
_ANSWERS: dict[tuple[int, int], tuple] = {}


def setup_settings(settings, db):
    """The box's settings with the admin's uploads and values filling the empty wallet ones."""
    key = (id(settings), id(db))
    kept = _ANSWERS.get(key)
    if kept is not None and kept[0] is settings and kept[1] is db and kept[2] > time.monotonic():
        return kept[3]
    answer = _setup_settings(settings, db)
    if len(_ANSWERS) > 64:  # tests make many boxes: keep the memory bounded
        _ANSWERS.clear()
    _ANSWERS[key] = (settings, db, time.monotonic() + ANSWER_SECONDS, answer)
    return answer


def _setup_settings(settings, db):
    stored = stored_values(db)
    changes = {}
    for name in FILES:
        path = upload_path(settings, name)
        if not getattr(settings, name) and path.exists():
            changes[name] = str(path)
    for name in VALUES:
        if not getattr(settings, name) and stored.get(name):
            changes[name] = stored[name]
    return dataclasses.replace(settings, **changes) if changes else settings


def wallet_box(box):
    """The box as the wallet code sees it: settings completed by the owner's setup."""
    settings = setup_settings(box.settings, box.db)
    return box if settings is box.settings else dataclasses.replace(box, settings=settings)


def fixed_by_box(settings) -> set[str]:
    """Wallet settings the box's configuration sets: the admin shows them and cannot change them."""
    return {name for name in (*FILES, *VALUES) if getattr(settings, name)}


def load_look(db) -> WalletLook:
    stored = stored_values(db)
    values = {}
    for f in dataclasses.fields(WalletLook):
        raw = stored.get(f.name)
        if raw is None:
            continue
        if f.name in ("latitude", "longitude"):
            try:
                values[f.name] = float(raw)
            except ValueError:
                continue
        else:
            values[f.name] = raw
    return WalletLook(**values)


def write_secret(path: Path, data: bytes) -> None:
    """Atomically replace a secret file: mode 0600 from its first byte, folder 0700."""
    _ANSWERS.clear()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _ANSWERS.clear()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
