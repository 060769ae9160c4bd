"""The box's unit files: valid for systemd, sandboxed, and running commands that exist."""

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

UNITS = sorted((ROOT / "systemd").glob("*.service"))
VENV_BIN = Path(sys.executable).parent


def _unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser


@pytest.fixture
def installed_units(tmp_path):
    """The units as the image installs them, ExecStart pointing at this checkout's venv."""
    for unit in UNITS:
        text = unit.read_text().replace("/opt/stampbox/current/bin/", f"{VENV_BIN}/")
        (tmp_path / unit.name).write_text(text)
    return tmp_path


def test_the_three_processes_and_first_boot_have_units():
    assert [u.name for u in UNITS] == [
        "stampbox-bridge.service",
        "stampbox-firstboot.service",
        "stampbox-web.service",
        "stampbox-worker.service",
    ]


def test_systemd_analyze_verify_prints_nothing(installed_units):
    # verify exits 0 on unknown keys and bad DeviceAllow and only warns: any output fails
    proc = subprocess.run(
        [shutil.which("systemd-analyze"), "verify", *sorted(installed_units.glob("*.service"))],
        capture_output=True,
        text=True,
        cwd=installed_units,
    )
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", proc.stderr


@pytest.mark.parametrize("unit", [u.name for u in UNITS if "firstboot" not in u.name])
def test_each_long_running_unit_is_sandboxed(installed_units, unit):
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(installed_units / unit)],
        capture_output=True,
        text=True,
    )
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", proc.stdout).group(1))
    assert score <= 2.5, proc.stdout
    service = _unit(ROOT / "systemd" / unit)["Service"]
    assert service["User"] == "stampbox" and service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == "/var/lib/stampbox"
    assert service["NoNewPrivileges"] == "yes" and service["Restart"] == "always"


def test_only_the_bridge_sees_devices_and_only_those_it_drives():
    for unit in UNITS:
        service = _unit(unit)["Service"]
        if unit.name == "stampbox-bridge.service":
            assert service["DevicePolicy"] == "closed" and "PrivateDevices" not in service
            assert {"dialout", "input"} <= set(service["SupplementaryGroups"].split())
        else:
            assert service["PrivateDevices"] == "yes"


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_exec_start_runs_a_real_stampbox_command(unit):
    command = _unit(unit)["Service"]["ExecStart"].split()
    assert command[0] == "/opt/stampbox/current/bin/stampbox"
    proc = subprocess.run(
        [sys.executable, "-m", "appliance.cli", command[1], "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    for option in command[2:]:
        if option.startswith("--"):
            assert option in proc.stdout


def test_plain_http_stays_on_loopback_behind_nginx():
    # nginx serves the shop network over HTTPS: gunicorn must not listen there in clear
    command = _unit(ROOT / "systemd/stampbox-web.service")["Service"]["ExecStart"].split()
    assert command[command.index("--host") + 1] == "127.0.0.1"
    site = (ROOT / "image/rootfs/etc/nginx/sites-available/stampbox").read_text()
    assert "proxy_pass http://127.0.0.1:8000;" in site


def test_every_unit_reads_the_box_settings():
    # first boot prints the admin address (STAMPBOX_PUBLIC_URL) on the setup slip
    for unit in UNITS:
        text = unit.read_text()
        assert "EnvironmentFile=-/etc/stampbox/environment" in text, unit.name
