"""The image stage's install step run for real, the way pi-gen runs it, into a Debian bookworm root.

Raspberry Pi OS's archive is out of reach here, so a minimal Debian bookworm root made with
mmdebstrap (or debootstrap) stands in for pi-gen's stage 2 (Raspberry Pi OS Lite, the same
Debian release). The stage is assembled exactly as image/build.sh hands it to pi-gen
(image/assemble-stage.sh), with this checkout's wheel and its dependencies built for this machine,
and tests/pigen-run-stage.sh runs it in pi-gen's order with pi-gen's environment (ROOTFS_DIR,
on_chroot): 00-packages through apt inside the root, 01-run.sh on the host, 02-run-chroot.sh
inside the root. One root per session; the tests below look at what the stage left in it.

Needs root, mmdebstrap or debootstrap, deb.debian.org (or STAMPBOX_DEBIAN_MIRROR) and PyPI.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.slow

MIRROR = os.environ.get("STAMPBOX_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
# what the stage takes from Raspberry Pi OS Lite without installing it itself: systemd
# (systemctl enable), adduser, procps (/bin/kill in the web unit's ExecReload), ca-certificates
LITE_STAND_IN = ["systemd", "systemd-sysv", "adduser", "procps", "ca-certificates"]
UNITS = [
    "stampbox-firstboot.service",
    "stampbox-web.service",
    "stampbox-worker.service",
    "stampbox-bridge.service",
]


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "the chroot install test needs root (mount, chroot, mmdebstrap)"
    if not (shutil.which("mmdebstrap") or shutil.which("debootstrap")):
        return "the chroot install test needs mmdebstrap or debootstrap (system-packages-test.txt)"
    try:
        with urllib.request.urlopen(f"{MIRROR}/dists/{SUITE}/Release", timeout=10) as resp:
            resp.read(64)
    except OSError as exc:
        return f"the chroot install test needs the Debian mirror {MIRROR}: {exc}"
    return None


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def _clean_env(**extra) -> dict[str, str]:
    """The host's pip settings must not leak into the root (pi-gen's CI has none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(extra)
    return env


