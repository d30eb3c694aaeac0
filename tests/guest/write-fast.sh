#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --mem 1024 --timeout 600
#
# Duplicate writes done in map(), without a worker (issue 11: a write of
# data already stored costs neither a work-queue hop nor a copy):
#  1. 8 MiB of new data written (128 KiB O_DIRECT bios) goes to the worker:
#     fast_writes stays 0.
#  2. The same 8 MiB written elsewhere: its 64 bios are done in map()
#     (at least 60: one whose logical range is busy, or whose metadata page
#     was evicted, goes to the worker), every block shared (dedup_hits 2048,
#     new_data 0), no new data block; it reads back byte for byte.
#  3. 1 MiB of zeros: 8 bios in map() (at least 7), nothing mapped there.
#  4. With the shared cache dropped (candidates not cached) and in bios
#     that mix duplicates with new data, writes go to the worker and still
#     share what they can.
#  5. Overwriting fast-written blocks with new data and again with the old
#     data, then a reload: every region reads back, `sis check` is clean.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1)
S=/dev/mapper/s
sis_load
sis_create s "$D" $((1024 * 2048))
wr() { dd if="$1" of=$S bs=128k seek=$(($2 * 8)) oflag=direct status=none; }
rd_eq() {
	cmp <(dd if=$S bs=128k skip=$(($2 * 8)) count=$(($(stat -c %s "$1") / 131072)) \
		iflag=direct status=none) "$1" || die "$3: data at MiB $2 differs"
}

# ---- 1. new data: the worker ----
dd if=/dev/urandom of=/tmp/a bs=1M count=8 status=none
wr /tmp/a 0
assert_eq "$(sis_field s fast_writes)" 0 "new data written in map()"
db=$(sis_field s data_blocks)

# ---- 2. the same data again: map() ----
dmsetup message s 0 reset_stats
wr /tmp/a 16
log "duplicate 8 MiB: fast_writes $(sis_field s fast_writes), dedup_hits $(sis_field s dedup_hits)"
fw=$(sis_field s fast_writes)
[ "$fw" -ge 60 ] || die "only $fw of 64 duplicate bios done in map()"
assert_eq "$(sis_field s dedup_hits)" 2048 "duplicate blocks shared"
assert_eq "$(sis_field s new_data)" 0 "new data for duplicates"
assert_eq "$(sis_field s data_blocks)" "$db" "data blocks after duplicates"
rd_eq /tmp/a 16 "fast-written duplicate"

# ---- 3. zeros ----
dd if=/dev/zero of=/tmp/z bs=1M count=1 status=none
wr /tmp/z 32
[ $(($(sis_field s fast_writes) - fw)) -ge 7 ] ||
	die "only $(($(sis_field s fast_writes) - fw)) of 8 zero bios done in map()"
fw=$(sis_field s fast_writes)
assert_eq "$(sis_field s zero_blocks)" 256 "zero blocks"
rd_eq /tmp/z 32 "zeros"

# ---- 4. not cached, or mixed with new data: the worker ----
dmsetup message s 0 drop_cache
wr /tmp/a 48
assert_eq "$(sis_field s fast_writes)" "$fw" "uncached duplicates done in map()"
assert_eq "$(sis_field s data_blocks)" "$db" "data blocks after uncached duplicates"
# each 128 KiB: 64 KiB of /tmp/a, then 64 KiB new
python3 - <<'EOF'
import os
a = open("/tmp/a", "rb").read()
with open("/tmp/m", "wb") as f:
    for i in range(0, len(a), 131072):
        f.write(a[i:i + 65536] + os.urandom(65536))
EOF
dmsetup message s 0 reset_stats
wr /tmp/m 64
assert_eq "$(sis_field s fast_writes)" 0 "mixed bios done in map()"
assert_eq "$(sis_field s dedup_hits)" 1024 "shared halves of the mixed bios"
rd_eq /tmp/m 64 "mixed"

# ---- 5. overwrite fast-written blocks, then back; reload ----
dd if=/dev/urandom of=/tmp/b bs=1M count=8 status=none
wr /tmp/b 16
rd_eq /tmp/b 16 "overwrite of fast-written blocks"
dmsetup message s 0 reset_stats
wr /tmp/a 16
fw=$(sis_field s fast_writes)
[ "$fw" -ge 60 ] || die "only $fw of 64 bios rewriting the old data done in map()"
for r in 0 16 48; do rd_eq /tmp/a $r "before reload"; done
sis_remove s
sis_create s "$D" $((1024 * 2048))
for r in 0 16 48; do rd_eq /tmp/a $r "after reload"; done
rd_eq /tmp/z 32 "zeros after reload"
rd_eq /tmp/m 64 "mixed after reload"
sis_remove s
sis check "$D" >/tmp/check.log 2>&1 || { cat /tmp/check.log; die "sis check"; }
