#!/bin/bash -e
# pi-gen substage, host side: copy Stampbox's files into the image's root file system.
# Runs with ROOTFS_DIR set by pi-gen (and by tests/test_image.py, into a scratch folder).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=$(cd "${here}/../.." && pwd)
repo=$(cd "${image}/.." && pwd)
: "${ROOTFS_DIR:?ROOTFS_DIR must name the image root folder}"

# configuration, udev rules, module blacklist, nginx site, mDNS service, the update command
while IFS= read -r -d '' file; do
    rel=${file#"${image}/rootfs/"}
    mode=644
    case "$rel" in usr/local/sbin/*) mode=755 ;; esac
    install -D -m "$mode" "$file" "${ROOTFS_DIR}/${rel}"
done < <(find "${image}/rootfs" -type f -print0)

# the three services and first boot
for unit in "${repo}"/systemd/*.service; do
    install -D -m 644 "$unit" "${ROOTFS_DIR}/etc/systemd/system/$(basename "$unit")"
done

# the release to install: the stampbox wheel and its dependencies for the Pi (image/build.sh)
if [ -d "${here}/files/wheels" ]; then
    install -d -m 755 "${ROOTFS_DIR}/opt/stampbox/wheels"
    cp -a "${here}/files/wheels/." "${ROOTFS_DIR}/opt/stampbox/wheels/"
fi
