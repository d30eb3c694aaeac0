#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest part of tests/host/pkg-deb.sh (not a test by itself): /dev/vdb holds
# deps/ (dkms and what it needs, no kernel headers) and pkgs/ (dm-sis-dkms,
# sis-tools); /dev/vdc is a blank 256 MiB disk.  Without headers DKMS
# registers the source and skips the build (host/long/dkms-deb builds it);
# the tools run on the module vm-run installed.
set -euo pipefail
. /sis/tests/guest/lib.sh
. /sis/tests/host/_pkg-guest-lib.sh
SIS_TEST=pkg-deb

KREL=$(uname -r)
D=/dev/vdc
mount /dev/vdb /mnt
[ -e "/lib/modules/$KREL/build" ] && die "kernel headers present: this test is the no-build case"

pkg_install_deps
pkg_install
tr '\n' ' ' </tmp/dpkg.log | grep -q 'was skipped since the kernel headers' ||
	{ tail -n 20 /tmp/dpkg.log; die "dm-sis-dkms postinst did not say the build was skipped"; }
dkms status | tee /tmp/st
grep -qxF "dm-sis/0.1.0: added" /tmp/st || die "dkms status: $(cat /tmp/st)"
[ -f /usr/src/dm-sis-0.1.0/dkms.conf ] || die "no /usr/src/dm-sis-0.1.0/dkms.conf"

pkg_use_tools
pkg_remove_purge "$(realpath "$(modinfo -n dm-sis)")"
sis_pass "the packages install (DKMS registers the source), the packaged tools activate a device, remove and purge leave nothing"
