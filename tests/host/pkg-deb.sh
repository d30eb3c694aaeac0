#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# host/pkg-deb (make test): the Debian packages install, work, remove and
# purge cleanly in a guest booting Debian's 6.12 cloud kernel.  `make deb`
# runs lintian (no errors allowed).  The guest gets dkms and its
# dependencies but no kernel headers, so dm-sis-dkms registers the source and
# skips the module build (slow under TCG); host/long/dkms-deb (make
# test-long) installs the headers and checks the DKMS builds.  Guest part:
# _pkg-deb-guest.sh.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"

. tests/host/_pkg-stage.sh
OUT=$REPO/build/pkgtest-short
pkg_stage "$OUT" dkms

echo "[pkg-deb] guest: packages"
scripts/vm-run --no-header --mem 1024 --disk-file "$OUT/pkgs.img" --disk 256M \
	--timeout 900 tests/host/_pkg-deb-guest.sh
