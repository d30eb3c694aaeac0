#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --mem 2048 --timeout 600
#
# Smoke test (6.12 and 6.1): create, write duplicates, read back byte for
# byte, status fields, messages, reload as printed by `dmsetup table`,
# remove/create persistence.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
sis_load
SECTORS=$((4 * 1024 * 1024 * 2)) # 4 GiB logical on a 1 GiB disk (thin)
sis_create s0 "$D" $SECTORS
sis_status s0
dmsetup table s0

# 64 MiB of one repeated 4 KiB block, then 16 MiB of random data.
head -c 4096 /dev/urandom >/tmp/dup.img
for i in $(seq 1 14); do cat /tmp/dup.img /tmp/dup.img >/tmp/x && mv /tmp/x /tmp/dup.img; done
log "data ready"
head -c $((16 << 20)) /dev/urandom >/tmp/rnd.img
dd if=/tmp/dup.img of=/dev/mapper/s0 bs=1M oflag=direct status=none
dd if=/tmp/rnd.img of=/dev/mapper/s0 bs=1M seek=64 oflag=direct status=none
sync
sis_status s0
mapped=$(sis_field s0 mapped)
data=$(sis_field s0 data_blocks)
assert_eq "$mapped" $((16384 + 4096)) "mapped blocks"
[ "$data" -ge 4097 ] && [ "$data" -le 4100 ] || die "data blocks $data, want ~4097"

cmp <(dd if=/dev/mapper/s0 bs=1M count=64 iflag=direct status=none) /tmp/dup.img ||
	die "dup data differs"
cmp <(dd if=/dev/mapper/s0 bs=1M skip=64 count=16 iflag=direct status=none) /tmp/rnd.img ||
	die "random data differs"
# unmapped reads as zeros
cmp <(dd if=/dev/mapper/s0 bs=1M skip=100 count=4 iflag=direct status=none) \
	<(head -c $((4 << 20)) /dev/zero) || die "unmapped not zero"

for m in reset_stats drop_cache commit; do
	dmsetup message s0 0 $m || die "message $m rejected"
done
dmsetup message s0 0 no_such_message 2>/dev/null && die "bad message accepted"
assert_eq "$(sis_field s0 written)" 0 "written after reset_stats"

# reload with the printed table
tbl=$(dmsetup table s0)
dmsetup suspend s0
dmsetup load s0 --table "$tbl" || die "table '$tbl' does not reload"
dmsetup resume s0

# persistence across remove/create
sis_remove s0
sis_create s0 "$D" $SECTORS
cmp <(dd if=/dev/mapper/s0 bs=1M count=64 iflag=direct status=none) /tmp/dup.img ||
	die "dup data differs after remove/create"
cmp <(dd if=/dev/mapper/s0 bs=1M skip=64 count=16 iflag=direct status=none) /tmp/rnd.img ||
	die "random data differs after remove/create"
sis_remove s0
check_dmesg
sis_pass
