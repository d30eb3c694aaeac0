#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 2G --mem 2048 --timeout 2400
#
# ext4, xfs and btrfs on dm-sis (issue 4): mkfs, mount, fill (a copy of
# /usr twice, so half of it deduplicates, then random data until the file
# system is full), fsck clean after unmount; after remove/create of the
# device and a reload of the module (the closest to a reboot a vm-run guest
# has) fsck is clean and every file has its checksum; files removed and new
# ones created persist the same way.  SIS_FS="ext4 xfs" limits the list.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
S=/dev/mapper/sfs
M=/mnt/sfs
# Logical size: 384 MiB in make test (xfs needs 300 MiB), 1 GiB in test-long.
FS_MIB=${FS_MIB:-$([ -n "${SIS_TEST_LONG:-}" ] && echo 1024 || echo 384)}
L=$((FS_MIB * 2048))
mkdir -p $M
sis_load

mkfs_of() {
	case $1 in
	ext4) mkfs.ext4 -q -F $S </dev/null ;;
	xfs) mkfs.xfs -q -f $S ;;
	btrfs) mkfs.btrfs -q -f $S ;;
	esac
}

fsck_of() {
	case $1 in
	ext4) e2fsck -fn $S ;;
	xfs) xfs_repair -n $S ;;
	btrfs) btrfs check --readonly $S ;;
	esac >/tmp/fsck.log 2>&1 || { cat /tmp/fsck.log; die "$1: fsck found problems"; }
}

reopen() { # remove/create the device and reload the module
	sis_remove sfs
	modprobe -r dm-sis || die "module unload failed"
	sis_load
	sis_create sfs "$D" $L
}

sums() { (cd $M && find . -type f -print0 | sort -z | xargs -0 -r md5sum); }

for fs in ${SIS_FS:-ext4 xfs btrfs}; do
	dd if=/dev/zero of="$D" bs=1M count=8 oflag=direct status=none
	sis_create sfs "$D" $L
	mkfs_of $fs
	mount $S $M
	mkdir $M/a $M/b
	cp -a /usr/lib/python3* /usr/share/perl* $M/a/ 2>/dev/null || true
	cp -a $M/a/. $M/b/
	dd if=/dev/urandom of=$M/fill bs=1M status=none 2>/dev/null || true
	sync
	df -h $M | tail -n1
	sums >/tmp/sums
	[ "$(wc -l </tmp/sums)" -gt 100 ] || die "$fs: too few files"
	umount $M
	log "$fs filled: $(dmsetup status sfs | cut -d' ' -f4-)"
	fsck_of $fs

	reopen
	fsck_of $fs
	mount $S $M
	sums | cmp -s - /tmp/sums || die "$fs: checksums differ after remove/create"
	rm -rf $M/b $M/fill
	head -c $((FS_MIB / 16 << 20)) /dev/urandom >$M/new
	cp $M/new $M/new2
	sync
	sums >/tmp/sums
	umount $M
	fsck_of $fs

	reopen
	fsck_of $fs
	mount $S $M
	sums | cmp -s - /tmp/sums || die "$fs: checksums differ after rm/create + remove/create"
	umount $M
	log "$fs: ok ($(dmsetup status sfs | cut -d' ' -f4-))"
	sis_remove sfs
done
check_dmesg
sis_pass
