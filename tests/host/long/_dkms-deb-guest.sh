#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest part of tests/host/long/dkms-deb.sh (not a test by itself): /dev/vdb
# holds deps/ (dkms, gcc, kernel headers...), pkgs/ (dm-sis-dkms, sis-tools)
# and src/ (the module source); /dev/vdc is a blank 256 MiB disk.  Runs the
# README's "Production use" commands.
set -euo pipefail
. /sis/tests/guest/lib.sh
SIS_TEST=dkms-deb

KREL=$(uname -r)
D=/dev/vdc
mount /dev/vdb /mnt

# vm-run installed its own build of dm-sis.ko: remove it, only DKMS's counts.
rm -f "/lib/modules/$KREL/extra/dm-sis.ko"
depmod -a "$KREL"
modinfo dm-sis >/dev/null 2>&1 && die "a dm-sis module is still installed"

log "installing $(ls /mnt/deps | wc -l) dependency packages (dkms, gcc, headers)"
# dkms last: in one dpkg -i run with its dependencies, dpkg configures it too early.
dpkg -i $(ls /mnt/deps/*.deb | grep -v '/dkms_') >/tmp/dpkg-deps.log 2>&1 ||
	{ grep -iE -B3 -A3 'error|depend' /tmp/dpkg-deps.log | tail -n 40; die "dpkg -i deps"; }
dpkg -i /mnt/deps/dkms_*.deb >>/tmp/dpkg-deps.log 2>&1 || { tail -n 30 /tmp/dpkg-deps.log; die "dpkg -i dkms"; }
[ -e "/lib/modules/$KREL/build" ] || die "no headers for $KREL"

smoke() { # a device, 1 MiB written and read back, removed, module unloaded
	modprobe dm-sis
	dmsetup targets | grep -q '^sis ' || die "target sis not registered"
	dmsetup create pk --table "0 $((256 << 11)) sis $D"
	dmsetup mknodes pk
	head -c 1M /dev/urandom >/tmp/d
	dd if=/tmp/d of=/dev/mapper/pk bs=1M oflag=direct status=none
	cmp -n 1048576 /tmp/d /dev/mapper/pk || die "data mismatch"
	dmsetup remove pk
	rmmod dm-sis
	dd if=/dev/zero of="$D" bs=1M count=1 oflag=direct status=none # blkid/wipefs do not know dm-sis
}

# ---- 1. make dkms-install / dkms-remove ----
log "make dkms-install"
cp -a /mnt/src /tmp/src
t0=$SECONDS
make -C /tmp/src dkms-install >/tmp/dkms-install.log 2>&1 || { tail -n 40 /tmp/dkms-install.log; die "make dkms-install"; }
log "make dkms-install took $((SECONDS - t0)) s"
dkms status | tee /tmp/st
grep -qxF "dm-sis/0.1.0, $KREL, x86_64: installed" /tmp/st || die "dkms status: $(cat /tmp/st)"
modinfo -n dm-sis | grep -q "/updates/dkms/dm-sis.ko" || die "module path $(modinfo -n dm-sis)"
smoke
make -C /tmp/src dkms-remove >/tmp/dkms-remove.log 2>&1 || { cat /tmp/dkms-remove.log; die "make dkms-remove"; }
dkms status | grep -q dm-sis && die "dkms status after dkms-remove: $(dkms status)"
[ -e /usr/src/dm-sis-0.1.0 ] && die "/usr/src/dm-sis-0.1.0 left by dkms-remove"
modinfo dm-sis >/dev/null 2>&1 && die "module still installed after dkms-remove"

# ---- 2. the packages: install, use, remove, purge ----
log "dpkg -i dm-sis-dkms sis-tools"
t0=$SECONDS
dpkg -i /mnt/pkgs/dm-sis-dkms_*.deb /mnt/pkgs/sis-tools_*.deb >/tmp/dpkg.log 2>&1 ||
	{ tail -n 40 /tmp/dpkg.log; die "dpkg -i packages"; }
log "dpkg -i took $((SECONDS - t0)) s"
dkms status | tee /tmp/st
grep -qxF "dm-sis/0.1.0, $KREL, x86_64: installed" /tmp/st || die "dkms status: $(cat /tmp/st)"
[ -x /usr/sbin/sis ] && [ -f /usr/share/man/man8/sis.8.gz ] && [ -f /lib/systemd/system/sis-activate.service ] ||
	die "sis-tools files missing"
/usr/sbin/sis --version
# The README's activation commands with the packaged tool.
/usr/sbin/sis format "$D" >/dev/null
U=$(/usr/sbin/sis probe "$D" | sed -n 's/.* UUID=//p')
echo "pk UUID=$U low_water_mark=1000" >/etc/sistab
modprobe dm-sis
/usr/sbin/sis activate --all
/usr/sbin/sis stats --json pk | grep -q '"mode": *"write"' || die "stats --json: $(/usr/sbin/sis stats --json pk)"
/usr/sbin/sis deactivate --all
rmmod dm-sis
rm /etc/sistab

dpkg -r sis-tools dm-sis-dkms >/tmp/dpkg-r.log 2>&1 || { cat /tmp/dpkg-r.log; die "dpkg -r"; }
dkms status | grep -q dm-sis && die "dkms status after remove: $(dkms status)"
for f in /usr/src/dm-sis-0.1.0 /usr/sbin/sis /lib/systemd/system/sis-activate.service \
	"/lib/modules/$KREL/updates/dkms/dm-sis.ko" /var/lib/dkms/dm-sis; do
	[ -e "$f" ] && die "$f left after dpkg -r"
done
dpkg -P sis-tools dm-sis-dkms >/tmp/dpkg-p.log 2>&1 || { cat /tmp/dpkg-p.log; die "dpkg -P"; }
dpkg -l sis-tools dm-sis-dkms 2>/dev/null | grep -E '^(ii|rc)' && die "packages still known to dpkg"
left=$(find / -xdev \( -path /sis -o -path /mnt -o -path /tmp -o -path /proc \) -prune -o \
	\( -name '*dm-sis*' -o -name 'sis-tools*' -o -name 'sis-activate*' \) -print 2>/dev/null || true)
[ -z "$left" ] || die "left after purge: $left"
modinfo dm-sis >/dev/null 2>&1 && die "module still installed after purge"
sis_pass "make dkms-install/remove and the packages install, work, remove and purge cleanly"
