#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --mem 2048 --timeout 600
#
# drop_cache must not unhash an entry that is still held (issue: error
# paths, item A).  dm-delay under dm-sis delays data writes (not reads, not
# flushes; commit_interval 3600 so no commit runs meanwhile):
#  1. W: one 8 KiB O_DIRECT write of two identical blocks X at logical
#     blocks 0-1: block 0 is stored in a new block P (pcache entry WRITING,
#     held by W while dm-delay holds the data write), block 1 shares it.
#  2. Once dm-delay reports W's write in flight: `dmsetup message drop_cache`.
#  3. B: X written again at logical block 2 (O_DIRECT).  B finds P in the
#     fingerprint index and compares against P's cache entry.
#  4. After both end: logical blocks 0-1 read back with O_DIRECT (shared, so
#     through pcache) must be X; status must show one data block, 3 mapped,
#     2 dedup hits.
# Before the fix, drop_cache unhashed W's held WRITING entry, so B missed
# the cache and read P from the disk before W's data landed (zeros),
# entering that stale copy as VALID; B's compare failed, B stored X
# elsewhere, and reads of W's blocks returned zeros until eviction.
# Checked that it fails without the fix: `scripts/vm-run
# tests/guest/cache-drop-race.sh` on tree 0209ebd (6.12 guest) printed
#   [script] status: 0 2097152 sis write 3 3360/262144 12288 8192 1.500 0 0 1 2 0 - 2 1
#   [script] FAIL: logical blocks 0-1 (shared, read through pcache) do not hold X
# (two data blocks, one dedup hit, W's blocks read as zeros); with the fix
# it passes.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
S=/dev/mapper/rc
WRITE_MS=5000
sis_load
modprobe dm-delay || die "modprobe dm-delay"

SZ=$(blockdev --getsz "$D")
delay_table() { # read, write and flush delays in ms
	echo "0 $SZ delay $D 0 $1 $D 0 $2 $D 0 $3"
}
dmsetup create dl --table "$(delay_table 0 0 0)" || die "dmsetup create dl"
dmsetup mknodes dl 2>/dev/null || true
sis_create rc /dev/mapper/dl $((1 << 21)) commit_interval 3600
delayed_writes() { dmsetup status dl | awk '{print $5}'; }

head -c 4096 /dev/urandom >/tmp/x
cat /tmp/x /tmp/x >/tmp/xx

# from now on data writes take WRITE_MS to reach the disk
dmsetup reload dl --table "$(delay_table 0 "$WRITE_MS" 0)" || die "reload dl"
dmsetup resume dl || die "resume dl"
dmsetup message rc 0 reset_stats

dd if=/tmp/xx of=$S bs=8192 count=1 oflag=direct status=none &
w=$!
for _ in $(seq 100); do
	[ "$(delayed_writes)" -ge 1 ] && break
	sleep 0.1
done
[ "$(delayed_writes)" -ge 1 ] || die "W's data write never reached dm-delay"
kill -0 $w 2>/dev/null || die "W completed before drop_cache: race window missed"

dmsetup message rc 0 drop_cache
log "drop_cache with W's write in flight: cache_blocks $(sis_field rc cache_blocks)"
dd if=/tmp/x of=$S bs=4096 seek=2 count=1 oflag=direct status=none ||
	die "B's write failed"
wait $w || die "W's write failed"
log "status: $(sis_status rc)"

cmp <(dd if=$S bs=8192 count=1 iflag=direct status=none) /tmp/xx ||
	die "logical blocks 0-1 (shared, read through pcache) do not hold X"
cmp <(dd if=$S bs=4096 skip=2 count=1 iflag=direct status=none) /tmp/x ||
	die "logical block 2 does not hold X"
assert_eq "$(sis_field rc mapped)" 3 "mapped blocks"
assert_eq "$(sis_field rc data_blocks)" 1 "data blocks (B must share W's block)"
assert_eq "$(sis_field rc new_data)" 4096 "new data bytes"
assert_eq "$(sis_field rc dedup_hits)" 2 "dedup hits"

# the same after dropping every cache (data now read from the disk)
dmsetup message rc 0 drop_cache
cmp <(dd if=$S bs=12288 count=1 iflag=direct status=none) <(cat /tmp/xx /tmp/x) ||
	die "blocks 0-2 differ after drop_cache"

dmsetup reload dl --table "$(delay_table 0 0 0)" && dmsetup resume dl
sis_remove rc
dmsetup remove dl
check_dmesg
sis_pass
