#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --mem 1024 --timeout 600
#
# Writes progress on the shared cache's reserves alone (issue 11, the
# design rule "every allocation on the I/O path has a reserve"): with the
# module parameter test_reserve_only set, pcache takes nothing from the
# page allocator, as when memory is exhausted.  16 writers of 128 KiB
# O_DIRECT bios (16 batches of 32 blocks at once, more than the reserves
# hold for: 260 entries) and 2 readers run at once.  Expected: every writer
# and reader finishes within the time limit, every region reads back byte
# for byte (still on the reserves alone), the duplicates were shared, and
# `sis check` is clean.
#
# Checked on dcd79a5 with only the test_reserve_only hook added (before
# write batches drew on the reserves under tickets): the writers hung, each
# batch holding part of the reserve and waiting for more ("FAIL: writers
# still running after 120 s (10 of 18 on the reserves alone)").
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1)
S=/dev/mapper/s
P=/sys/module/dm_sis/parameters/test_reserve_only
sis_load
sis_create s "$D" $((1024 * 2048))

# data read back during the writes: 8 MiB, written with the page allocator
dd if=/dev/urandom of=/tmp/r bs=1M count=8 status=none
dd if=/tmp/r of=$S bs=1M seek=900 oflag=direct status=none
# 16 regions of 4 MiB: 3 MiB unique each, then 1 MiB shared by all
dd if=/dev/urandom of=/tmp/shared bs=1M count=1 status=none
for k in $(seq 0 15); do
	{ head -c $((3 << 20)) /dev/urandom; cat /tmp/shared; } >/tmp/w$k
done
dmsetup message s 0 drop_cache

echo 1 >$P
trap 'echo 0 >$P 2>/dev/null || true' EXIT
pids=()
for k in $(seq 0 15); do
	dd if=/tmp/w$k of=$S bs=128k seek=$((k * 32)) oflag=direct status=none &
	pids+=($!)
done
for k in 0 1; do
	dd if=$S of=/tmp/rb$k bs=128k skip=$((900 * 8)) count=64 iflag=direct status=none &
	pids+=($!)
done
for _ in $(seq 120); do
	running=0
	for p in "${pids[@]}"; do
		kill -0 "$p" 2>/dev/null && running=$((running + 1))
	done
	[ $running = 0 ] && break
	sleep 1
done
[ $running = 0 ] || die "writers still running after 120 s ($running of ${#pids[@]} on the reserves alone)"
for p in "${pids[@]}"; do
	wait "$p" || die "an I/O on the reserves alone failed"
done
log "16 writers and 2 readers finished on pcache's reserves alone"

for k in 0 1; do
	cmp /tmp/rb$k /tmp/r || die "reader $k read wrong data"
done
dmsetup message s 0 drop_cache
for k in $(seq 0 15); do
	cmp <(dd if=$S bs=128k skip=$((k * 32)) count=32 iflag=direct status=none) /tmp/w$k ||
		die "region $k does not read back"
done
echo 0 >$P
dmsetup message s 0 commit
db=$(sis_field s data_blocks)
want=$((2048 + 16 * 768 + 256))
log "data_blocks $db (8 MiB read data, 16 x 3 MiB unique, 1 MiB shared)"
[ "$db" = $want ] || die "data_blocks $db, expected $want: the shared MiB was not stored once"
[ "$(sis_field s mode)" = write ] || die "mode $(sis_field s mode) on the reserves alone"
sis_remove s
sis check "$D" >/tmp/check.log 2>&1 || { cat /tmp/check.log; die "sis check"; }
