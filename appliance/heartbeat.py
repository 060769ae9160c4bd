"""Each process's sign of life: a file touched now and then (no database write).

Its own module, away from appliance.health's report (which reads backups and asks the web
over HTTP): the bridge only beats, and importing the report's tarfile and urllib cost it
3.5 MB for its whole life (bench/memory.py)."""

from __future__ import annotations

from pathlib import Path

# a process that has not shown a sign of life for this long counts as down
STALE_SECONDS = 180


def heartbeat_path(settings, process: str) -> Path:
    return settings.data_dir / "run" / f"{process}.alive"


def beat(settings, process: str) -> None:
    """Record that a process is alive."""
    path = heartbeat_path(settings, process)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
