"""Where python-escpos keeps its printer database: one folder of ours, reused.

python-escpos reads its printer profiles (capabilities.json, parsed as YAML: about 125 ms on
this machine) and pickles them to load faster next time, into ESCPOS_CAPABILITIES_PICKLE_DIR,
or, when that is not set, into a fresh temporary folder made at that import: every start of
the bridge or of a `stampbox print` command parsed the file again and left a folder with a
pickle in /tmp. Before the first `escpos` import, this points it at a cache folder of ours
(systemd's CacheDirectory= on the box, else ~/.cache/stampbox/escpos): the pickle is made
once and read at every later start (about 25 ms). python-escpos (3.1) still makes its
temporary folder on import, even with the variable set (the folder is the default value of
its environ.get call); it stays empty.

The folder must be ours alone: python-escpos unpickles what it finds there, and a pickle
can run code. A folder owned by another user, or one others may write to, is not used:
then python-escpos pickles into its temporary folder as before.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

VARIABLE = "ESCPOS_CAPABILITIES_PICKLE_DIR"


def cache_folder(environ=os.environ) -> Path | None:
    """Our folder for the pickle, made if missing; None where there is none we may trust."""
    given = environ.get("CACHE_DIRECTORY", "").split(":")[0]  # systemd: the first of them
    if given:
        folder = Path(given) / "escpos"
    else:
        try:
            base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        except RuntimeError:  # no home directory to find
            return None
        folder = base / "stampbox" / "escpos"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError:  # a read-only or hidden home (the box's ProtectHome=yes)
        return None
    private = (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
    return folder if private else None


def keep_capabilities(environ=os.environ) -> None:
    """Set VARIABLE for python-escpos unless it is set already (then it is the owner's)."""
    if environ.get(VARIABLE):
        return
    folder = cache_folder(environ)
    if folder is not None:
        environ[VARIABLE] = str(folder)


# done on import: firmware_bridge/__init__.py imports this module before any module of the
# package imports python-escpos
keep_capabilities()
