#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# host/long/dkms-deb (make test-long): DKMS builds, end to end in a guest
# booting Debian's 6.12 cloud kernel: `make dkms-install` / `dkms-remove`,
# the packages installed with the kernel headers present (DKMS builds and
# installs the module), the kernel's postinst.d hook rebuilding it as a
# kernel upgrade does, then remove and purge.  The staging (make deb,
# lintian, the .debs the guest lacks on an extra disk) is _pkg-stage.sh;
# host/pkg-deb (make test) is the same without headers and builds.
# The guest part is _dkms-deb-guest.sh.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$REPO"
log() { echo "[dkms-deb] $*"; }

. tests/host/_pkg-stage.sh
OUT=$REPO/build/pkgtest
pkg_stage "$OUT" --headers dkms gcc make

log "guest: dkms + packages"
scripts/vm-run --no-header --mem 2048 --disk-file "$OUT/pkgs.img" --disk 256M \
	--timeout 2400 tests/host/long/_dkms-deb-guest.sh
