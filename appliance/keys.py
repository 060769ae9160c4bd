"""The box's own secrets, generated at first start into <data_dir>/secrets (never shipped)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def secret_bytes(secrets_dir: Path, name: str, size: int = 32) -> bytes:
    """Read the named secret, creating it atomically the first time (mode 0600)."""
    path = Path(secrets_dir) / name
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # unique per process and thread: two threads of one worker may create it at the same time
    tmp = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(size))
        fh.flush()
        os.fsync(fh.fileno())
    try:
        # link fails if another process won the race: then everyone uses the winner's secret
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text().strip())
