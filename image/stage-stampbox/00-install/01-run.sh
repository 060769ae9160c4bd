#!/bin/bash -e
# pi-gen substage, host side: copy Stampbox's files into the image's root file system.
# Runs with ROOTFS_DIR set by pi-gen. pi-gen runs the stage from its own checkout (or inside
# its Docker container), so everything comes from files/, which image/assemble-stage.sh fills
# (rootfs/, systemd/, wheels/).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
files="${here}/files"
: "${ROOTFS_DIR:?ROOTFS_DIR must name the image root folder}"
if [ ! -d "${files}/rootfs" ] || [ ! -d "${files}/systemd" ]; then
    echo "01-run.sh: ${files} has no rootfs/ or systemd/: assemble the stage with image/assemble-stage.sh" >&2
    exit 1
fi

# configuration, udev rules, module blacklist, nginx site, mDNS service, the update command
while IFS= read -r -d '' file; do
    rel=${file#"${files}/rootfs/"}
    mode=644
    case "$rel" in usr/local/sbin/*) mode=755 ;; esac
    install -D -m "$mode" "$file" "${ROOTFS_DIR}/${rel}"
done < <(find "${files}/rootfs" -type f -print0)

# the three services and first boot
for unit in "${files}"/systemd/*.service; do
    install -D -m 644 "$unit" "${ROOTFS_DIR}/etc/systemd/system/$(basename "$unit")"
done

# the release to install: the stampbox wheel and its dependencies for the Pi (image/build.sh)
if [ -d "${files}/wheels" ]; then
    install -d -m 755 "${ROOTFS_DIR}/opt/stampbox/wheels"
    cp -a "${files}/wheels/." "${ROOTFS_DIR}/opt/stampbox/wheels/"
fi
