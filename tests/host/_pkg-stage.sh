# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the package tests (host/pkg-deb, host/long/dkms-deb); not a test.
#
# pkg_stage OUT [--headers] PKG...: `make deb` (debhelper + dh-dkms, lintian
# with no errors), then an ext4 image OUT/pkgs.img for `vm-run --disk-file`
# holding pkgs/ (dm-sis-dkms, sis-tools), src/ (the module source and what
# `make dkms-install` needs) and deps/: exactly the .debs the guest image
# lacks for PKG... .  The guest's dpkg status is read from its root.img
# (debugfs) and `apt-get --download-only` fetches into build/pkg-cache/
# (kept: later runs download nothing).  With --headers, linux-headers of the
# guest kernel are added, and with them a stand-in linux-image package (see
# below) that the guest installs first.  The default guest image is unchanged.
# Sets KREL (the guest kernel release).

pkg_stage() {
	local out=$1 headers= want=() p f
	shift
	[ "${1:-}" = --headers ] && { headers=1; shift; }
	want=("$@")
	rm -rf "$out" && mkdir -p "$out/stage/deps" "$out/stage/pkgs" "$out/stage/src"

	echo "[pkg] make deb"
	make deb
	cp build/deb/dm-sis-dkms_*.deb build/deb/sis-tools_*_amd64.deb "$out/stage/pkgs/"

	local img_dir kver
	img_dir=$(scripts/guest-image)
	KREL=$(basename "$(ls /boot/vmlinuz-6.12*-cloud-amd64 | sort -V | tail -n1)")
	KREL=${KREL#vmlinuz-}
	debugfs -R 'cat /var/lib/dpkg/status' "$img_dir/root.img" >"$out/status" 2>/dev/null
	grep -q '^Package: dmsetup' "$out/status" || { echo "cannot read the guest's dpkg status" >&2; return 1; }

	if [ -n "$headers" ]; then
		# The guest boots $KREL from vm-run (kernel + /lib/modules in the
		# image) but its dpkg does not know it, and linux-headers-$KREL
		# depends on the image package (whose postinst would rebuild an
		# initramfs the guest never uses): a stand-in package of the same
		# name and version, marked installed in the status apt resolves
		# against and installed in the guest first.
		kver=$(dpkg-query -W -f='${Version}' "linux-image-$KREL")
		mkdir -p "$out/standin/DEBIAN"
		cat >"$out/standin/DEBIAN/control" <<CTL
Package: linux-image-$KREL
Version: $kver
Architecture: amd64
Maintainer: dm-sis test bed <dm-sis-devel@example.org>
Section: kernel
Priority: optional
Description: stand-in for the kernel the dm-sis test guest boots
 scripts/vm-run provides this kernel and its modules; this package only
 satisfies the dependency of linux-headers-$KREL in the test guest.
CTL
		dpkg-deb --root-owner-group --build "$out/standin" \
			"$out/stage/deps/linux-image-$KREL-standin.deb" >/dev/null
		printf '\nPackage: linux-image-%s\nStatus: install ok installed\nPriority: optional\nSection: kernel\nMaintainer: x\nArchitecture: amd64\nVersion: %s\nDescription: stand-in\n' \
			"$KREL" "$kver" >>"$out/status"
		want+=("linux-headers-$KREL=$kver")
	fi

	local cache=$REPO/build/pkg-cache/$KREL
	mkdir -p "$cache/partial"
	echo "[pkg] download what the guest lacks: ${want[*]}"
	apt-get -q -y --no-install-recommends -o Dir::State::status="$out/status" \
		-o Dir::Cache::archives="$cache" --download-only install "${want[@]}" \
		>"$out/apt.log" 2>&1 || { tail -n 30 "$out/apt.log" >&2; return 1; }
	# Exactly the packages apt would install (its NEW and upgraded lists;
	# the cache may hold other versions: take the newest of each).
	for p in $(awk '/^The following (NEW packages will be installed|packages will be upgraded):/ { on = 1; next }
		/^[^ ]/ { on = 0 } on { for (i = 1; i <= NF; i++) print $i }' "$out/apt.log"); do
		f=$(ls "$cache/${p}"_*.deb 2>/dev/null | sort -V | tail -n1)
		[ -n "$f" ] || { echo "missing in $cache: $p" >&2; return 1; }
		cp "$f" "$out/stage/deps/"
	done
	echo "[pkg] $(ls "$out/stage/deps" | wc -l) dependency packages: $(ls "$out/stage/deps" | sed 's/_.*//' | tr '\n' ' ')"

	# The module source and what `make dkms-install` needs.
	mkdir -p "$out/stage/src/debian"
	cp -a Makefile dkms.conf dm-sis include "$out/stage/src/"
	cp -a debian/changelog "$out/stage/src/debian/"
	find "$out/stage/src" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name modules.order -o -name Module.symvers \) -delete

	local mb=$(( $(du -sm "$out/stage" | cut -f1) + 64 ))
	mkfs.ext4 -q -F -d "$out/stage" "$out/pkgs.img" "${mb}M"
}
