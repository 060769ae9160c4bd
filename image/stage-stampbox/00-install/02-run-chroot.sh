#!/bin/bash -e
# pi-gen substage, inside the image: the service user, the first release, the services.
# No secret and no password is made here: stampbox-firstboot.service makes them on the box.

install -d -m 750 /var/lib/stampbox
if ! getent passwd stampbox >/dev/null; then
    adduser --system --group --home /var/lib/stampbox --no-create-home stampbox
fi
usermod -a -G dialout,input,plugdev,lp stampbox
chown stampbox:stampbox /var/lib/stampbox

# the first release goes in the way every later one does, but nothing is started or
# initialised in the image: first boot makes the data folder and its secrets
STAMPBOX_INSTALL_ONLY=1 /usr/local/sbin/stampbox-update /opt/stampbox/wheels

ln -sf /etc/nginx/sites-available/stampbox /etc/nginx/sites-enabled/stampbox
rm -f /etc/nginx/sites-enabled/default
systemctl enable stampbox-firstboot.service stampbox-web.service \
    stampbox-worker.service stampbox-bridge.service nginx.service avahi-daemon.service
echo stampbox >/etc/hostname
# pi-gen's stage 1 names the host from TARGET_HOSTNAME too: keep the two in step either way
sed -i '/^127\.0\.1\.1[[:space:]]/d' /etc/hosts
printf '127.0.1.1\tstampbox\n' >>/etc/hosts
