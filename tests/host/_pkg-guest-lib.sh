# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the guest halves of the package tests (_pkg-deb-guest.sh,
# long/_dkms-deb-guest.sh); not a test.  /dev/vdb (mounted at /mnt) holds
# deps/, pkgs/ and src/ (see _pkg-stage.sh); $D is a blank disk.

export DEBIAN_FRONTEND=noninteractive

# The dependency packages; dkms last: in one dpkg -i run with its
# dependencies, dpkg configures it too early.
pkg_install_deps() {
	log "installing $(ls /mnt/deps | wc -l) dependency packages"
	dpkg -i $(ls /mnt/deps/*.deb | grep -v '/dkms_') >/tmp/dpkg-deps.log 2>&1 ||
		{ grep -iE -B3 -A3 'error|depend' /tmp/dpkg-deps.log | tail -n 40; die "dpkg -i deps"; }
	dpkg -i /mnt/deps/dkms_*.deb >>/tmp/dpkg-deps.log 2>&1 ||
		{ tail -n 30 /tmp/dpkg-deps.log; die "dpkg -i dkms"; }
}

pkg_install() {
	local t0=$SECONDS
	log "dpkg -i dm-sis-dkms sis-tools"
	dpkg -i /mnt/pkgs/dm-sis-dkms_*.deb /mnt/pkgs/sis-tools_*.deb >/tmp/dpkg.log 2>&1 ||
		{ tail -n 40 /tmp/dpkg.log; die "dpkg -i packages"; }
	log "dpkg -i took $((SECONDS - t0)) s"
	[ -x /usr/sbin/sis ] && [ -f /usr/share/man/man8/sis.8.gz ] &&
		[ -f /lib/systemd/system/sis-activate.service ] || die "sis-tools files missing"
	/usr/sbin/sis --version
}

# The README's activation, monitoring and deactivation commands with the
# packaged tool, on the module modprobe finds.
pkg_use_tools() {
	local u
	/usr/sbin/sis format "$D" >/dev/null
	u=$(/usr/sbin/sis probe "$D" | sed -n 's/.* UUID=//p')
	[ -n "$u" ] || die "sis probe printed no UUID"
	echo "pk UUID=$u low_water_mark=1000" >/etc/sistab
	modprobe dm-sis
	/usr/sbin/sis activate --all
	head -c 1M /dev/urandom >/tmp/d
	dd if=/tmp/d of=/dev/mapper/pk bs=1M oflag=direct status=none
	cmp -n 1048576 /tmp/d /dev/mapper/pk || die "data mismatch through the activated device"
	/usr/sbin/sis stats --json pk | grep -q '"mode": *"write"' || die "stats --json: $(/usr/sbin/sis stats --json pk)"
	/usr/sbin/sis deactivate --all
	dmsetup info pk >/dev/null 2>&1 && die "pk still there after sis deactivate --all"
	rmmod dm-sis
	rm /etc/sistab
	dd if=/dev/zero of="$D" bs=1M count=1 oflag=direct status=none # blkid/wipefs do not know dm-sis
}

# dpkg -r, then -P: nothing of either package is left.  $1: a path to
# ignore in the leftover search (a module the test bed installed itself).
pkg_remove_purge() {
	local keep=${1:-/nonexistent} f left
	dpkg -r sis-tools dm-sis-dkms >/tmp/dpkg-r.log 2>&1 || { cat /tmp/dpkg-r.log; die "dpkg -r"; }
	dkms status | grep -q dm-sis && die "dkms status after remove: $(dkms status)"
	for f in /usr/src/dm-sis-0.1.0 /usr/sbin/sis /lib/systemd/system/sis-activate.service \
		"/lib/modules/$KREL/updates/dkms/dm-sis.ko" /var/lib/dkms/dm-sis; do
		[ -e "$f" ] && die "$f left after dpkg -r"
	done
	dpkg -P sis-tools dm-sis-dkms >/tmp/dpkg-p.log 2>&1 || { cat /tmp/dpkg-p.log; die "dpkg -P"; }
	dpkg -l sis-tools dm-sis-dkms 2>/dev/null | grep -E '^(ii|rc)' && die "packages still known to dpkg"
	left=$(find / -xdev \( -path /sis -o -path /mnt -o -path /tmp -o -path /proc \) -prune -o \
		\( -name '*dm-sis*' -o -name 'sis-tools*' -o -name 'sis-activate*' \) -print 2>/dev/null |
		grep -vxF "$keep" || true)
	[ -z "$left" ] || die "left after purge: $left"
}
