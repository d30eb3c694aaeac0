#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --disk 1G --mem 1024 --timeout 600
#
# The write workers start a group of queued write bios at once (their data
# writes under one plug) and finish them together (write.c,
# sis_write_worker()).  Bios of one group must still be ordered by their
# logical ranges, and a FUA among them must still be durable.
#  1. Lost updates: 8 threads write, over and over, each its own 512-byte
#     sector of the same 64 blocks (so every bio is a read-modify-write of
#     blocks the other threads are writing too, all queued at once).  Each
#     sector must end as its thread's last write.
#  2. Torn bios: 8 threads write whole 128 KiB bios over the same 256 KiB,
#     each bio stamped in every 4 KiB block with its writer and sequence
#     number.  Every 128 KiB-aligned bio's blocks must end from one bio.
#  3. FUA: O_DSYNC writes (REQ_FUA) of new data from 4 threads, with no
#     timer commit; a copy of the idle disk taken then (what a power cut
#     would leave) holds all of it.
#  4. Everything the groups stored is consistent: `sis check` is clean.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1)
D2=$(disk 2)
S=/dev/mapper/s
SECTORS=$((2048 * 2048))
sis_load
sis_create s "$D" $SECTORS commit_interval 3600

cat >/tmp/wg.py <<'EOF'
import mmap, os, sys, threading

dev, mode = sys.argv[1], sys.argv[2]
B = 4096
errors = []

def buf(n):
    return mmap.mmap(-1, n)          # page-aligned, for O_DIRECT

def sectors():
    # thread t owns sector t of each of 64 blocks; writes 300 rounds
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    last = {}
    def run(t):
        b = buf(512)
        for rnd in range(300):
            blk = rnd % 64
            b.seek(0)
            b.write((b"%d:%d:%d;" % (t, rnd, blk)).ljust(512, b"."))
            os.pwrite(fd, b, blk * B + t * 512)
            last[(t, blk)] = rnd
    ts = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    [x.start() for x in ts]
    [x.join() for x in ts]
    r = buf(64 * B)
    os.preadv(fd, [r], 0)
    for blk in range(64):
        for t in range(8):
            want = (b"%d:%d:%d;" % (t, last[(t, blk)], blk)).ljust(512, b".")
            got = r[blk * B + t * 512:blk * B + (t + 1) * 512]
            if got != want:
                errors.append("block %d sector %d: %r, want %r" % (blk, t, got[:24], want[:24]))
    os.close(fd)

def bios():
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    base = 8 << 20
    def run(t):
        b = buf(32 * B)
        for seq in range(200):
            off = (seq % 2) * 32 * B
            for i in range(32):
                b.seek(i * B)
                b.write((b"bio %d/%d blk %d;" % (t, seq, i)).ljust(B, bytes([65 + t])))
            os.pwrite(fd, b, base + off)
    ts = [threading.Thread(target=run, args=(t,)) for t in range(8)]
    [x.start() for x in ts]
    [x.join() for x in ts]
    r = buf(64 * B)
    os.preadv(fd, [r], base)
    for half in range(2):
        ids = set()
        for i in range(32):
            blk = r[(half * 32 + i) * B:(half * 32 + i + 1) * B]
            tag = blk.split(b";")[0]
            who = tag.split(b" blk ")[0]
            if tag != who + b" blk %d" % i:
                errors.append("half %d block %d: %r" % (half, i, tag))
            ids.add(who)
        if len(ids) != 1:
            errors.append("half %d torn: blocks from %d bios %r" % (half, len(ids), sorted(ids)[:4]))
    os.close(fd)

def fua(check):
    base = 16 << 20
    def data(t, i):
        return (b"fua %d %d;" % (t, i)).ljust(B, bytes([97 + t]))
    if check:
        fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
        r = buf(B)
        for t in range(4):
            for i in range(64):
                os.preadv(fd, [r], base + (t * 64 + i) * B)
                if r[:] != data(t, i):
                    errors.append("fua thread %d block %d: %r" % (t, i, r[:16]))
        os.close(fd)
        return
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT | os.O_DSYNC)
    def run(t):
        b = buf(B)
        for i in range(64):
            b.seek(0)
            b.write(data(t, i))
            os.pwrite(fd, b, base + (t * 64 + i) * B)
    ts = [threading.Thread(target=run, args=(t,)) for t in range(4)]
    [x.start() for x in ts]
    [x.join() for x in ts]
    os.close(fd)

{"sectors": sectors, "bios": bios, "fua": lambda: fua(False),
 "fua-check": lambda: fua(True)}[mode]()
for e in errors[:20]:
    print(e)
sys.exit(1 if errors else 0)
EOF

# ---- 1. read-modify-write of shared blocks from 8 threads ----
python3 /tmp/wg.py $S sectors || die "lost updates among concurrent sector writes"
log "8 threads x 300 sector writes into 64 shared blocks: every sector is its last write"

# ---- 2. whole bios over the same range ----
python3 /tmp/wg.py $S bios || die "torn or mixed bios"
log "8 threads x 200 bios over 256 KiB: each 128 KiB holds one bio"

# ---- 3. FUA writes are durable when acknowledged ----
# no timer commit (commit_interval 3600): only the FUAs commit; the disk is
# then copied while idle, as a power cut would leave it, and the copy
# opened as a device of its own
c0=$(sis_field s commits)
python3 /tmp/wg.py $S fua || die "FUA writes failed"
c1=$(sis_field s commits)
[ "$c1" -gt "$c0" ] || die "FUA writes made no commit ($c0 -> $c1)"
dd if="$D" of="$D2" bs=1M iflag=direct oflag=direct status=none
sis_create s2 "$D2" $SECTORS
python3 /tmp/wg.py /dev/mapper/s2 fua-check || die "FUA-acknowledged data not on disk"
sis_remove s2
log "FUA writes from 4 threads: $((c1 - c0)) commits, all on the disk when acknowledged"

sis_remove s
sis check "$D" >/tmp/check.log 2>&1 || { cat /tmp/check.log; die "sis check"; }
check_dmesg
sis_pass "grouped writes: no lost update, no torn bio, FUA durable, check clean"
