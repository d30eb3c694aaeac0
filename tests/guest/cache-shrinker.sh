#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --mem 2048 --timeout 600
#
# The shared data cache gives memory back under pressure, never its held
# entries (issue: error paths, item B).  dm-delay under dm-sis holds data
# writes when asked (commit_interval 3600: no commit meanwhile).
#  1. Two copies of 8 MiB (2048 shared blocks) are read cold with O_DIRECT:
#     the cache (status field cache_blocks) fills with about 2048 blocks.
#  2. A 128 KiB O_DIRECT write of 32 new blocks is held by dm-delay: its 32
#     entries are held (WRITING).  `echo 2 >/proc/sys/vm/drop_caches` runs
#     every shrinker: cache_blocks falls to the 32 held entries; the
#     drop_cache message in the same window keeps them too.
#  3. After the write lands, every block reads back right (the shared ones
#     from the disk again).
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
S=/dev/mapper/shr
WRITE_MS=5000
sis_load
modprobe dm-delay || die "modprobe dm-delay"

SZ=$(blockdev --getsz "$D")
delay_table() { # read, write and flush delays in ms
	echo "0 $SZ delay $D 0 $1 $D 0 $2 $D 0 $3"
}
dmsetup create shd --table "$(delay_table 0 0 0)" || die "dmsetup create shd"
dmsetup mknodes shd 2>/dev/null || true
sis_create shr /dev/mapper/shd $((1 << 21)) commit_interval 3600
delayed_writes() { dmsetup status shd | awk '{print $5}'; }
blocks() { sis_field shr cache_blocks; }

# ---- 1. fill the cache with shared blocks ---------------------------------
head -c $((8 << 20)) /dev/urandom >/tmp/c
dd if=/tmp/c of=$S bs=1M oflag=direct status=none
dd if=/tmp/c of=$S bs=1M seek=8 oflag=direct status=none
assert_eq "$(sis_field shr data_blocks)" 2048 "data blocks of 2 copies"
dmsetup message shr 0 drop_cache
assert_eq "$(blocks)" 0 "cache blocks after drop_cache, nothing held"
cmp <(dd if=$S bs=1M count=16 iflag=direct status=none) <(cat /tmp/c /tmp/c) ||
	die "copies differ"
full=$(blocks)
log "cache filled by reading 2 copies: cache_blocks $full"
[ "$full" -ge 2048 ] || die "only $full blocks cached after reading 2048 shared blocks"

# ---- 2. memory pressure with 32 entries held -------------------------------
head -c $((128 << 10)) /dev/urandom >/tmp/n
dmsetup reload shd --table "$(delay_table 0 "$WRITE_MS" 0)" || die "reload shd"
dmsetup resume shd || die "resume shd"
dd if=/tmp/n of=$S bs=128K seek=$((32 << 3)) count=1 oflag=direct status=none &
w=$!
for _ in $(seq 100); do
	[ "$(delayed_writes)" -ge 1 ] && break
	sleep 0.1
done
[ "$(delayed_writes)" -ge 1 ] || die "the write never reached dm-delay"
held=$(blocks)
log "32 new blocks in flight: cache_blocks $held"
[ "$held" -ge $((full + 32)) ] || die "expected $full + 32 blocks, got $held"

echo 2 >/proc/sys/vm/drop_caches
shrunk=$(blocks)
log "after echo 2 >/proc/sys/vm/drop_caches: cache_blocks $shrunk"
kill -0 $w 2>/dev/null || die "the write ended before the check: window missed"
[ "$shrunk" -ge 32 ] || die "the shrinker freed held entries ($shrunk < 32 left)"
[ "$shrunk" -le 40 ] || die "the shrinker left $shrunk blocks (32 held, $full unreferenced before)"

dmsetup message shr 0 drop_cache
after_msg=$(blocks)
log "after drop_cache with the write in flight: cache_blocks $after_msg"
[ "$after_msg" -ge 32 ] || die "drop_cache freed held entries ($after_msg < 32 left)"
wait $w || die "the held write failed"

# ---- 3. everything reads back ----------------------------------------------
dmsetup reload shd --table "$(delay_table 0 0 0)" && dmsetup resume shd
cmp <(dd if=$S bs=1M count=16 iflag=direct status=none) <(cat /tmp/c /tmp/c) ||
	die "copies differ after the shrinker ran"
cmp <(dd if=$S bs=128K skip=$((32 << 3)) count=1 iflag=direct status=none) /tmp/n ||
	die "the written blocks differ"
log "status: $(sis_status shr)"

sis_remove shr
dmsetup remove shd
check_dmesg
sis_pass "cache_blocks $full -> $shrunk under drop_caches with 32 held"
