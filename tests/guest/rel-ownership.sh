#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 256M --disk 256M --mem 1024 --timeout 600
#
# dm-sis never takes a disk that is not its own (issue 10, items 5 and 9):
#  - a second `dmsetup create` of a volume (here volume 0) of a backing
#    device already used by another dm-sis device is refused with a clear
#    message (issue 13: one device per volume of a pool); the first device keeps
#    committing periodically and serving its data (before the fix the
#    second device aliased the first, and its removal stopped the first
#    one's commit timer);
#  - a disk holding a btrfs filesystem (first two blocks zero, superblock at
#    64 KiB), an md RAID member with its superblock at the end (0.90 and
#    1.0), an LVM label or a GPT backup header at the end is not formatted:
#    the table is refused with a message naming what was found, and the disk
#    is left byte for byte as it was.  A blank disk is still formatted.
#
# Checked on 0209ebd (before the fix): the second create succeeded
# ("FAIL: second create on the same backing device was accepted") and the
# btrfs disk was formatted over.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1)
E=$(disk 2)
sis_load

# ---- one backing device, one dm-sis device ----
sis_create a "$D" $((200 * 2048))
dd if=/dev/urandom of=/tmp/a bs=1M count=2 status=none
dd if=/tmp/a of=/dev/mapper/a bs=1M oflag=direct status=none
dmesg -C
if dmsetup create b --table "0 $((200 * 2048)) sis $D" 2>/dev/null; then
	dmsetup remove b || true
	die "second create on the same backing device was accepted"
fi
dmesg | grep -q "sis: Volume is already in use by another device" ||
	{ dmesg | tail -5; die "no clear message for the second create"; }
log "second create refused: $(dmesg | grep -o 'sis: Volume.*' | head -1)"
# the first device still commits on its timer (commit_interval 1)
c0=$(sis_field a commits)
dd if=/dev/urandom of=/dev/mapper/a bs=4k count=1 seek=1000 oflag=direct status=none
sleep 4
c1=$(sis_field a commits)
[ "$c1" -gt "$c0" ] || die "first device stopped committing ($c0 -> $c1)"
cmp <(dd if=/dev/mapper/a bs=1M count=2 iflag=direct status=none) /tmp/a ||
	die "first device's data changed"
# a reload of the same device still shares its open metadata
dmsetup reload a --table "0 $((220 * 2048)) sis $D"
dmsetup resume a
[ "$(blockdev --getsz /dev/mapper/a)" = $((220 * 2048)) ] || die "reload did not grow"
cmp <(dd if=/dev/mapper/a bs=1M count=2 iflag=direct status=none) /tmp/a ||
	die "data changed across reload"
sis_remove a

# ---- foreign signatures ----
# expect_refused WHAT: the table on $E is refused naming WHAT; $E unchanged
expect_refused() {
	local what=$1 before after
	before=$(md5sum <"$E")
	dmesg -C
	if dmsetup create r --table "0 $((128 * 2048)) sis $E" 2>/dev/null; then
		dmsetup remove r || true
		die "formatted a disk holding $what"
	fi
	dmesg | grep -q "sis: device holds $what: not formatting it" ||
		{ dmesg | tail -5; die "no message naming $what"; }
	after=$(md5sum <"$E")
	[ "$before" = "$after" ] || die "disk holding $what was modified"
	log "refused: $(dmesg | grep -o "sis: device holds.*" | head -1)"
}
SZ=$(blockdev --getsize64 "$E")
blank() { blkdiscard -z "$E" 2>/dev/null || dd if=/dev/zero of="$E" bs=1M oflag=direct status=none 2>/dev/null || true; }
put() { # OFFSET BYTES(printf format)
	printf "$2" | dd of="$E" bs=1 seek="$1" conv=notrunc status=none
}

blank
mkfs.btrfs -q -f "$E" >/dev/null
[ "$(dd if="$E" bs=8k count=1 status=none | tr -d '\0' | wc -c)" = 0 ] ||
	log "note: mkfs.btrfs left data in the first 8 KiB"
dd if=/dev/zero of="$E" bs=8k count=1 conv=notrunc status=none  # only the 64 KiB copy
expect_refused "a btrfs filesystem"

blank
put $(((SZ & ~65535) - 65536)) '\xfc\x4e\x2b\xa9'          # md 0.90 at the end
expect_refused "an md RAID member"

blank
put $(((SZ - 8192) & ~4095)) '\xfc\x4e\x2b\xa9'              # md 1.0 at the end
expect_refused "an md RAID member"

blank
put 512 "LABELONE"                                           # LVM label, sector 1
expect_refused "an LVM2 physical volume"

blank
put $((SZ - 512)) "EFI PART"                                 # GPT backup header
expect_refused "a GPT partition table"

# a blank disk is still formatted
blank
sis_create r "$E" $((128 * 2048))
sis_remove r
check_dmesg
sis_pass "second create refused; foreign disks not formatted"
