#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 64M --mem 1024 --timeout 600
#
# The read path (issue 11, items 3 and 4): reads of unique blocks whose
# mapping is cached are remapped in map() with no worker (counted in the
# fast_reads status field), and reuse protection needs no pin and no lock:
# a read counts itself in the core's read epoch, and a commit that frees
# blocks waits for the reads begun before it.
#  1. 16 MiB of unique data read back with O_DIRECT (128 KiB): byte for
#     byte, and nearly every bio took the fast path.
#  2. A race on a small device that recycles its blocks quickly: a writer
#     rewrites 256 blocks, each generation with new unique contents that
#     name the block and the generation; readers read random blocks with
#     O_DIRECT through a disk whose reads take 100 ms (dm-delay), so each
#     is in flight while its block is freed and reallocated; a committer
#     commits every 20 ms (so freed blocks are reused at once); a
#     discarder discards ranges.  Every block read must be a
#     whole version of that very block (or zeros after a discard), never
#     another block's data.  Then everything is checked once more.
#     Negative control (run by hand when this test was written): with the
#     ticket released in map() instead of at completion, readers got other
#     blocks' data.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1)
S=/dev/mapper/s
sis_load
modprobe dm-delay
# reads of the disk take 100 ms (writes and flushes none), so a read is
# still in flight while its block is freed, committed and could be reused
SZ=$(blockdev --getsz "$D")
dmsetup create dl --table "0 $SZ delay $D 0 0 $D 0 0 $D 0 0"
sis_create s /dev/mapper/dl $((256 * 2048))
slow_reads() {
	dmsetup suspend --nolockfs --noflush dl
	dmsetup load dl --table "0 $SZ delay $D 0 $1 $D 0 0 $D 0 0"
	dmsetup resume dl
}

# ---- 1. unique data through the fast path ----
dd if=/dev/urandom of=/tmp/u bs=1M count=16 status=none
dd if=/tmp/u of=$S bs=1M oflag=direct status=none
dmsetup message s 0 commit
dmsetup message s 0 reset_stats
cmp <(dd if=$S bs=128k count=128 iflag=direct status=none) /tmp/u || die "unique data"
fr=$(sis_field s fast_reads)
log "16 MiB in 128 KiB reads: fast_reads $fr of 128 bios"
# a 128 KiB read that crosses a 1 MiB group (its refcount page sits
# between the data blocks) is two runs: the worker splits it
[ "$fr" -ge 100 ] || die "only $fr of 128 reads were remapped in map()"
dd if=/dev/zero of=$S bs=1M count=16 oflag=direct status=none
dmsetup message s 0 commit

# ---- 2. reads racing rewrites, commits and discards ----
# leave about 100 free data blocks beyond the writer's 256 and the map-page
# reserve, so a block freed by a rewrite is reallocated within a commit or two
ut=$(sis_field s used_total)
free=$((${ut#*/} - ${ut%/*}))
fill=$(((free - 64 - 256 - 100) / 256))
dd if=/dev/urandom of=$S bs=1M seek=64 count=$fill oflag=direct status=none
dmsetup message s 0 commit
log "filled $fill MiB: $(sis_field s used_total) blocks used"
slow_reads 100
python3 - "$S" <<'PY'
import mmap, os, random, struct, subprocess, sys, threading, time
dev = sys.argv[1]
N, BS, SECS = 256, 4096, 20
stop = time.time() + SECS
errors = []
gen = [0] * N

def content(i, g):
    # unique per (block, generation): header then a filler derived from both
    head = struct.pack("<QQ", i, g)
    body = (struct.pack("<Q", (i * 2654435761 + g * 40503) & (2**64 - 1)) * (BS // 8))
    return head + body[16:]

def writer():
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    g = 0
    while time.time() < stop:
        g += 1
        for i in random.sample(range(N), N):
            buf.seek(0); buf.write(content(i, g))
            os.pwrite(fd, buf, i * BS)
            gen[i] = g
    os.close(fd)

def reader(seed):
    rnd = random.Random(seed)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    n = 0
    while time.time() < stop:
        i = rnd.randrange(N)
        os.preadv(fd, [buf], i * BS)
        data = bytes(buf)
        n += 1
        if data == bytes(BS):
            continue                      # unwritten or discarded
        bi, bg = struct.unpack("<QQ", data[:16])
        if bi != i or data != content(i, bg):
            errors.append(f"block {i}: read block {bi} gen {bg}")
            return
    print(f"reader {seed}: {n} reads")

def committer():
    while time.time() < stop:
        subprocess.run(["dmsetup", "message", "s", "0", "commit"], check=True)
        time.sleep(0.02)

def discarder():
    fd = os.open(dev, os.O_RDWR)
    import fcntl
    BLKDISCARD = 0x1277
    while time.time() < stop:
        i = random.randrange(N - 8)
        fcntl.ioctl(fd, BLKDISCARD, struct.pack("QQ", i * BS, 8 * BS))
        time.sleep(0.05)
    os.close(fd)

ts = [threading.Thread(target=writer), threading.Thread(target=committer),
      threading.Thread(target=discarder)] + \
     [threading.Thread(target=reader, args=(s,)) for s in range(3)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    print("\n".join(errors[:10])); sys.exit(1)
# the final state: each block its last generation or zeros (discarded)
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, BS)
for i in range(N):
    os.preadv(fd, [buf], i * BS)
    d = bytes(buf)
    if d != bytes(BS) and d != content(i, gen[i]):
        print(f"final: block {i} is not generation {gen[i]}"); sys.exit(1)
print("race: no read returned another block's data")
PY
[ $? = 0 ] || die "a read returned data that is not a version of its block"
log "$(sis_status s)"
[ "$(sis_field s mode)" = write ] || die "mode $(sis_field s mode)"
sis_remove s
dmsetup remove dl
sis check "$D" >/tmp/check.log 2>&1 || { cat /tmp/check.log; die "sis check"; }
check_dmesg
sis_pass "unique reads remapped in map(); reads racing reuse see only their block"
