#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --mem 1024 --timeout 600
#
# Writers decide under per-fingerprint hash locks, not one store lock
# (issue 11, item 1): writers of different data proceed in parallel, and
# identical data written at the same moment is still stored once.
#  1. 8 writers write the same 8 MiB at once (O_DIRECT, 128 KiB bios) to 8
#     regions: exactly one copy is stored (data_blocks 2048) and every
#     region reads back byte for byte.
#  2. 4 writers of different unique data at once, then 4 writers that mix
#     duplicates of it with new data: everything reads back, and the space
#     used is what the distinct data needs.
#  3. `sis check` is clean.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1)
S=/dev/mapper/s
sis_load
sis_create s "$D" $((2048 * 2048))

# ---- 1. the same data from 8 writers at once ----
dd if=/dev/urandom of=/tmp/same bs=1M count=8 status=none
for k in $(seq 0 7); do
	dd if=/tmp/same of=$S bs=128k seek=$((k * 128)) oflag=direct status=none &
done
wait
dmsetup message s 0 commit
db=$(sis_field s data_blocks)
log "8 writers of the same 8 MiB: data_blocks $db, dedup_hits $(sis_field s dedup_hits)"
[ "$db" = 2048 ] || die "identical data written at once stored $db blocks, not 2048"
for k in $(seq 0 7); do
	cmp <(dd if=$S bs=128k skip=$((k * 128)) count=64 iflag=direct status=none) /tmp/same ||
		die "region $k"
done

# ---- 2. different data in parallel, then duplicates mixed with new ----
for k in 0 1 2 3; do
	dd if=/dev/urandom of=/tmp/u$k bs=1M count=16 status=none
done
for k in 0 1 2 3; do
	dd if=/tmp/u$k of=$S bs=128k seek=$((1024 + k * 256)) oflag=direct status=none &
done
wait
for k in 0 1 2 3; do   # the same data again elsewhere, plus 8 MiB of new each
	{ cat /tmp/u$k; head -c $((8 << 20)) /dev/urandom; } >/tmp/m$k
	dd if=/tmp/m$k of=$S bs=128k seek=$((3072 + k * 256)) oflag=direct status=none &
done
wait
dmsetup message s 0 commit
db=$(sis_field s data_blocks)
log "after the parallel unique and mixed writers: data_blocks $db"
[ "$db" = $((2048 + 4 * 4096 + 4 * 2048)) ] || die "data_blocks $db, expected $((2048 + 4 * 4096 + 4 * 2048))"
for k in 0 1 2 3; do
	cmp <(dd if=$S bs=128k skip=$((1024 + k * 256)) count=128 iflag=direct status=none) /tmp/u$k ||
		die "unique region $k"
	cmp <(dd if=$S bs=128k skip=$((3072 + k * 256)) count=192 iflag=direct status=none) /tmp/m$k ||
		die "mixed region $k"
done
sis_remove s
sis check "$D" >/tmp/check.log 2>&1 || { cat /tmp/check.log; die "sis check"; }
check_dmesg
sis_pass "parallel writers: identical data stored once, everything reads back"
