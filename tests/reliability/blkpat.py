#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""blkpat.py: write and verify seeded 4 KiB block patterns on a block device
with O_DIRECT (dm-sis reliability tests).

  blkpat.py write  DEV START COUNT SEED [--dup] [--chunk N] [--until-error]
  blkpat.py verify DEV START COUNT SEED [--dup] [--zero] [--quiet] [--errors-ok]

Block B of a pattern is 4 KiB derived from (SEED, B); with --dup every block
is the same (SEED, 0) block, so the data dedupes.  write writes CHUNK blocks
per request (default 64); --until-error stops at the first failing request
and prints "written K errno E" (K blocks in requests that completed), exit 0;
without it a failing request exits 1 with the errno.  verify exits 1 and
lists the first mismatching blocks (with --zero the blocks must be zeros);
with --errors-ok a read error is counted ("errors N") and the next block is
read (one block per request then): only wrong data fails.
"""
import argparse
import errno
import mmap
import os
import random
import sys

BS = 4096


def block(seed, b, dup):
    r = random.Random("blk:%d:%d" % (seed, 0 if dup else b))
    return r.randbytes(BS)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["write", "verify"])
    ap.add_argument("dev")
    ap.add_argument("start", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--dup", action="store_true")
    ap.add_argument("--zero", action="store_true")
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--until-error", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--errors-ok", action="store_true")
    a = ap.parse_args()
    fd = os.open(a.dev, (os.O_RDWR if a.cmd == "write" else os.O_RDONLY) | os.O_DIRECT)
    buf = mmap.mmap(-1, a.chunk * BS)
    if a.cmd == "write":
        done = 0
        while done < a.count:
            n = min(a.chunk, a.count - done)
            buf.seek(0)
            for i in range(n):
                buf.write(block(a.seed, a.start + done + i, a.dup))
            try:
                w = os.pwritev(fd, [memoryview(buf)[:n * BS]], (a.start + done) * BS)
                if w != n * BS:
                    raise OSError(errno.EIO, "short write %d" % w)
            except OSError as e:
                if a.until_error:
                    print("written %d errno %s" % (done, errno.errorcode.get(e.errno, e.errno)))
                    return 0
                print("write at block %d failed: %s" % (a.start + done, e), file=sys.stderr)
                return 1
            done += n
        print("written %d errno 0" % done)
        return 0
    bad = 0
    errs = 0
    done = 0
    zero = bytes(BS)
    if a.errors_ok:
        a.chunk = 1
    while done < a.count:
        n = min(a.chunk, a.count - done)
        try:
            os.preadv(fd, [memoryview(buf)[:n * BS]], (a.start + done) * BS)
        except OSError as e:
            if not a.errors_ok:
                print("read at block %d failed: %s" % (a.start + done, e))
                return 1
            errs += 1
            done += n
            continue
        for i in range(n):
            b = a.start + done + i
            got = buf[i * BS:(i + 1) * BS]
            want = zero if a.zero else block(a.seed, b, a.dup)
            if got != want:
                bad += 1
                if bad <= 5:
                    print("block %d differs (%s)" % (b, "zeros" if got == zero else "other data"))
        done += n
    if not a.quiet or bad or errs:
        print("verify %d..%d: %d bad, errors %d" % (a.start, a.start + a.count - 1, bad, errs))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
