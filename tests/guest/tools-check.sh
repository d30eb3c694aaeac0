#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 2G --timeout 600
#
# The sis tool on metadata the kernel target wrote: `sis format`, `sis
# create`, fio with dedupe and overwrites, discards, then ext4 with
# duplicate trees, deletes and fstrim; after each device removal `sis check`
# (with data fingerprints) must be clean, `sis dump` must agree with what
# the target reported, and the device must come back with its data.
# Would fail if the target left refcounts, counters or the index
# inconsistent at any clean shutdown, or if the tool misread the format.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
command -v sis >/dev/null || die "sis is not installed in the guest"
sis_load

# check_clean DEV WHAT: sis check exits 0 (info lines allowed) and is silent
# about errors and leaks.
check_clean() {
	local rc=0
	sis check "$1" >/tmp/check.out 2>&1 || rc=$?
	cat /tmp/check.out
	[ "$rc" = 0 ] || die "$2: sis check exit $rc"
	grep -qE '^(error|leak): ' /tmp/check.out && die "$2: problems reported"
	log "$2: sis check clean: $(tail -n1 /tmp/check.out)"
}

# dump_field NAME: a value from `sis dump` (first number after the label).
dump_field() { sis dump "$D" | sed -n "s/^$1  *\([0-9]*\).*/\1/p"; }

# ---- format and create through the tool ----
sis format "$D"
sis format "$D" 2>/dev/null && die "format over dm-sis metadata without --force accepted"
check_clean "$D" "fresh format"
sis create t0 "$D" --logical-size 6G --commit-interval 2
[ -b /dev/mapper/t0 ] || dmsetup mknodes t0
[ -b /dev/mapper/t0 ] || die "/dev/mapper/t0 missing"
dmsetup table t0 | grep -q "^0 12582912 sis .* 2 commit_interval 2$" ||
	die "table: $(dmsetup table t0)"
# An active device is refused by the offline tools (O_EXCL).
sis check "$D" 2>/dev/null && die "sis check of an active device accepted"
sis format --force "$D" 2>/dev/null && die "sis format of an active device accepted"

# ---- fio: dedupe, overwrites, discards ----
fio --name=seq --filename=/dev/mapper/t0 --rw=write --bs=128k --size=128M \
	--dedupe_percentage=60 --randseed=11 --direct=1 --ioengine=libaio \
	--iodepth=16 --output=/dev/null
fio --name=rnd --filename=/dev/mapper/t0 --rw=randwrite --bs=4k --size=64M \
	--offset=32M --dedupe_percentage=50 --dedupe_mode=working_set \
	--randseed=12 --direct=1 --ioengine=libaio --iodepth=32 --output=/dev/null
blkdiscard -o $((112 << 20)) -l $((16 << 20)) /dev/mapper/t0
dd if=/dev/zero of=/dev/mapper/t0 bs=1M seek=100 count=4 oflag=direct status=none
sync
dmsetup message t0 0 commit
mapped=$(sis_field t0 mapped)
data=$(sis_field t0 data_blocks)
head -c $((64 << 20)) /dev/mapper/t0 | md5sum >/tmp/head.md5
sis_remove t0
check_clean "$D" "after fio"
assert_eq "$(dump_field 'mapped blocks')" "$mapped" "sis dump mapped vs the target's status"
assert_eq "$(dump_field 'data blocks used')" "$data" "sis dump data blocks vs the target's status"
sis dump --json "$D" >/dev/null || die "sis dump --json"

# ---- the device comes back (logical size from the metadata) ----
sis create t0 "$D"
[ -b /dev/mapper/t0 ] || dmsetup mknodes t0
assert_eq "$(blockdev --getsize64 /dev/mapper/t0)" $((6 << 30)) "logical size after re-create"
head -c $((64 << 20)) /dev/mapper/t0 | md5sum | cmp -s - /tmp/head.md5 || die "data changed across remove/create"

# ---- a filesystem workload over it ----
mkfs.ext4 -q -F -E nodiscard /dev/mapper/t0 </dev/null
mkdir -p /mnt/t
mount /dev/mapper/t0 /mnt/t
for i in 1 2 3; do cp -a /usr/bin "/mnt/t/copy$i"; done
dd if=/dev/urandom of=/mnt/t/rnd bs=1M count=32 status=none
sync
rm -rf /mnt/t/copy2
fstrim /mnt/t || true
(cd /mnt/t && find copy1 -type f | sort | awk "NR <= 500" | xargs -d "\n" md5sum) >/tmp/files.md5
umount /mnt/t
sis_remove t0
check_clean "$D" "after ext4 workload"
sis dump "$D" | sed -n '/^mapped blocks/p;/^data blocks used/p;/^dedup ratio/p'

# ---- and back again: fsck and file contents ----
sis create t0 "$D"
[ -b /dev/mapper/t0 ] || dmsetup mknodes t0
fsck.ext4 -fn /dev/mapper/t0 >/tmp/fsck.out 2>&1 || { cat /tmp/fsck.out; die "fsck.ext4 after re-create"; }
mount -o ro /dev/mapper/t0 /mnt/t
(cd /mnt/t && md5sum -c --quiet /tmp/files.md5) || die "file contents differ after re-create"
umount /mnt/t
sis_remove t0
check_clean "$D" "after read-only remount"
check_dmesg
sis_pass
