"""The Pi image's parts that can run here: scripts, the files stage, updates and rollback."""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT

IMAGE = ROOT / "image"
SCRIPTS = [
    IMAGE / "build.sh",
    IMAGE / "assemble-stage.sh",
    IMAGE / "collect-wheels.sh",
    ROOT / "tests" / "pigen-run-stage.sh",
    IMAGE / "stage-stampbox" / "prerun.sh",
    IMAGE / "stage-stampbox" / "EXPORT_IMAGE",
    *sorted((IMAGE / "stage-stampbox" / "00-install").glob("*.sh")),
    IMAGE / "rootfs" / "usr" / "local" / "sbin" / "stampbox-update",
]
UPDATE = IMAGE / "rootfs" / "usr" / "local" / "sbin" / "stampbox-update"


def test_every_shell_script_passes_shellcheck():
    proc = subprocess.run(["shellcheck", "-x", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout


def test_the_stage_is_assembled_self_contained(tmp_path):
    # pi-gen runs the stage from its own checkout: everything 01-run.sh copies is inside it
    stage = tmp_path / "stage-stampbox"
    subprocess.run([IMAGE / "assemble-stage.sh", stage], check=True)
    files = stage / "00-install" / "files"
    assert sorted(p.name for p in (files / "systemd").iterdir()) == sorted(
        p.name for p in (ROOT / "systemd").glob("*.service")
    )
    assert (files / "rootfs/usr/local/sbin/stampbox-update").stat().st_mode & 0o111
    assert not (files / "wheels").exists()
    # the stage itself must not reach outside its folder
    for script in (stage / "00-install").glob("*.sh"):
        assert "../.." not in script.read_text(), script


def test_the_files_stage_needs_an_assembled_stage(tmp_path):
    proc = subprocess.run(
        [IMAGE / "stage-stampbox" / "00-install" / "01-run.sh"],
        env={**os.environ, "ROOTFS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "assemble-stage.sh" in proc.stderr


def test_the_files_stage_lays_out_the_box(tmp_path):
    rootfs = tmp_path / "rootfs"
    stage = tmp_path / "stage-stampbox"
    subprocess.run([IMAGE / "assemble-stage.sh", stage], check=True)
    proc = subprocess.run(
        [stage / "00-install" / "01-run.sh"],
        env={**os.environ, "ROOTFS_DIR": str(rootfs)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    for unit in ("web", "worker", "bridge", "firstboot"):
        assert (rootfs / f"etc/systemd/system/stampbox-{unit}.service").is_file()
    rules = (rootfs / "etc/udev/rules.d/60-stampbox.rules").read_text()
    assert 'ATTRS{idVendor}=="072f", ATTRS{idProduct}=="2200"' in rules  # ACR122U
    assert "blacklist pn533_usb" in (rootfs / "etc/modprobe.d/stampbox-nfc.conf").read_text()
    update = rootfs / "usr/local/sbin/stampbox-update"
    assert update.stat().st_mode & 0o777 == 0o755
    # the image carries no secret: nothing key-like, no data folder
    assert not (rootfs / "var/lib/stampbox").exists()
    for path in rootfs.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes(), path


def test_udev_rules_are_well_formed():
    keys = {
        "SUBSYSTEM",
        "ENV{DEVTYPE}",
        "ATTRS{idVendor}",
        "ATTRS{idProduct}",
        "KERNEL",
        "GROUP",
        "MODE",
        "SYMLINK",
    }
    for line in (IMAGE / "rootfs/etc/udev/rules.d/60-stampbox.rules").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        for part in line.split(", "):
            key, op, value = (
                part.partition("==")
                if "==" in part
                else part.partition("+=" if "+=" in part else "=")
            )
            assert key in keys and op and value.startswith('"') and value.endswith('"'), part


def _wheel(
    folder: Path, version: str, healthy: bool, project: str = "stampbox", requires: str = ""
) -> None:
    """A stand-in stampbox release: its CLI logs what the updater asks of it."""
    name = f"{project}-{version}"
    module = "fakebox" if project == "stampbox" else f"fake_{project}"
    code = f'''import json, os, sys
def main():
    log = os.environ["FAKE_LOG"]
    with open(log, "a") as fh:
        fh.write("{version} " + " ".join(sys.argv[1:]) + "\\n")
    if sys.argv[1:3] == ["program", "show"] and not {healthy}:
        sys.exit(1)
    if sys.argv[1] == "backup":
        print(json.dumps({{"path": os.environ["FAKE_BACKUP"]}}))
'''
    files = {
        f"{module}/__init__.py": code,
        f"{name}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n"
            + (f"Requires-Dist: {requires}\n" if requires else "")
        ),
        f"{name}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    if project == "stampbox":
        files[f"{name}.dist-info/entry_points.txt"] = "[console_scripts]\nstampbox = fakebox:main\n"
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{name}.dist-info/RECORD,,")
    files[f"{name}.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / f"{name}-py3-none-any.whl", "w") as whl:
        for path, text in files.items():
            whl.writestr(path, text)


@pytest.mark.slow
def test_updates_keep_the_previous_release_and_roll_back_a_bad_one(tmp_path):
    prefix, log, healthy = tmp_path / "opt", tmp_path / "calls.log", tmp_path / "healthy"
    healthy.write_text("ok")
    env = {
        **os.environ,
        "STAMPBOX_PREFIX": str(prefix),
        "SYSTEMCTL": "true",
        "STAMPBOX_HEALTH_URL": f"file://{healthy}",
        "STAMPBOX_HEALTH_TRIES": "1",
        "STAMPBOX_RUN_AS": "",
        "STAMPBOX_ENV_FILE": "/nonexistent",
        "FAKE_LOG": str(log),
        "FAKE_BACKUP": str(tmp_path / "before-update.tar"),
        "STAMPBOX_PYTHON": sys.executable,
        "PIP_NO_INDEX": "1",
    }
    for version, good in (("1.0.0", True), ("2.0.0", True), ("3.0.0", False)):
        _wheel(tmp_path / f"w{version}", version, good)

    def update(version):
        return subprocess.run(
            ["bash", str(UPDATE), str(tmp_path / f"w{version}")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    first = update("1.0.0")
    assert first.returncode == 0, first.stderr
    assert os.readlink(prefix / "current") == str(prefix / "releases/1.0.0")
    second = update("2.0.0")
    assert second.returncode == 0, second.stderr
    assert os.readlink(prefix / "current") == str(prefix / "releases/2.0.0")
    assert (prefix / "releases/1.0.0/bin/stampbox").exists()  # kept to roll back to
    calls = log.read_text().splitlines()
    assert "1.0.0 backup --json" in calls and "2.0.0 init" in calls

    bad = update("3.0.0")
    assert bad.returncode == 2 and "rolling back" in bad.stderr
    assert os.readlink(prefix / "current") == str(prefix / "releases/2.0.0")
    assert f"2.0.0 restore {tmp_path / 'before-update.tar'}" in log.read_text().splitlines()
    assert update("2.0.0").returncode == 1  # already current: refused, nothing touched


def test_an_install_only_update_makes_no_data(tmp_path):
    _wheel(tmp_path / "w", "1.0.0", True)
    env = {
        **os.environ,
        "STAMPBOX_PREFIX": str(tmp_path / "opt"),
        "STAMPBOX_INSTALL_ONLY": "1",
        "STAMPBOX_PYTHON": sys.executable,
        "FAKE_LOG": str(tmp_path / "log"),
        "STAMPBOX_ENV_FILE": "/nonexistent",
        "PIP_NO_INDEX": "1",
    }
    proc = subprocess.run(
        ["bash", str(UPDATE), str(tmp_path / "w")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "opt/current/bin/stampbox").exists()
    assert not (tmp_path / "log").exists()  # the release was never run
    assert shutil.which("shellcheck")


def test_an_update_also_finds_the_wheels_the_image_was_built_with(tmp_path):
    # the image build compiles evdev and keeps it in /opt/stampbox/wheels; a later bundle that
    # carries it only as source (collect-wheels.sh) must still install on a box with no compiler
    prefix = tmp_path / "opt"
    _wheel(tmp_path / "bundle", "1.0.0", True, requires="fakedep==0.9")
    env = {
        **os.environ,
        "STAMPBOX_PREFIX": str(prefix),
        "STAMPBOX_INSTALL_ONLY": "1",
        "STAMPBOX_PYTHON": sys.executable,
        "STAMPBOX_ENV_FILE": "/nonexistent",
        "PIP_NO_INDEX": "1",
    }

    # the bundle lacks fakedep and there is no index: only the box's own wheels can provide it
    _wheel(prefix / "wheels", "0.9", True, project="fakedep")
    proc = subprocess.run(
        ["bash", str(UPDATE), str(tmp_path / "bundle")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    release = prefix / "releases/1.0.0"
    assert list(release.glob("lib/python3.*/site-packages/fake_fakedep/__init__.py"))


def test_the_stage_exports_the_lite_image():
    proc = subprocess.run(
        ["bash", "-c", '. "$1"; echo "$IMG_SUFFIX"', "-", IMAGE / "stage-stampbox/EXPORT_IMAGE"],
        env={**os.environ, "USE_QEMU": "0"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout == "-lite\n", proc.stderr
