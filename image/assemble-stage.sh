#!/bin/bash
# Assemble the self-contained pi-gen stage that image/build.sh hands to pi-gen (and that
# tests/test_image_chroot.py runs into a Debian chroot).
#
#   image/assemble-stage.sh DEST [WHEEL_DIR]
#
# pi-gen runs a stage from its own checkout (and build-docker.sh from inside a container), so
# the stage cannot reach back into this repository: DEST gets stage-stampbox/ with everything
# its 01-run.sh installs under 00-install/files/ (rootfs/, systemd/, and wheels/ when WHEEL_DIR
# names the release's wheels).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "${here}/.." && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: assemble-stage.sh DEST [WHEEL_DIR]" >&2
    exit 2
fi
dest=$1
wheels=${2:-}

rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
cp -a "${here}/stage-stampbox" "$dest"
files="${dest}/00-install/files"
rm -rf "$files"
mkdir -p "${files}/systemd"
cp -a "${here}/rootfs" "${files}/rootfs"
cp -a "${repo}"/systemd/*.service "${files}/systemd/"
if [ -n "$wheels" ]; then
    mkdir -p "${files}/wheels"
    cp -a "${wheels}/." "${files}/wheels/"
fi
