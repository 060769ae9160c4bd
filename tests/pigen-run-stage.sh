#!/bin/bash -e
# A stand-in for pi-gen's stage runner, so tests/test_image_chroot.py runs our stage the way
# pi-gen does (RPi-Distro/pi-gen: build.sh run_stage/run_sub_stage, scripts/common on_chroot):
#
#   ROOTFS_DIR=ROOT unshare --mount --propagation private pigen-run-stage.sh STAGE_DIR
#
# ROOT stands in for the previous stage's root (Raspberry Pi OS Lite). prerun.sh runs from the
# stage folder; then for each sub-stage and each number 00..99, in pi-gen's order: NN-debconf,
# NN-packages-nr, NN-packages (apt-get inside the root), NN-run.sh (on the host, in the
# sub-stage folder, with ROOTFS_DIR exported) and NN-run-chroot.sh (fed to bash -e inside the
# root on stdin). Run it in a private mount namespace: on_chroot's mounts then disappear with it.
# shellcheck disable=SC2119,SC2120  # on_chroot takes its script on stdin, as in pi-gen
: "${ROOTFS_DIR:?ROOTFS_DIR must name the root to install into}"
[ $# -eq 1 ] || { echo "usage: pigen-run-stage.sh STAGE_DIR" >&2; exit 2; }
STAGE_DIR=$(cd "$1" && pwd)
ROOTFS_DIR=$(cd "$ROOTFS_DIR" && pwd)
export STAGE_DIR ROOTFS_DIR
export STAGE
STAGE=$(basename "$STAGE_DIR")

log() { echo "[pigen-run-stage] $*" >&2; }
export -f log

on_chroot() {
    local dir
    for dir in proc dev dev/pts sys; do
        if ! mountpoint -q "${ROOTFS_DIR}/${dir}"; then
            case "$dir" in
            proc) mount -t proc proc "${ROOTFS_DIR}/proc" ;;
            *) mount --bind "/${dir}" "${ROOTFS_DIR}/${dir}" ;;
            esac
        fi
    done
    capsh --drop=cap_setfcap "--chroot=${ROOTFS_DIR}/" -- -e "$@"
}
export -f on_chroot

copy_previous() {
    echo "pigen-run-stage: no previous stage here: ROOTFS_DIR must exist already" >&2
    return 1
}
export -f copy_previous

packages() {
    sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1" | tr '\n' ' '
}

cd "$STAGE_DIR"
if [ -f SKIP ]; then
    exit 0
fi
if [ -x prerun.sh ]; then
    log "Begin ${STAGE_DIR}/prerun.sh"
    ./prerun.sh
fi
for SUB_STAGE_DIR in "${STAGE_DIR}"/*; do
    if [ ! -d "$SUB_STAGE_DIR" ] || [ -f "${SUB_STAGE_DIR}/SKIP" ]; then
        continue
    fi
    pushd "$SUB_STAGE_DIR" >/dev/null
    for i in {00..99}; do
        if [ -f "${i}-debconf" ]; then
            log "Begin ${SUB_STAGE_DIR}/${i}-debconf"
            on_chroot <<EOC
debconf-set-selections <<SELEOF
$(cat "${i}-debconf")
SELEOF
EOC
        fi
        if [ -f "${i}-packages-nr" ]; then
            log "Begin ${SUB_STAGE_DIR}/${i}-packages-nr"
            PACKAGES=$(packages "${i}-packages-nr")
            if [ -n "$PACKAGES" ]; then
                on_chroot <<EOC
apt-get install --no-install-recommends -y $PACKAGES
EOC
            fi
        fi
        if [ -f "${i}-packages" ]; then
            log "Begin ${SUB_STAGE_DIR}/${i}-packages"
            PACKAGES=$(packages "${i}-packages")
            if [ -n "$PACKAGES" ]; then
                on_chroot <<EOC
apt-get install -y $PACKAGES
EOC
            fi
        fi
        if [ -d "${i}-patches" ]; then
            echo "pigen-run-stage: quilt patches (${i}-patches) are not supported here" >&2
            exit 1
        fi
        if [ -x "${i}-run.sh" ]; then
            log "Begin ${SUB_STAGE_DIR}/${i}-run.sh"
            "./${i}-run.sh"
        fi
        if [ -f "${i}-run-chroot.sh" ]; then
            log "Begin ${SUB_STAGE_DIR}/${i}-run-chroot.sh"
            on_chroot <"${i}-run-chroot.sh"
        fi
    done
    popd >/dev/null
done
