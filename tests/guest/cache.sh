#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 2G --mem 2048 --timeout 900
#
# The shared data cache and breaking sharing (issue 4):
#  1. K=8 logical copies of 16 MiB (raw ranges of the device), read cold
#     (shared cache and page cache dropped): the backing disk's read counter
#     grows by about one copy, not eight; the copies after the first are
#     served from the cache in map() itself (fast_reads), and so are bios
#     of shared and unique blocks, a run at a time.
#  2. The same with K=8 files on ext4, read cold after a remount.
#  3. Breaking sharing on ext4: after dedup, one copy is overwritten with
#     write(2) and another through mmap + msync; after dropping caches and a
#     remove/create of the device, the other copies still hold the old data
#     and the modified ones exactly the new data.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
S=/dev/mapper/sc
M=/mnt/sc
K=8
sis_load

cold() { # drop every cache between the reader and the disk
	sync
	dmsetup message sc 0 commit
	dmsetup message sc 0 drop_cache
	echo 3 >/proc/sys/vm/drop_caches
}

# ---- 1. raw ranges -------------------------------------------------------
sis_create sc "$D" $((4 << 21))
head -c $((16 << 20)) /dev/urandom >/tmp/c
for k in $(seq 0 $((K - 1))); do
	dd if=/tmp/c of=$S bs=1M seek=$((k * 32)) oflag=direct status=none
done
assert_eq "$(sis_field sc mapped)" $((K * 4096)) "mapped"
assert_eq "$(sis_field sc data_blocks)" 4096 "data blocks of $K copies"
cold
dmsetup message sc 0 reset_stats
r0=$(read_sectors "$D")
for k in $(seq 0 $((K - 1))); do
	cmp <(dd if=$S bs=1M skip=$((k * 32)) count=16 iflag=direct status=none) /tmp/c ||
		die "copy $k differs"
done
r1=$(read_sectors "$D")
mib=$(((r1 - r0) / 2048))
log "raw: $K copies of 16 MiB read cold: $((r1 - r0)) sectors ($mib MiB) from the disk"
log "raw: cache hits $(sis_field sc cache_hits) misses $(sis_field sc cache_misses)"
[ $((r1 - r0)) -ge $((16 * 2048)) ] || die "read less than one copy: cache not dropped?"
[ $((r1 - r0)) -le $((20 * 2048)) ] || die "read $mib MiB for $K copies of 16 MiB"
m=$(sis_field sc cache_misses)
[ "$m" -ge 1 ] && [ "$m" -le 4096 ] || die "$m cache misses (read-ahead runs) for 4096 blocks"
# The copies after the first find every block in the cache: their 128 KiB
# bios are copied from it in map() itself, without a worker (fast_reads).
f=$(sis_field sc fast_reads)
log "raw: fast_reads $f of $((K * 128)) bios"
[ "$f" -ge $(((K - 1) * 128 * 9 / 10)) ] ||
	die "$f of the $(((K - 1) * 128)) bios of warm copies served in map()"

# A mix in every 128 KiB bio: 64 KiB shared with the copies above, then
# 64 KiB of unique data.  Warm, map() serves each bio in two pieces (dm
# core sends the second as a bio of its own): a copy, then a remap.
head -c $((2 << 20)) /dev/urandom >/tmp/u
for i in $(seq 0 31); do
	dd if=/tmp/c bs=64k skip=$i count=1 status=none
	dd if=/tmp/u bs=64k skip=$i count=1 status=none
done >/tmp/mix
dd if=/tmp/mix of=$S bs=128k seek=$((300 * 8)) oflag=direct status=none
cmp <(dd if=$S bs=128k skip=$((300 * 8)) count=32 iflag=direct status=none) /tmp/mix ||
	die "mixed bios read back differ (first read)"
dmsetup message sc 0 reset_stats
cmp <(dd if=$S bs=128k skip=$((300 * 8)) count=32 iflag=direct status=none) /tmp/mix ||
	die "mixed bios read back differ (warm)"
f=$(sis_field sc fast_reads)
log "raw: 32 mixed 128 KiB bios read warm: fast_reads $f (2 pieces each)"
[ "$f" -ge 60 ] || die "$f pieces of 32 mixed bios served in map(), want 64"

# ---- 2. files on ext4 ------------------------------------------------------
sis_remove sc
dd if=/dev/zero of="$D" bs=1M count=8 oflag=direct status=none
sis_create sc "$D" $((4 << 21))
mkfs.ext4 -q -F -E nodiscard $S </dev/null
mkdir -p $M
mount $S $M
head -c $((32 << 20)) /dev/urandom >$M/f0
for k in $(seq 1 $((K - 1))); do cp --reflink=never $M/f0 $M/f$k; done
sync
umount $M
cold
mount $S $M
dmsetup message sc 0 reset_stats
r0=$(read_sectors "$D")
sum0=$(md5sum <$M/f0)
for k in $(seq 1 $((K - 1))); do
	assert_eq "$(md5sum <$M/f$k)" "$sum0" "file f$k"
done
r1=$(read_sectors "$D")
mib=$(((r1 - r0) / 2048))
log "ext4: $K files of 32 MiB read cold: $mib MiB from the disk"
[ $((r1 - r0)) -le $((40 * 2048)) ] || die "read $mib MiB for $K files of 32 MiB"

# ---- 3. breaking sharing ---------------------------------------------------
cp $M/f0 /tmp/f0
cp /tmp/f0 /tmp/f1
cp /tmp/f0 /tmp/f2
head -c 65536 /dev/urandom >/tmp/patch
# write(2) into f1 at 1 MiB + 512 (unaligned), and the same into the model
dd if=/tmp/patch of=$M/f1 bs=512 seek=2049 conv=notrunc status=none
dd if=/tmp/patch of=/tmp/f1 bs=512 seek=2049 conv=notrunc status=none
# mmap store into f2 at 5 MiB + 100, msync
python3 - $M/f2 /tmp/f2 <<'PY'
import mmap, sys
for path in sys.argv[1:]:
    with open(path, "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        m[5 * 2**20 + 100:5 * 2**20 + 100 + 8192] = bytes(range(256)) * 32
        m.flush()
        m.close()
PY
sync
umount $M
cold
sis_remove sc
sis_create sc "$D" $((4 << 21))
mount $S $M
for k in 0 3 7; do cmp $M/f$k /tmp/f0 || die "shared copy f$k changed"; done
cmp $M/f1 /tmp/f1 || die "f1 (write) does not hold the new data"
cmp $M/f2 /tmp/f2 || die "f2 (mmap) does not hold the new data"
log "breaking sharing: ok ($(dmsetup status sc | cut -d' ' -f4-))"
umount $M
e2fsck -fn $S >/tmp/fsck.log 2>&1 || { cat /tmp/fsck.log; die "e2fsck"; }
sis_remove sc
check_dmesg
sis_pass
