#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 256M --mem 1024 --timeout 600
#
# Bad table lines and messages are rejected, each with its own ti->error
# string in the kernel log, and no oops; the printed table reloads as is;
# reload with a larger length grows the device; a smaller one is refused;
# discard unmaps; read_only refuses writes.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
sis_load

expect_bad "0 8192 sis" "Missing backing device argument"
expect_bad "0 8196 sis $D" "Length is not a multiple of 4 KiB"
expect_bad "0 8192 sis /dev/nonexistent" "Backing device lookup failed"
expect_bad "0 8192 sis $D 1 bogus" "Unknown feature argument"
expect_bad "0 8192 sis $D x" "Invalid number of feature arguments"
expect_bad "0 8192 sis $D 11 a b c d e f g h i j k" "Invalid number of feature arguments"
expect_bad "0 8192 sis $D 3 read_only" "Invalid number of feature arguments"
expect_bad "0 8192 sis $D 1 commit_interval" "commit_interval needs a value"
expect_bad "0 8192 sis $D 2 commit_interval abc" "Invalid commit_interval"
expect_bad "0 8192 sis $D 2 commit_interval 0" "Invalid commit_interval"
expect_bad "0 8192 sis $D 1 read_only extra" "Too many arguments"

# read_only never formats: the blank disk stays blank
dd if=/dev/zero of="$D" bs=1M count=1 oflag=direct status=none
expect_bad "0 8192 sis $D 1 read_only" "device is not formatted for dm-sis (read-only"
[ -z "$(head -c 8192 "$D" | tr -d '\0')" ] || die "read_only table wrote to a blank disk"

# one backing device twice in one table would alias the two halves
expect_bad "0 8192 sis $D
8192 8192 sis $D" "Backing device already used by this table"

# a device too small for the layout
dmsetup create tiny --table "0 64 linear $D 0"
dmsetup mknodes tiny
dmesg -C
dmsetup create bad --table "0 8192 sis /dev/mapper/tiny" 2>/dev/null && die "tiny device accepted"
dmesg | grep -q "sis: " || die "no error for a tiny device"
log "rejected tiny device: $(dmesg | grep -o 'sis: .*' | head -n1)"
dmsetup remove tiny

# a foreign format (an ext4 file system) is never formatted over
dmsetup create foreign --table "0 65536 linear $D 0"
dmsetup mknodes foreign
mkfs.ext4 -q -F /dev/mapper/foreign </dev/null
dmsetup remove foreign
dd if="$D" bs=4096 count=2 status=none | md5sum >/tmp/sb.md5
dmesg -C
dmsetup create bad --table "0 8192 sis $D" 2>/dev/null && die "foreign format accepted"
log "rejected foreign: $(dmesg | grep -o 'sis: .*' | head -n1)"
dd if="$D" bs=4096 count=2 status=none | md5sum | cmp -s - /tmp/sb.md5 ||
	die "foreign superblock area was modified"
dd if=/dev/zero of="$D" bs=1M count=8 oflag=direct status=none

# a good device; features round-trip through dmsetup table
L=$((1024 * 2048)) # 1 GiB logical on a 256 MiB disk
sis_create t "$D" $L no_discard_passdown commit_interval 5 error_if_no_space
tbl=$(dmsetup table t)
log "table: $tbl"
echo "$tbl" | grep -q "sis [0-9]*:[0-9]* 4 no_discard_passdown error_if_no_space commit_interval 5$" ||
	die "unexpected table line: $tbl"
dmsetup suspend t
dmsetup load t --table "$tbl" || die "printed table does not reload"
dmsetup resume t

# messages
for m in reset_stats drop_cache commit; do
	dmsetup message t 0 $m || die "message $m rejected"
done
for m in "bogus" "commit now" "reset_stats 1"; do
	dmsetup message t 0 $m 2>/dev/null && die "bad message accepted: $m"
done
log "messages: ok"

# write, discard, status
head -c $((8 << 20)) /dev/urandom >/tmp/r
dd if=/tmp/r of=/dev/mapper/t bs=1M oflag=direct status=none
assert_eq "$(sis_field t mapped)" 2048 "mapped after 8 MiB"
blkdiscard -o $((4 << 20)) -l $((4 << 20)) /dev/mapper/t
assert_eq "$(sis_field t mapped)" 1024 "mapped after discarding 4 MiB"
dmsetup message t 0 commit
cmp <(head -c $((4 << 20)) /tmp/r) <(dd if=/dev/mapper/t bs=1M count=4 iflag=direct status=none) ||
	die "data before the discarded range changed"
cmp <(head -c $((4 << 20)) /dev/zero) \
	<(dd if=/dev/mapper/t bs=1M skip=4 count=4 iflag=direct status=none) ||
	die "discarded range does not read as zeros"

# grow on reload; shrinking is refused
dmsetup suspend t
dmsetup load t --table "0 $((2 * L)) sis $D" || die "larger reload refused"
dmsetup resume t
assert_eq "$(blockdev --getsz /dev/mapper/t)" $((2 * L)) "size after grow"
dd if=/tmp/r of=/dev/mapper/t bs=1M seek=$((L / 2048 + 16)) oflag=direct status=none
cmp <(dd if=/dev/mapper/t bs=1M skip=$((L / 2048 + 16)) count=8 iflag=direct status=none) /tmp/r ||
	die "data in the grown area"
dmesg -C
dmsetup load t --table "0 $L sis $D" 2>/dev/null && die "shrinking reload accepted"
dmesg | grep -qF "Cannot shrink" || die "no error string for shrink"
dmsetup clear t || true
sis_remove t

# persistence of the grown size and read_only
sis_create t "$D" $((2 * L)) read_only
assert_eq "$(sis_field t mode)" read-only "mode with read_only"
cmp <(head -c $((4 << 20)) /tmp/r) <(dd if=/dev/mapper/t bs=1M count=4 iflag=direct status=none) ||
	die "data after read-only reopen"
dd if=/tmp/r of=/dev/mapper/t bs=1M count=1 oflag=direct status=none 2>/dev/null &&
	die "write accepted on a read_only device"
sis_remove t
check_dmesg
sis_pass
