"""The pinned nats-server: the installed binary matches its hash, anything else is refused."""

import platform
import shutil
import subprocess

import pytest

from appliance.chain.natsbin import (
    SHA256,
    VERSION,
    NatsBinaryError,
    nats_server_path,
    verify_binary,
)


def test_the_installed_binary_is_the_pinned_release():
    path = nats_server_path()
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    assert VERSION in out.stdout
    assert platform.machine() in SHA256


def test_a_changed_binary_is_refused(tmp_path):
    copy = tmp_path / "nats-server"
    shutil.copy(nats_server_path(), copy)
    with open(copy, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(NatsBinaryError, match="not nats-server"):
        verify_binary(copy)


def test_each_architecture_has_its_own_pin():
    other = "aarch64" if platform.machine() == "x86_64" else "x86_64"
    with pytest.raises(NatsBinaryError):
        verify_binary(nats_server_path(), machine=other)
