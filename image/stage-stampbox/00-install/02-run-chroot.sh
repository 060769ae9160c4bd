#!/bin/bash -e
# pi-gen substage, inside the image: the service user, the first release, the services.
# No secret and no password is made here: stampbox-firstboot.service makes them on the box.

install -d -m 750 /var/lib/stampbox
if ! getent passwd stampbox >/dev/null; then
    adduser --system --group --home /var/lib/stampbox --no-create-home stampbox
fi
usermod -a -G dialout,input,plugdev,lp stampbox
chown stampbox:stampbox /var/lib/stampbox

# dependencies published only as source with C code (image/collect-wheels.sh) are built here,
# for the Pi, with a compiler that leaves the image again
shopt -s nullglob
sdists=(/opt/stampbox/wheels/*.tar.gz)
if [ ${#sdists[@]} -gt 0 ]; then
    build_deps=()
    for pkg in gcc libc6-dev python3-dev; do
        dpkg -s "$pkg" >/dev/null 2>&1 || build_deps+=("$pkg")
    done
    if [ ${#build_deps[@]} -gt 0 ]; then
        apt-get install -y --no-install-recommends "${build_deps[@]}"
    fi
    python3 -m venv /tmp/stampbox-build
    /tmp/stampbox-build/bin/pip wheel --quiet --no-index --find-links /opt/stampbox/wheels \
        --wheel-dir /opt/stampbox/wheels "${sdists[@]}"
    rm -rf /tmp/stampbox-build "${sdists[@]}"
    if [ ${#build_deps[@]} -gt 0 ]; then
        apt-get purge -y --auto-remove "${build_deps[@]}"
    fi
fi

# the first release goes in the way every later one does, but nothing is started or
# initialised in the image: first boot makes the data folder and its secrets
# (pi-gen runs a stage again on its existing root when the build is repeated without CLEAN=1:
# the release already current is then left as it is)
release=(/opt/stampbox/wheels/stampbox-*.whl)
version=$(basename "${release[0]}" | cut -d- -f2)
if [ "$(readlink -f /opt/stampbox/current || true)" != "/opt/stampbox/releases/${version}" ]; then
    STAMPBOX_INSTALL_ONLY=1 /usr/local/sbin/stampbox-update /opt/stampbox/wheels
fi

ln -sf /etc/nginx/sites-available/stampbox /etc/nginx/sites-enabled/stampbox
rm -f /etc/nginx/sites-enabled/default
systemctl enable stampbox-firstboot.service stampbox-web.service \
    stampbox-worker.service stampbox-bridge.service nginx.service avahi-daemon.service
echo stampbox >/etc/hostname
# pi-gen's stage 1 names the host from TARGET_HOSTNAME too: keep the two in step either way
sed -i '/^127\.0\.1\.1[[:space:]]/d' /etc/hosts
printf '127.0.1.1\tstampbox\n' >>/etc/hosts
