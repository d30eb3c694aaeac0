#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --mem 1024 --timeout 600
#
# The shared cache holds what is shared (issue 11, item 5).  With the
# shared cache limited to 16 MiB (cache_mb), K=4 copies of 4 MiB are read
# (one copy of disk reads, 1024 cached blocks); then 32 MiB of new unique
# data (twice the cache) is streamed to the device; then the K copies are
# read again: no new data-cache miss and not one sector read from the disk.
# New blocks installed by a writer enter the cache at its cold end until
# someone else looks them up, so a stream of unique data evicts itself.
#
# Checked on 0209ebd (before the change): "re-read: 38 cache misses, 8192
# sectors read from the disk" (one copy again: the unique stream had
# evicted every shared block).
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1)
S=/dev/mapper/s
K=4
sis_load
P=/sys/module/dm_sis/parameters/cache_mb
old_mb=$(cat $P)
echo 16 >$P
sis_create s "$D" $((1 << 21))

head -c $((4 << 20)) /dev/urandom >/tmp/c
for k in $(seq 0 $((K - 1))); do
	dd if=/tmp/c of=$S bs=1M seek=$((k * 8)) oflag=direct status=none
done
dmsetup message s 0 commit
dmsetup message s 0 drop_cache
read_copies() {
	local k
	for k in $(seq 0 $((K - 1))); do
		cmp <(dd if=$S bs=1M skip=$((k * 8)) count=4 iflag=direct status=none) /tmp/c ||
			die "copy $k differs"
	done
}
read_copies
m0=$(sis_field s cache_misses)
log "K=$K copies read: cache_blocks $(sis_field s cache_blocks), misses $m0"

# stream 32 MiB of unique data (twice the cache) elsewhere on the device
dd if=/dev/urandom of=/tmp/u bs=1M count=32 status=none
dd if=/tmp/u of=$S bs=1M seek=256 oflag=direct status=none
log "after 32 MiB of unique data: cache_blocks $(sis_field s cache_blocks)"

r0=$(read_sectors "$D")
read_copies
r1=$(read_sectors "$D")
m1=$(sis_field s cache_misses)
log "re-read: $((m1 - m0)) cache misses, $((r1 - r0)) sectors read from the disk"
echo "$old_mb" >$P
[ "$m1" = "$m0" ] || die "re-reading the shared copies missed the cache $((m1 - m0)) times"
[ "$r1" = "$r0" ] || die "re-reading the shared copies read $((r1 - r0)) sectors from the disk"
cmp <(dd if=$S bs=1M skip=256 count=32 iflag=direct status=none) /tmp/u || die "unique data"
sis_remove s
check_dmesg
sis_pass "a unique stream of twice the cache did not evict the shared copies"
