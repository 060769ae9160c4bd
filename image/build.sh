#!/bin/bash
# Build the Stampbox Raspberry Pi image with pi-gen (the Raspberry Pi Foundation's builder).
#
#   image/build.sh [PI_GEN_DIR]
#
# 1. builds stampbox's wheel and downloads every dependency as aarch64 / CPython 3.11 wheels
#    (bookworm's Python) with collect-wheels.sh (the few published only as source are built
#    inside the image by the stage);
# 2. assembles the stage with those wheels, rootfs/ and systemd/ into pi-gen (assemble-stage.sh);
# 3. runs pi-gen (checked out at PI_GEN_DIR, default ./pi-gen, tag PI_GEN_REF) with image/config
#    and the stage-stampbox stage on top of Raspberry Pi OS Lite's stages 0-2.
# Needs: a Debian host with pi-gen's dependencies (or Docker for build-docker.sh), network
# access to the Raspberry Pi OS archive. The result is pi-gen/deploy/*-stampbox-lite.img.xz.
set -euo pipefail

PI_GEN_REF=${PI_GEN_REF:-2025-05-13-raspios-bookworm-arm64}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pigen=${1:-${here}/pi-gen}
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT

"${here}/collect-wheels.sh" "$wheels" \
    --platform manylinux_2_36_aarch64 --platform manylinux2014_aarch64 \
    --python-version 3.11 --implementation cp

if [ ! -d "$pigen" ]; then
    git clone --depth 1 --branch "$PI_GEN_REF" https://github.com/RPi-Distro/pi-gen.git "$pigen"
fi
# pi-gen (and its Docker build) only sees its own folder: the stage goes in self-contained
"${here}/assemble-stage.sh" "${pigen}/stage-stampbox" "$wheels"
# stage2 exports the plain Lite image too; only Stampbox's is wanted
touch "${pigen}/stage2/SKIP_IMAGES"
cp "${here}/config" "${pigen}/config"
cd "$pigen"
if command -v docker >/dev/null; then
    ./build-docker.sh
else
    sudo ./build.sh
fi
