"""Provisioning: one command at the centre makes a box's bundle, one on the box joins it.

`provision_box` (centre) registers a new box id with its leaf node credentials (the hub
sources its stream from then on) and returns the bundle: the box id, the chain's code key
(every box signs and checks card and voucher codes with it, so a code printed in one shop
is accepted in another), and the box's nats-server configuration (its own JetStream, a
leaf of the centre with those credentials). `join_chain` (box) adopts the bundle: only a
box that has not yet made events, cards or vouchers may, since those carry its old id and key.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from pathlib import Path

from ..clock import to_micros, utcnow
from ..db import sql
from . import events
from .natsbin import box_config, hub_config

BOX_NATS_PORT = 4222
_REGISTER = (
    "INSERT INTO chain_box (box_id, name, leaf_user, leaf_password, created_at)"
    " VALUES (?, ?, ?, ?, ?)"
)


class ChainError(ValueError):
    """A provisioning step that cannot be done as asked (the message says why and what to do)."""


def registered_boxes(db) -> list[str]:
    rows = db.execute_sql("SELECT box_id FROM chain_box WHERE retired_at IS NULL ORDER BY name")
    return [r[0] for r in rows.fetchall()]


def provision_box(db, name: str, leaf_url: str, code_key: bytes, now=None) -> dict:
    """Register a box at the centre; returns its bundle (keep it secret: it holds keys)."""
    name = " ".join(name.split())[:80]
    if not name:
        raise ChainError("Name the box (the shop), e.g. 'Main Street'.")
    if not leaf_url.startswith(("nats-leaf://", "tls://", "nats://")):
        raise ChainError("The leaf URL is the centre's leaf node port: nats-leaf://HOST:7422")
    box_id = str(uuid.uuid4())
    user, password = "box-" + box_id[:8], secrets.token_urlsafe(24)
    with db.atomic():
        db.execute_sql(
            sql(_REGISTER, db), (box_id, name, user, password, to_micros(now or utcnow()))
        )
    scheme, rest = leaf_url.split("://", 1)
    return {
        "box_id": box_id,
        "name": name,
        "code_key": code_key.hex(),
        "leaf_url": f"{scheme}://{user}:{password}@{rest}",
        "nats_port": BOX_NATS_PORT,
    }


def hub_nats_config(db, store: Path, port: int, leaf_port: int, host: str = "0.0.0.0") -> str:
    """The centre's nats-server configuration, with every registered box's leaf credentials."""
    rows = db.execute_sql(
        "SELECT leaf_user, leaf_password FROM chain_box WHERE retired_at IS NULL ORDER BY name"
    ).fetchall()
    return hub_config(store, port, leaf_port, leaf_users=rows, host=host)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def write_bundle(bundle: dict, path: Path) -> None:
    _write_private(Path(path), json.dumps(bundle, indent=2) + "\n")


def _in_use(db) -> str | None:
    for table, what in (("event", "events"), ("card", "cards"), ("voucher", "vouchers")):
        if db.execute_sql(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
            return what
    return None


def join_chain(
    box, bundle: dict, env_file: Path | None = None, nats_port: int | None = None
) -> dict:
    """Make this box the bundle's box: its id, the chain's code key, its nats-server
    configuration (<data_dir>/nats/server.conf) and, given env_file, the setting that
    switches chain mode on. Raises ChainError for a box already in use."""
    db = box.db
    used = _in_use(db)
    if used:
        raise ChainError(
            f"This box already has {used}: join a chain before enrolling anyone"
            " (the box id and the code key would change under them)."
        )
    with db.atomic():
        db.execute_sql(
            sql("UPDATE shop_setting SET value = ? WHERE key = 'box_id'", db), (bundle["box_id"],)
        )
    events._box_ids.pop(db, None)
    _write_private(box.settings.secrets_dir / "code_key", bundle["code_key"] + "\n")
    folder = box.settings.data_dir.resolve() / "nats"
    port = nats_port or int(bundle.get("nats_port", BOX_NATS_PORT))
    conf = folder / "server.conf"
    _write_private(conf, box_config(folder / "js", port, bundle["box_id"], bundle["leaf_url"]))
    url = f"nats://127.0.0.1:{port}"
    if env_file is not None:
        env_file = Path(env_file)
        lines = env_file.read_text().splitlines() if env_file.exists() else []
        lines = [ln for ln in lines if not ln.startswith("STAMPBOX_CHAIN_NATS_URL=")]
        _write_private(env_file, "\n".join([*lines, f"STAMPBOX_CHAIN_NATS_URL={url}"]) + "\n")
    return {"box_id": bundle["box_id"], "nats_config": str(conf), "chain_nats_url": url}
