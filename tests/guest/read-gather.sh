#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --mem 1024 --timeout 600
#
# A read of unique data written in a row is one disk request per bio, also
# where a refcount block sits between its blocks on disk (the format puts
# one after every group of data blocks): the gather bio reads through it
# into the pool's sink page instead of splitting (read.c,
# sis_read_gather()).
#  1. 8 MiB of unique data written in 128 KiB bios is read back byte for
#     byte, with aligned 128 KiB reads and with reads 512 bytes off the
#     block grid (partial first and last blocks next to a hole).
#  2. The second aligned pass (map pages cached) costs the backing disk no
#     more read requests than it has bios, plus one for the run's start
#     (the first write also allocated map pages between its blocks); split
#     at each refcount block it would cost about eight more.
#  3. A bio whose unique blocks are two apart on disk with a block of
#     another kind between them in the bio (discarded: zeros; a duplicate:
#     shared, from pcache) where the disk has the old block: the gather
#     reads the old block into the sink, never into the bio (a remap of
#     the whole bio would), in map() and, reopened with the caches
#     dropped, in the worker (where the discarded block's old data is
#     gone: the reopen passed its discard down; the duplicate case
#     fails there on the old code).
#  4. The data is still right after the sink page took the refcount
#     blocks: `sis check` of the device is clean (nothing was written
#     through the sink).
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1)
S=/dev/mapper/g
MB=8
sis_load
sis_create g "$D" $((512 * 2048)) commit_interval 3600

head -c $((MB << 20)) /dev/urandom >/tmp/data
dd if=/tmp/data of=$S bs=128k oflag=direct status=none
dmsetup message g 0 commit
want=$(sha256sum </tmp/data)

reads() { awk '{print $1}' "/sys/block/$(basename "$D")/stat"; }

got=$(dd if=$S bs=128k count=$((MB * 8)) iflag=direct status=none | sha256sum)
[ "$got" = "$want" ] || die "aligned read back differs"
r0=$(reads)
got=$(dd if=$S bs=128k count=$((MB * 8)) iflag=direct status=none | sha256sum)
r1=$(reads)
[ "$got" = "$want" ] || die "second aligned read back differs"
nbios=$((MB * 8))
nreq=$((r1 - r0))
log "$nbios bios of 128 KiB: $nreq read requests on the backing disk" \
	"(max_sectors_kb $(cat "/sys/block/$(basename "$D")/queue/max_sectors_kb"))"
[ "$nreq" -le $((nbios + 1)) ] ||
	die "$nreq disk read requests for $nbios bios: runs split at refcount blocks"

# off the block grid: 64 KiB reads from byte 512 (partial blocks at both ends)
python3 - "$S" "$MB" <<'EOF'
import mmap, os, sys
dev, mb = sys.argv[1], int(sys.argv[2])
data = open("/tmp/data", "rb").read()
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
n = 64 << 10
buf = mmap.mmap(-1, n)
off = 512
while off + n <= mb << 20:
    got = os.preadv(fd, [buf], off)
    if got != n or buf[:n] != data[off:off + n]:
        sys.exit("read at %d differs" % off)
    off += n
os.close(fd)
EOF
log "unaligned 64 KiB reads: same data"

# a hole in the bio where its blocks are one apart on disk
blkdiscard -o $((1 << 12)) -l 4096 $S
dd if=/tmp/data of=$S bs=4k skip=100 seek=5 count=1 oflag=direct conv=notrunc status=none
# hole_read FIRST WHAT WHERE: blocks FIRST..FIRST+2 in one bio, the middle
# one zeros (WHAT "discarded") or block 100's data ("duplicate")
hole_read() {
	python3 - "$S" "$@" <<'EOF'
import mmap, os, sys
dev, first, what, where = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
B = 4096
data = open("/tmp/data", "rb").read()
mid = bytes(B) if what == "discarded" else data[100 * B:101 * B]
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 3 * B)
os.preadv(fd, [buf], first * B)
want = data[first * B:(first + 1) * B] + mid + data[(first + 2) * B:(first + 3) * B]
for i in range(3):
    if buf[i * B:(i + 1) * B] != want[i * B:(i + 1) * B]:
        old = buf[i * B:(i + 1) * B] == data[(first + i) * B:(first + i + 1) * B]
        sys.exit("read of blocks %d-%d %s: block %d is not %s%s" % (
            first, first + 2, where, first + i,
            ("zeros" if what == "discarded" else "block 100's data") if i == 1 else "its data",
            ": it is the old data on disk" if old else ""))
EOF
}
for where in "in map()" "in the worker"; do
	for c in "0 discarded" "4 duplicate"; do
		# reopened (checkpointed) and dropped: no map page nor data block cached
		if [ "$where" != "in map()" ]; then
			sis_remove g
			sis_create g "$D" $((512 * 2048)) commit_interval 3600
			dmsetup message g 0 drop_cache
		fi
		fast=$(sis_field g fast_reads)
		hole_read $c "$where" || die "wrong data"
		n=$(($(sis_field g fast_reads) - fast))
		[ "$n" = "$([ "$where" = "in map()" ] && echo 1 || echo 0)" ] ||
			die "read of the ${c#* } block $where: $n reads served in map()"
	done
done
log "a discarded and a shared block between unique ones: right data in map() and the worker"

sis_remove g
sis check "$D" >/tmp/check.out 2>&1 || { cat /tmp/check.out; die "sis check not clean"; }
check_dmesg
sis_pass "$nbios bios, $nreq disk read requests; data read back byte for byte"
