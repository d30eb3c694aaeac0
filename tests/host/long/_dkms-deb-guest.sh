#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest part of tests/host/long/dkms-deb.sh (not a test by itself): /dev/vdb
# holds deps/ (dkms, gcc, kernel headers...), pkgs/ (dm-sis-dkms, sis-tools)
# and src/ (the module source); /dev/vdc is a blank 256 MiB disk.  Runs the
# README's "Production use" commands with DKMS builds.
set -euo pipefail
. /sis/tests/guest/lib.sh
. /sis/tests/host/_pkg-guest-lib.sh
SIS_TEST=dkms-deb

KREL=$(uname -r)
D=/dev/vdc
mount /dev/vdb /mnt

# vm-run installed its own build of dm-sis.ko: remove it, only DKMS's counts.
rm -f "/lib/modules/$KREL/extra/dm-sis.ko"
depmod -a "$KREL"
modinfo dm-sis >/dev/null 2>&1 && die "a dm-sis module is still installed"

pkg_install_deps
[ -e "/lib/modules/$KREL/build" ] || die "no headers for $KREL"

dkms_installed() { # $1: what is being checked
	dkms status | tee /tmp/st
	grep -qxF "dm-sis/0.1.0, $KREL, x86_64: installed" /tmp/st || die "$1: dkms status: $(cat /tmp/st)"
	modinfo -n dm-sis | grep -q "/updates/dkms/dm-sis.ko" || die "$1: module path $(modinfo -n dm-sis)"
}

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
dkms_installed "make dkms-install"
smoke
make -C /tmp/src dkms-remove >/tmp/dkms-remove.log 2>&1 || { cat /tmp/dkms-remove.log; die "make dkms-remove"; }
dkms status | grep -q dm-sis && die "dkms status after dkms-remove: $(dkms status)"
[ -e /usr/src/dm-sis-0.1.0 ] && die "/usr/src/dm-sis-0.1.0 left by dkms-remove"
modinfo dm-sis >/dev/null 2>&1 && die "module still installed after dkms-remove"

# ---- 2. the packages: install (DKMS builds), use ----
pkg_install
dkms_installed "dpkg -i"
pkg_use_tools

# ---- 3. a kernel upgrade: the hook a linux-image postinst runs rebuilds it ----
# The guest cannot boot another kernel, so the module is taken away from this
# one and the kernel's postinst.d hook (run-parts by every linux-image
# package on install or upgrade) is run as an upgrade runs it.
dkms uninstall -m dm-sis -v 0.1.0 -k "$KREL" >/dev/null
dkms unbuild -m dm-sis -v 0.1.0 -k "$KREL" >/dev/null
modinfo dm-sis >/dev/null 2>&1 && die "module still installed after dkms uninstall"
[ -x /etc/kernel/postinst.d/dkms ] || die "no /etc/kernel/postinst.d/dkms hook"
log "kernel postinst.d hook"
t0=$SECONDS
/etc/kernel/postinst.d/dkms "$KREL" "/boot/vmlinuz-$KREL" >/tmp/hook.log 2>&1 || { tail -n 30 /tmp/hook.log; die "postinst.d/dkms"; }
log "the hook rebuilt dm-sis in $((SECONDS - t0)) s"
dkms_installed "kernel postinst.d hook"
smoke

# ---- 4. remove, purge ----
pkg_remove_purge
modinfo dm-sis >/dev/null 2>&1 && die "module still installed after purge"
sis_pass "make dkms-install/remove, the packages build, work, rebuild from the kernel hook, remove and purge cleanly"