def _bootstrap(root: Path) -> subprocess.Popen:
    include = ",".join(LITE_STAND_IN)
    if shutil.which("mmdebstrap"):
        cmd = [
            "mmdebstrap",
            "--variant=minbase",
            f"--include={include}",
            "--skip=cleanup/apt/lists",
            "--skip=output/mknod",
            SUITE,
            str(root),
            MIRROR,
        ]
        eatmydata = Path("/usr/share/mmdebstrap/hooks/eatmydata")
        if eatmydata.is_dir():  # dpkg without fsync while bootstrapping
            cmd.insert(1, f"--hook-dir={eatmydata}")
    else:
        cmd = ["debootstrap", "--variant=minbase", f"--include={include}", SUITE, str(root), MIRROR]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wheels(dest: Path, cache: Path) -> subprocess.Popen:
    # the release as build.sh collects it for the Pi, here for this machine: this checkout's wheel,
    # every dependency as a wheel, evdev as source for the stage to build inside the root
    return subprocess.Popen(
        ["bash", str(ROOT / "image/collect-wheels.sh"), str(dest)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_clean_env(PYTHON=sys.executable, PIP_CACHE_DIR=str(cache)),
    )


def _wait(proc: subprocess.Popen, what: str) -> None:
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, f"{what} failed:\n{out[-4000:]}"


def _scratch_parent() -> str:
    try:
        shm = os.statvfs("/dev/shm")
        if shm.f_bavail * shm.f_frsize >= 3 * 2**30:
            return "/dev/shm"
    except OSError:
        pass
    return "/var/tmp"


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    why = _why_not()
    if why:
        pytest.skip(why)
    # not under pytest's basetemp: other pytest sessions on the machine prune old ones, and this
    # root lives for the whole module. Mounts only ever happen in private mount namespaces
    # (unshare), so removing the folder can never reach the host's /dev or /proc.
    # In memory when there is room (a dpkg fsync costs nothing there and removal is quick).
    work = Path(tempfile.mkdtemp(prefix="stampbox-image-chroot-", dir=_scratch_parent()))
    try:
        yield from _build(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build(work: Path):
    root, wheels = work / "rootfs", work / "wheels"
    started = time.monotonic()
    boot = _bootstrap(root)
    pip = _wheels(wheels, work / "pip-cache")
    _wait(pip, "collect-wheels.sh")
    wheels_at = time.monotonic() - started
    _wait(boot, "bootstrapping Debian")
    boot_at = time.monotonic() - started
    # what pi-gen's stages 0 and 1 leave in place: package lists to install from, /etc/hosts
    _run(["chroot", str(root), "apt-get", "update", "-qq"], env=_clean_env())
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost\n")
    assert sys.version_info[:2] == (3, 11), "the wheels must match bookworm's Python 3.11"

    stage = work / "stage-stampbox"
    _run(["bash", str(ROOT / "image/assemble-stage.sh"), str(stage), str(wheels)])
    proc = _run_stage(root, stage)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    print(
        f"\nimage chroot in {work}: wheels {wheels_at:.0f} s, root {boot_at:.0f} s,"
        f" stage installed at {time.monotonic() - started:.0f} s"
    )
    yield root, log, (stage, work)


def _in_root(root: Path, script: str, data: Path | None = None):
    """Run a shell script inside the root, in a private mount namespace with /proc (like
    on_chroot); with data, that folder is mounted over the image's /var/lib/stampbox."""
    setup = 'mount -t proc proc "$1/proc"'
    if data is not None:
        setup += ' && mount --bind "$3" "$1/var/lib/stampbox"'
    return _run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
        + [f'{setup} && exec chroot "$1" /bin/sh -ec "$2"', "-", str(root), script, str(data)],
        env=_clean_env(),
    )


# first boot's command as stampbox-firstboot.service runs it (user, umask, environment)
FIRST_BOOT = (
    "runuser -u stampbox -- sh -ec 'umask 077; set -a; . /etc/stampbox/environment; "
    "exec /opt/stampbox/current/bin/stampbox init --setup-slip'"
)


def _passwd(root: Path, name: str) -> list[str]:
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    raise AssertionError(f"no user {name} in the image")


def _group_members(root: Path) -> dict[str, list[str]]:
    groups = {}
    for line in (root / "etc/group").read_text().splitlines():
        name, _, gid, members = line.split(":")
        groups[name] = [gid, *filter(None, members.split(","))]
    return groups


def test_the_stampbox_user_is_a_system_user_in_the_device_groups(image_root):
    root, *_ = image_root
    name, _, uid, gid, _, home, shell = _passwd(root, "stampbox")
    assert int(uid) < 1000 and home == "/var/lib/stampbox"
    assert shell.endswith("nologin") or shell.endswith("false")
    groups = _group_members(root)
    assert groups["stampbox"][0] == gid
    for device_group in ("dialout", "input", "plugdev", "lp"):
        assert "stampbox" in groups[device_group][1:], device_group


def test_the_units_are_installed_and_enabled(image_root):
    root, *_ = image_root
    wants = root / "etc/systemd/system/multi-user.target.wants"
    for unit in UNITS:
        installed = root / "etc/systemd/system" / unit
        assert installed.read_text() == (ROOT / "systemd" / unit).read_text()
        link = wants / unit
        assert link.is_symlink() and os.readlink(link) == f"/etc/systemd/system/{unit}"
    for unit in ("nginx.service", "avahi-daemon.service"):
        assert (wants / unit).is_symlink(), unit


def test_systemd_analyze_verify_passes_in_the_image(image_root):
    # verified against the image's own files: ExecStart= must name the installed release's
    # command, ExecReload='s /bin/kill must be there, drop-ins are merged
    root, *_ = image_root
    units = [*UNITS, "nginx.service"]
    proc = subprocess.run(
        # --man=no: nginx's Documentation=man:nginx(8) is no concern of ours
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", *units],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", proc.stderr


def test_nginx_waits_for_the_certificate_first_boot_makes(image_root):
    root, *_ = image_root
    drop_in = root / "etc/systemd/system/nginx.service.d/stampbox.conf"
    assert "After=stampbox-firstboot.service" in drop_in.read_text().splitlines()


def _installed_packages(root: Path) -> set[str]:
    status = (root / "var/lib/dpkg/status").read_text().split("\n\n")
    return {
        block.split("\n", 1)[0].removeprefix("Package: ")
        for block in status
        if "Status: install ok installed" in block
    }


def test_source_only_dependencies_are_built_in_the_image_and_the_compiler_leaves(image_root):
    root, *_ = image_root
    wheels = sorted(p.name for p in (root / "opt/stampbox/wheels").iterdir())
    assert not [w for w in wheels if w.endswith(".tar.gz")]
    assert [w for w in wheels if w.startswith("evdev-") and w.endswith(".whl")]
    release = root / os.readlink(root / "opt/stampbox/current").lstrip("/")
    assert list(release.glob("lib/python3.*/site-packages/evdev/_input*.so"))
    assert not {"gcc", "gcc-12", "libc6-dev", "python3-dev"} & _installed_packages(root)
    assert not (root / "tmp/stampbox-build").exists()


def test_the_release_is_installed_and_runs(image_root, tmp_path):
    root, *_ = image_root
    current = root / "opt/stampbox/current"
    assert current.is_symlink()
    target = os.readlink(current)
    assert target.startswith("/opt/stampbox/releases/")
    version = target.rsplit("/", 1)[1]
    proc = _in_root(root, "runuser -u stampbox -- /opt/stampbox/current/bin/stampbox --version")
    assert proc.stdout.strip() == f"stampbox {version}"


def test_first_boot_makes_private_data_secrets_and_the_certificate_nginx_wants(image_root):
    root, *_ = image_root
    # the image carries no data and no secret: the data folder is empty, private, the box's
    data = root / "var/lib/stampbox"
    st = data.stat()
    uid, gid = (int(n) for n in _passwd(root, "stampbox")[2:4])
    assert stat.S_IMODE(st.st_mode) == 0o750 and (st.st_uid, st.st_gid) == (uid, gid)
    assert list(data.iterdir()) == []
    # first boot in a scratch folder mounted over the data folder, then nginx's own check of
    # its configuration with the certificate first boot made
    scratch = root.parent / "first-boot-data"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o750)
    os.chown(scratch, uid, gid)
    try:
        proc = _in_root(root, f"{FIRST_BOOT}; nginx -t -q", data=scratch)
        assert "Owner login" in proc.stdout
        secrets = scratch / "secrets"
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
        assert (secrets / "code_key").is_file() and (secrets / "tls/key.pem").is_file()
        for path in [scratch, *scratch.rglob("*")]:
            assert path.stat().st_uid == uid, path
            assert stat.S_IMODE(path.stat().st_mode) & 0o007 == 0, path
            if path.is_file():
                assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_udev_rules_blacklist_hostname_avahi_and_nginx_are_in_place(image_root):
    root, *_ = image_root
    for rel in (
        "etc/udev/rules.d/60-stampbox.rules",
        "etc/modprobe.d/stampbox-nfc.conf",
        "etc/avahi/services/stampbox.service",
        "etc/nginx/sites-available/stampbox",
        "etc/stampbox/environment",
    ):
        installed = root / rel
        assert installed.read_bytes() == (ROOT / "image/rootfs" / rel).read_bytes(), rel
        assert stat.S_IMODE(installed.stat().st_mode) == 0o644, rel
    update = root / "usr/local/sbin/stampbox-update"
    assert stat.S_IMODE(update.stat().st_mode) == 0o755
    # avahi announces the HTTPS admin; its service file must parse
    service = ElementTree.parse(root / "etc/avahi/services/stampbox.service").getroot()
    assert service.findtext("service/type") == "_https._tcp"
    assert service.findtext("service/port") == "443"
    assert (root / "etc/hostname").read_text() == "stampbox\n"
    assert "stampbox" in (root / "etc/hosts").read_text()
    site = root / "etc/nginx/sites-enabled/stampbox"
    assert site.is_symlink() and os.readlink(site) == "/etc/nginx/sites-available/stampbox"
    assert not (root / "etc/nginx/sites-enabled/default").exists()


def test_the_image_carries_no_secret(image_root):
    root, *_ = image_root
    # (the releases' libraries carry test keys of their own: only our configuration is looked at)
    for path in (root / "etc").rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert b"PRIVATE KEY-----" not in path.read_bytes(), path
    assert sorted(p.name for p in (root / "opt/stampbox").iterdir()) == [
        "current",
        "releases",
        "wheels",
    ]
    assert not any((root / "var/lib/stampbox").iterdir())


def _run_stage(root: Path, stage: Path):
    return subprocess.run(
        # run as pi-gen runs its build.sh: the runner's #!/bin/bash -e stops at the first failure
        ["unshare", "--mount", "--propagation", "private"]
        + [str(ROOT / "tests/pigen-run-stage.sh"), str(stage)],
        env=_clean_env(ROOTFS_DIR=str(root), DEBIAN_FRONTEND="noninteractive"),
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_stage_runs_again_on_its_own_root(image_root):
    # pi-gen repeats a stage on the existing root when a build is run again without CLEAN=1
    # (last in this module: it runs the stage a second time on the shared root)
    root, _, (stage, _) = image_root
    release = os.readlink(root / "opt/stampbox/current")
    proc = _run_stage(root, stage)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    assert os.readlink(root / "opt/stampbox/current") == release
    assert (root / "etc/hosts").read_text().count("stampbox") == 1
    assert _group_members(root)["dialout"][1:].count("stampbox") == 1
