#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 2G --mem 2048 --timeout 900
#
# The shared data cache and breaking sharing (issue 4):
#  1. K=8 logical copies of 16 MiB (raw ranges of the device), read cold
#     (shared cache and page cache dropped): the backing disk's read counter
#     grows by about one copy, not eight; the copies after the first are
#     served from the cache, by a worker when a bio has more than 16
#     blocks to copy (direct or through the page cache), in map() itself
#     (fast_reads) when it has fewer, as bios of shared and unique blocks
#     are; the unique blocks of a bio of alternate shared and unique blocks
#     are read with one disk request, and reads that cut blocks (device and
#     buffer offsets) return the right bytes.
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
# The copies after the first find every block in the cache.  Their 128 KiB
# bios have 32 blocks each to copy, more than map() copies itself
# (SIS_FAST_MAX_COPIES, 16): a worker copies them, beside the submitter.
f=$(sis_field sc fast_reads)
log "raw: fast_reads $f of $((K * 128)) bios"
[ "$f" -le $(((K - 1) * 128 / 4)) ] ||
	die "$f of the $(((K - 1) * 128)) 128 KiB bios of warm copies served in map(), not by the worker"

# The same warm copies in 64 KiB bios (16 copies each) are copied in map()
# itself, without a worker (fast_reads).
dmsetup message sc 0 reset_stats
for k in 1 2; do
	cmp <(dd if=$S bs=64k skip=$((k * 512)) count=256 iflag=direct status=none) /tmp/c ||
		die "copy $k differs (64 KiB reads)"
done
f=$(sis_field sc fast_reads)
log "raw: 2 warm copies in 64 KiB reads: fast_reads $f of 512 bios"
[ "$f" -ge $((512 * 9 / 10)) ] || die "$f of 512 64 KiB bios of warm copies served in map()"

# Through the page cache, the copies come as a stream's read-ahead (128 KiB
# REQ_RAHEAD bios, which the reader does not wait for): the worker copies
# them too.  The same bytes, still from the cache (no disk reads).
sync
echo 1 >/proc/sys/vm/drop_caches # the page cache only (3 runs pcache's shrinker)
dmsetup message sc 0 reset_stats
r0=$(read_sectors "$D")
for k in $(seq 1 $((K - 1))); do
	cmp <(dd if=$S bs=1M skip=$((k * 32)) count=16 status=none) /tmp/c ||
		die "copy $k differs (read through the page cache)"
done
r1=$(read_sectors "$D")
f=$(sis_field sc fast_reads)
h=$(sis_field sc cache_hits)
log "raw: $((K - 1)) warm copies through the page cache: $((r1 - r0)) sectors from the disk, cache hits $h, fast_reads $f"
[ $((r1 - r0)) -le 2048 ] || die "warm copies read $((r1 - r0)) sectors from the disk"
[ "$h" -ge $(((K - 1) * 4096 * 9 / 10)) ] || die "$h cache hits for $(((K - 1) * 4096)) warm blocks"
[ "$f" -le $(((K - 1) * 128 / 4)) ] ||
	die "$f read-ahead bios of the warm copies ($((K - 1)) x 128) served in map(), not by the worker"

# A mix in every 128 KiB bio: 64 KiB shared with the copies above, then
# 64 KiB of unique data.  Warm, map() serves each bio whole: a copy and a
# read of the unique half into the bio's own pages.
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
log "raw: 32 mixed 128 KiB bios read warm: fast_reads $f"
[ "$f" -ge 30 ] || die "$f of 32 mixed bios served in map()"

# Dedupe-style data: every other 4 KiB block shared (with copy 0 above),
# the others unique.  The unique blocks of each 128 KiB bio are contiguous
# on disk: they are read with one request per bio, straight into the bio's
# pages, whatever shared blocks sit between them (not one per block).
head -c $((1 << 20)) /dev/urandom >/tmp/u2
python3 - /tmp/c /tmp/u2 /tmp/alt <<'PY'
import sys
c, u = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
with open(sys.argv[3], 'wb') as f:
    for i in range(256):
        f.write(c[i * 4096:(i + 1) * 4096] + u[i * 4096:(i + 1) * 4096])
PY
ALT=$((400 * 8)) # in 128 KiB units
dd if=/tmp/alt of=$S bs=128k seek=$ALT oflag=direct status=none
cold
dd if=$S of=/dev/null bs=1M count=16 iflag=direct status=none # the shared blocks, warm
dmsetup message sc 0 reset_stats
i0=$(read_ios "$D")
cmp <(dd if=$S bs=128k skip=$ALT count=16 iflag=direct status=none) /tmp/alt ||
	die "alternate shared/unique blocks read back differ"
i1=$(read_ios "$D")
f=$(sis_field sc fast_reads)
log "raw: 16 bios of alternate shared/unique blocks: $((i1 - i0)) disk reads, fast_reads $f"
[ $((i1 - i0)) -le 20 ] || die "$((i1 - i0)) disk reads for 16 bios (16 unique blocks each)"
[ "$f" -ge 15 ] || die "$f of 16 bios of alternate blocks served in map()"
# Cold, and at byte offsets that cut blocks (512 B into the device and into
# the user's buffer, so blocks straddle pages): the worker's path.
cold
python3 - "$S" /tmp/alt $((ALT * 128 * 1024)) <<'PY' || die "unaligned reads of alternate blocks differ"
import mmap, os, sys
dev, model, base = sys.argv[1], open(sys.argv[2], 'rb').read(), int(sys.argv[3])
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, (1 << 20) + 4096)
for off, ln, mem in ((512, 200 << 10, 0), (4096 + 1024, 120 << 10, 512),
                     (0, 1 << 20, 0), (64 << 10, 96 << 10, 3584)):
    view = memoryview(buf)[mem:mem + ln]
    got = bytes(view[:os.preadv(fd, [view], base + off)])
    if got != model[off:off + ln]:
        sys.exit(f'read of {ln} at {off} (buffer +{mem}) differs')
PY

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
