#!/bin/bash
# Collect a Stampbox release for offline installation: this checkout's wheel and every
# dependency it pins (pyproject.toml), into one folder for stampbox-update.
#
#   image/collect-wheels.sh DEST [PIP_DOWNLOAD_OPTION...]
#
# build.sh passes the Pi's platform (aarch64, CPython 3.11); without options the wheels are for
# this machine (tests/test_image_chroot.py). Dependencies published only as source: pure Python
# ones (PURE_SDIST) are built into py3-none-any wheels here; those with C code (NATIVE_SDIST) are
# collected as source with the setuptools that builds them, and the stage builds them inside the
# image (02-run-chroot.sh), where the Pi's compiler is. A new dependency without wheels makes
# the download below fail (and tests/test_image_chroot.py with it): add it to one of the lists.
set -euo pipefail

# pydes comes with nfcpy (unpinned there: its last release)
PURE_SDIST=(dkimpy pydes)
NATIVE_SDIST=(evdev)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "${here}/.." && pwd)
PYTHON=${PYTHON:-python3}
if [ $# -lt 1 ]; then
    echo "usage: collect-wheels.sh DEST [PIP_DOWNLOAD_OPTION...]" >&2
    exit 2
fi
dest=$1
shift
mkdir -p "$dest"
lists=$(mktemp -d)
trap 'rm -rf "$lists"' EXIT

"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$dest" "$repo"
wheels=("$dest"/stampbox-*.whl)
if [ ${#wheels[@]} -ne 1 ]; then
    echo "collect-wheels.sh: expected one stampbox wheel in $dest" >&2
    exit 1
fi

# the wheel's own requirements: pure.txt and native.txt (published as source), binary.txt (the
# rest, pure ones included: their wheels built here let pip resolve their dependencies)
"$PYTHON" - "${wheels[0]}" "$lists" "${PURE_SDIST[*]}" "${NATIVE_SDIST[*]}" <<'PY'
import re
import sys
import zipfile
from email.parser import BytesParser

wheel, lists, pure, native = sys.argv[1:]
pure, native = pure.split(), native.split()
with zipfile.ZipFile(wheel) as whl:
    name = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
    meta = BytesParser().parsebytes(whl.read(name))
out = {"binary": [], "pure": [], "native": []}
for req in meta.get_all("Requires-Dist") or []:
    if "extra ==" in req:
        continue
    project = re.split(r"[\s\[=<>!~;(]", req, maxsplit=1)[0].lower()
    out["native" if project in native else "binary"].append(req)
    if project in pure:
        out["pure"].append(req)
        pure.remove(project)
out["pure"] += pure  # dependencies of dependencies, pinned by them
for kind, reqs in out.items():
    with open(f"{lists}/{kind}.txt", "w") as fh:
        fh.write("".join(r + "\n" for r in reqs))
PY

if [ -s "${lists}/pure.txt" ]; then
    "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$dest" -r "${lists}/pure.txt"
fi
"$PYTHON" -m pip download --quiet --dest "$dest" --find-links "$dest" --only-binary=:all: "$@" \
    -r "${lists}/binary.txt"
if [ -s "${lists}/native.txt" ]; then
    "$PYTHON" -m pip download --quiet --dest "$dest" --no-deps --no-binary=:all: \
        -r "${lists}/native.txt"
    # what builds them, offline, inside the image (their build-system requirements)
    "$PYTHON" -m pip download --quiet --dest "$dest" --only-binary=:all: "$@" setuptools wheel
fi
