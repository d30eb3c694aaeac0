#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""blkpat.py: write and verify seeded 4 KiB block patterns on a block device
with O_DIRECT (dm-sis reliability tests).

  blkpat.py write  DEV START COUNT SEED [--dup] [--chunk N] [--until-error]
  blkpat.py verify DEV START COUNT SEED [--dup] [--zero] [--quiet] [--errors-ok]
  blkpat.py churn  DEV START COUNT SEED --seconds N [--pattern HEX]

Block B of a pattern is 4 KiB derived from (SEED, B); with --dup every block
is the same (SEED, 0) block, so the data dedupes.  write writes CHUNK blocks
per request (default 64); --until-error stops at the first failing request
and prints "written K errno E" (K blocks in requests that completed), exit 0;
without it a failing request exits 1 with the errno.  verify exits 1 and
lists the first mismatching blocks (with --zero the blocks must be zeros);
with --errors-ok a read error is counted ("errors N") and the next block is
read (one block per request then): only wrong data fails.
churn runs random operations on blocks START..START+COUNT-1 for N seconds,
keeping a model of every block: discard a range (then zeros), write a range
of the shared pattern block (HEX repeated; dedupes with whatever else
writes it), write a range of seeded unique blocks, read a range and compare
with the model; at the end every block is compared.  Exit 1 on a mismatch.
"""
import argparse
import errno
import fcntl
import mmap
import struct
import time
import os
import random
import sys

BS = 4096


def block(seed, b, dup):
    r = random.Random("blk:%d:%d" % (seed, 0 if dup else b))
    return r.randbytes(BS)


def churn(a):
    fd = os.open(a.dev, os.O_RDWR | os.O_DIRECT)
    r = random.Random(a.seed)
    pat = bytes.fromhex(a.pattern)
    pat = (pat * (BS // len(pat) + 1))[:BS]
    zero = bytes(BS)
    model = {}          # block -> bytes (absent: zeros / never written)
    buf = mmap.mmap(-1, 64 * BS)
    end = time.time() + a.seconds
    ops = {"discard": 0, "pattern": 0, "unique": 0, "read": 0}
    gen = 0
    bad = 0
    nop = 0             # operations so far

    seen = {}           # hash of unique data written -> (op number, block)
    last = {}           # block -> its last write or discard (op number, op, range)

    def want(b):
        return model.get(b, zero)

    def what(got):
        """What a wrong block holds, for the report."""
        if got == zero:
            return "zeros"
        if got == pat:
            return "the pattern"
        w = seen.get(hash(got))
        if w:
            return "block %d's data of op %d (now %d)" % (w[1], w[0], nop)
        return "data never written"

    def check(b0, n, when, limit):
        """Compare blocks b0.. read into buf with the model; count and report."""
        nonlocal bad
        for i in range(n):
            got, b = buf[i * BS:(i + 1) * BS], b0 + i
            if got != want(b):
                bad += 1
                if bad <= limit:
                    print("churn: block %d differs from the model (%s read of %d at %d):"
                          " it holds %s, not %s; last changed by %s"
                          % (b, when, n, b0, what(got), what(want(b)), last.get(b)))

    while time.time() < end:
        n = r.randrange(1, 33)
        b0 = a.start + r.randrange(0, a.count - n)
        op = r.choice(["discard", "pattern", "pattern", "unique", "read", "read"])
        ops[op] += 1
        nop += 1
        if op == "discard":
            fcntl.ioctl(fd, 0x1277, struct.pack("QQ", b0 * BS, n * BS))
            for b in range(b0, b0 + n):
                model.pop(b, None)
                last[b] = (nop, op, b0, n)
        elif op in ("pattern", "unique"):
            gen += 1
            buf.seek(0)
            for b in range(b0, b0 + n):
                d = pat if op == "pattern" else block(a.seed + gen, b, False)
                buf.write(d)
                model[b] = d
                last[b] = (nop, op, b0, n)
                if op == "unique":
                    seen[hash(d)] = (nop, b)
            os.pwritev(fd, [memoryview(buf)[:n * BS]], b0 * BS)
        else:
            os.preadv(fd, [memoryview(buf)[:n * BS]], b0 * BS)
            check(b0, n, "online", 5)
    for b0 in range(a.start, a.start + a.count, 64):
        n = min(64, a.start + a.count - b0)
        os.preadv(fd, [memoryview(buf)[:n * BS]], b0 * BS)
        check(b0, n, "final", 10)
    print("churn: %s, %d bad" % (", ".join("%d %s" % (v, k) for k, v in ops.items()), bad))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["write", "verify", "churn"])
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
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--pattern", default="5a17c3e1")
    a = ap.parse_args()
    if a.cmd == "churn":
        return churn(a)
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
