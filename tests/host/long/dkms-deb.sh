#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# host/long/dkms-deb (make test-long): DKMS and the Debian packages, end to
# end in a guest booting Debian's 6.12 cloud kernel.
#
# On the host: `make deb` (debhelper + dh-dkms, lintian with no errors);
# the guest image's dpkg status is read from its root.img (debugfs) and
# `apt-get --download-only` fetches exactly what the guest lacks for a DKMS
# build (dkms, gcc, make, linux-headers-<guest release>) into
# build/pkg-cache/ (kept: later runs download nothing); those .debs, the two
# packages and the module source go on an ext4 disk (--disk-file) so the
# default guest image stays as it is.  The guest part is _dkms-deb-guest.sh.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$REPO"
log() { echo "[dkms-deb] $*"; }

OUT=$REPO/build/pkgtest
rm -rf "$OUT" && mkdir -p "$OUT/stage/deps" "$OUT/stage/pkgs" "$OUT/stage/src"

log "make deb"
make deb
cp build/deb/dm-sis-dkms_*.deb build/deb/sis-tools_*_amd64.deb "$OUT/stage/pkgs/"

IMG_DIR=$(scripts/guest-image)
KREL=$(basename "$(ls /boot/vmlinuz-6.12*-cloud-amd64 | sort -V | tail -n1)")
KREL=${KREL#vmlinuz-}
debugfs -R 'cat /var/lib/dpkg/status' "$IMG_DIR/root.img" >"$OUT/status" 2>/dev/null
grep -q '^Package: dmsetup' "$OUT/status" || { echo "cannot read the guest's dpkg status" >&2; exit 1; }

# The guest boots $KREL from vm-run (kernel + /lib/modules in the image) but
# its dpkg does not know it, and linux-headers-$KREL depends on the image
# package (whose postinst would rebuild an initramfs the guest never uses):
# a stand-in package of the same name and version, marked installed in the
# status apt resolves against and installed in the guest first.
KVER=$(dpkg-query -W -f='${Version}' "linux-image-$KREL")
mkdir -p "$OUT/standin/DEBIAN"
cat >"$OUT/standin/DEBIAN/control" <<CTL
Package: linux-image-$KREL
Version: $KVER
Architecture: amd64
Maintainer: dm-sis test bed <dm-sis-devel@example.org>
Section: kernel
Priority: optional
Description: stand-in for the kernel the dm-sis test guest boots
 scripts/vm-run provides this kernel and its modules; this package only
 satisfies the dependency of linux-headers-$KREL in the test guest.
CTL
dpkg-deb --root-owner-group --build "$OUT/standin" "$OUT/stage/deps/linux-image-$KREL-standin.deb" >/dev/null
printf '\nPackage: linux-image-%s\nStatus: install ok installed\nPriority: optional\nSection: kernel\nMaintainer: x\nArchitecture: amd64\nVersion: %s\nDescription: stand-in\n' \
	"$KREL" "$KVER" >>"$OUT/status"

CACHE=$REPO/build/pkg-cache/$KREL
mkdir -p "$CACHE/partial"
APT=(apt-get -q -y --no-install-recommends -o Dir::State::status="$OUT/status"
	-o Dir::Cache::archives="$CACHE")
WANT=(dkms gcc make "linux-headers-$KREL=$KVER")
log "download what the guest lacks: ${WANT[*]}"
"${APT[@]}" --download-only install "${WANT[@]}" >"$OUT/apt.log" 2>&1 ||
	{ tail -n 30 "$OUT/apt.log" >&2; exit 1; }
# Exactly the packages apt would install (its NEW and upgraded lists; the
# cache may hold other versions: take the newest of each).
awk '/^The following (NEW packages will be installed|packages will be upgraded):/ { on = 1; next }
	/^[^ ]/ { on = 0 } on { for (i = 1; i <= NF; i++) print $i }' "$OUT/apt.log" |
while read -r p; do
	f=$(ls "$CACHE/${p}"_*.deb 2>/dev/null | sort -V | tail -n1)
	[ -n "$f" ] || { echo "missing in $CACHE: $p" >&2; exit 1; }
	cp "$f" "$OUT/stage/deps/"
done
log "$(ls "$OUT/stage/deps" | wc -l) dependency packages: $(ls "$OUT/stage/deps" | sed 's/_.*//' | tr '\n' ' ')"

# The module source and what `make dkms-install` needs.
mkdir -p "$OUT/stage/src/debian"
cp -a Makefile dkms.conf dm-sis include "$OUT/stage/src/"
cp -a debian/changelog "$OUT/stage/src/debian/"
find "$OUT/stage/src" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod' \
	-o -name '*.mod.c' -o -name modules.order -o -name Module.symvers \) -delete

mb=$(( $(du -sm "$OUT/stage" | cut -f1) + 64 ))
mkfs.ext4 -q -F -d "$OUT/stage" "$OUT/pkgs.img" "${mb}M"

log "guest: dkms + packages"
scripts/vm-run --no-header --mem 2048 --disk-file "$OUT/pkgs.img" --disk 256M \
	--timeout 2400 tests/host/long/_dkms-deb-guest.sh
