"""python-escpos keeps its pickled printer database in one private folder of ours, reused,
instead of a new temporary folder at every start (firmware_bridge.escpos_cache)."""

from __future__ import annotations

import os
import subprocess
import sys

from firmware_bridge.escpos_cache import VARIABLE, cache_folder, keep_capabilities

from .conftest import ROOT

IMPORT = "import os, firmware_bridge.slips; print(os.environ.get('ESCPOS_CAPABILITIES_PICKLE_DIR'))"


def _start(tmp_path, **extra) -> str:
    """A process importing the slip renderer, as the bridge and `stampbox print` do."""
    env = {k: v for k, v in os.environ.items()
           if k not in (VARIABLE, "CACHE_DIRECTORY", "XDG_CACHE_HOME")}  # fmt: skip
    env.update(HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path / "tmp"), PYTHONPATH=str(ROOT))
    env.update(extra)
    done = subprocess.run([sys.executable, "-c", IMPORT], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()


def test_the_printer_database_is_pickled_once_into_our_cache_not_a_new_temp_folder(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "tmp").mkdir()
    folder = tmp_path / "home/.cache/stampbox/escpos"
    assert _start(tmp_path) == str(folder)
    (pickle,) = folder.iterdir()
    assert pickle.name.endswith(".capabilities.pickle")
    made = pickle.stat().st_mtime_ns
    assert _start(tmp_path) == str(folder)
    assert pickle.stat().st_mtime_ns == made  # read again, not made again
    # python-escpos still makes a temporary folder per import; nothing is written there
    assert [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()] == []
    assert folder.stat().st_mode & 0o777 == 0o700


def test_systemds_cache_directory_comes_first(tmp_path):
    (tmp_path / "tmp").mkdir()
    cache = tmp_path / "var-cache"
    cache.mkdir()
    assert _start(tmp_path, CACHE_DIRECTORY=f"{cache}:/elsewhere") == str(cache / "escpos")
    assert [p.name.endswith(".pickle") for p in (cache / "escpos").iterdir()] == [True]


def test_a_folder_others_may_write_to_is_not_trusted(tmp_path):
    # python-escpos unpickles what it finds there: a pickle planted by someone else runs code
    shared = tmp_path / "cache/stampbox/escpos"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    assert cache_folder({"XDG_CACHE_HOME": str(tmp_path / "cache")}) is None
    environ = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    keep_capabilities(environ)
    assert VARIABLE not in environ  # python-escpos makes its own temporary folder, as before
    shared.chmod(0o700)
    assert cache_folder({"XDG_CACHE_HOME": str(tmp_path / "cache")}) == shared


def test_a_home_we_cannot_write_leaves_python_escpos_as_it_was(tmp_path):
    blocked = tmp_path / "ro"
    blocked.mkdir()
    blocked.chmod(0o500)
    try:
        if os.access(blocked, os.W_OK):  # root writes anyway: a file where the folder goes
            blocked.chmod(0o700)
            (blocked / "stampbox").write_text("not a folder")
        assert cache_folder({"XDG_CACHE_HOME": str(blocked)}) is None
    finally:
        blocked.chmod(0o700)


def test_a_folder_the_owner_chose_is_kept(tmp_path):
    environ = {VARIABLE: "/srv/escpos", "XDG_CACHE_HOME": str(tmp_path)}
    keep_capabilities(environ)
    assert environ[VARIABLE] == "/srv/escpos"
    assert not (tmp_path / "stampbox").exists()
