#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""hostile.py: random and malformed dm-sis table lines, messages and status
calls, each checked against a model of the grammar in include/sis-target.h
(item 5 of issue 7).  Run by tests/guest/rel-hostile.sh inside the guest.

  hostile.py --seed N --count N --dev DEV --small DEV... --foreign DEV
             --bigsector DEV (a 4 KiB-sector device: must work like any other)

The model (what the kernel must do with `0 LEN sis DEV [N FEAT...]`):
  * LEN a decimal, non-zero, multiple of 8 sectors, else rejected;
  * DEV an existing block device of at least two 4 KiB blocks and big
    enough to format (blank), or holding dm-sis metadata; a device holding
    another file system is refused ("foreign data"); a device with a
    logical block size above 4 KiB is refused;
  * the feature group: a count 0..SIS_FEATURE_ARGS_MAX (read from
    include/sis-target.h; dm's argument-group rules: at most the number of
    arguments left) and exactly that many arguments, each a known feature,
    case-insensitive, repeats allowed (the last value wins, as in dm-thin);
    commit_interval takes a decimal value 1..3600 and counts as two;
    anything left over is refused;
  * the logical size can grow but never shrink below the formatted one; a
    read_only table cannot grow it.
Outcomes the model cannot decide (huge sizes) are "any": either is fine,
the state follows what happened.  Whatever the outcome, the kernel must not
oops (vm-run checks dmesg) and an accepted table must then read and write.

Every mismatch is printed as "MISMATCH <table> expected X got Y"; exit 1 if
any.  A device accepted for the same backing device twice (a second mapped
device, or two targets of one table) is reported separately: accepting it is
only right if both views are coherent (checked by writing through one and
reading through the other).
"""
import argparse
import mmap
import os
import random
import re
import subprocess
import sys

FEATS = ["no_discard_passdown", "skip_zero_detection", "error_if_no_space",
         "read_only"]
MAXDEPTH_BLOCKS = 508 ** 4   # above this the model says "any"


def header_define(name):
    """A numeric #define of include/sis-target.h: the model and the kernel
    read the grammar's limits from one place."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "..", "include", "sis-target.h")
    with open(path) as f:
        m = re.search(r"^#define\s+%s\s+(\d+)" % name, f.read(), re.M)
    if not m:
        raise SystemExit("%s: no #define %s" % (path, name))
    return int(m.group(1))


FEATURE_ARGS_MAX = header_define("SIS_FEATURE_ARGS_MAX")


def sh(*args, inp=None):
    p = subprocess.run(list(args), input=inp, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout + p.stderr


def create(name, table):
    rc, out = sh("dmsetup", "create", name, "--table", table)
    if rc == 0:
        sh("dmsetup", "mknodes", name)
    return rc == 0, out


def remove(name):
    for _ in range(5):
        rc, _ = sh("dmsetup", "remove", name)
        if rc == 0:
            return
        sh("sleep", "1")
    raise SystemExit("cannot remove %s" % name)


def blockdev(dev, opt):
    return int(subprocess.check_output(["blockdev", opt, dev]).strip())


class Model:
    def __init__(self, a):
        self.a = a
        self.formatted = {}      # dev -> logical blocks (None: blank)
        self.devsize = {}
        for d in [a.dev] + a.small + [a.foreign, a.bigsector]:
            if d:
                self.devsize[d] = blockdev(d, "--getsz")
                self.formatted[d] = None
        self.min_sectors = {}

    def parse_uint(self, s, lo, hi, allow_plus=False):
        t = s[1:] if allow_plus and s.startswith("+") else s
        if not t.isdigit() or not t.isascii():
            return None
        v = int(t)
        return v if lo <= v <= hi else None

    def expect(self, length, dev, feats):
        """'accept', 'reject' or 'any'."""
        if not length.isdigit():
            # dmsetup's own number parsing decides some of these ("+8",
            # "0x1000", overflow): only the kernel must not oops
            return "reject" if length in ("", "abc") else "any"
        L = int(length)
        if L == 0 or L % 8 or L >= 1 << 64:
            return "reject"
        if dev not in self.devsize:
            return "reject"
        if dev == self.a.foreign:
            return "reject"
        ro = False
        if feats:
            # dm's argument-group count is read with sscanf("%u"), which
            # wraps on overflow (4294967296 reads as 0): model that
            n = None
            if feats[0].isdigit() and feats[0].isascii():
                n = int(feats[0]) % (1 << 32)
                n = n if n <= FEATURE_ARGS_MAX else None
            if n is None or n > len(feats) - 1:
                return "reject"
            rest = feats[1:]
            i = 0
            while i < n:
                f = rest[i].lower()
                if f == "commit_interval":
                    if i + 1 >= n:
                        return "reject"
                    if self.parse_uint(rest[i + 1], 1, 3600, True) is None:
                        return "reject"
                    i += 2
                    continue
                if f not in FEATS:
                    return "reject"
                ro |= f == "read_only"
                i += 1
            if len(rest) != n:
                return "reject"
        size = self.devsize[dev]
        if size < 16:
            return "reject"
        blocks = L // 8
        cur = self.formatted[dev]
        if cur is None:
            p = size // 8
            j = min(max(p // 256, 64), 16384)
            idx = max(1, p // 200)
            if p < 2 + j + idx + 2 * 255:
                return "reject"
            if ro:
                return "reject"     # a blank device is not formatted read-only
            return "any" if blocks > MAXDEPTH_BLOCKS else "accept"
        if blocks < cur:
            return "reject"
        if blocks > cur and ro:
            return "reject"
        return "any" if blocks > MAXDEPTH_BLOCKS else "accept"

    def accepted(self, length, dev, feats):
        if not length.isdigit() or dev not in self.formatted:
            return
        L = int(length) // 8
        cur = self.formatted[dev] or 0
        self.formatted[dev] = max(cur, L)


def rand_num(r):
    if r.random() < 0.5:
        return str(r.randrange(1, 1 << 21) * 8)
    return r.choice([
        lambda: str(r.randrange(1, 1 << 22) * 8),
        lambda: str(r.randrange(1, 1 << 22)),
        lambda: "0", lambda: "-8", lambda: "8", lambda: "16", lambda: "4096",
        lambda: str(1 << 40), lambda: str((1 << 63) - 8), lambda: str(1 << 64),
        lambda: "99999999999999999999999", lambda: "0x1000", lambda: "1e6",
        lambda: "", lambda: "abc", lambda: "8.0", lambda: "+8",
    ])()


def rand_feats(r):
    k = r.randrange(0, 9)
    if k == 0:
        return []
    if k <= 4:
        # well-formed: valid features, right count (may still be refused
        # for other reasons, e.g. read_only on a blank device)
        words = r.sample(FEATS[:3] + (["read_only"] if r.random() < 0.2 else []),
                         r.randrange(0, 3))
        if r.random() < 0.4:
            words += ["commit_interval", str(r.choice([1, 2, 30, 3600]))]
        return [str(len(words))] + words
    words = []
    for _ in range(r.randrange(0, 6)):
        c = r.random()
        if c < 0.55:
            w = r.choice(FEATS)
            words.append(w.upper() if r.random() < 0.1 else w)
        elif c < 0.75:
            words += ["commit_interval", r.choice(
                ["1", "5", "3600", "3601", "0", "-1", "+7", "abc", "4294967297",
                 "99999999999999999999", ""])]
        else:
            words.append(r.choice(["no_such_feature", "read-only", "1", "--", "\\",
                                   "error_if_no_space=1", "ro", "x" * 300]))
    words = [w for w in words if w != ""]
    n = len(words)
    cnt = r.choice([str(n)] * 6 + [str(n + 1), str(max(0, n - 1)), "-1", "7",
                                   "4294967296", "x", "0", "999999999999"])
    return [cnt] + words


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--dev", required=True)
    ap.add_argument("--small", nargs="*", default=[])
    ap.add_argument("--foreign")
    ap.add_argument("--bigsector")
    a = ap.parse_args()
    r = random.Random(a.seed)
    m = Model(a)
    devs = [a.dev] * 6 + a.small + [d for d in (a.foreign, a.bigsector) if d] + \
        ["/dev/does-not-exist", "/dev/null", "/tmp", "/etc/passwd", "253:999",
         "999:999", "", "/dev/mapper/control"]
    bad = 0
    counts = {"accept": 0, "reject": 0}
    for i in range(a.count):
        length = rand_num(r)
        dev = r.choice(devs)
        if m.formatted.get(dev) and r.random() < 0.35:
            # the formatted size itself (or a little more): mostly accepted
            length = str((m.formatted[dev] + r.choice([0, 0, 0, 1, 1000])) * 8)
        feats = rand_feats(r)
        table = " ".join(x for x in ["0", length, "sis", dev] + feats)
        exp = m.expect(length, dev, feats)
        ok, out = create("h", table)
        got = "accept" if ok else "reject"
        counts[got] += 1
        if exp != "any" and exp != got:
            bad += 1
            print("MISMATCH [%d] '%s': expected %s, got %s: %s" %
                  (i, table, exp, got, out.strip().splitlines()[-1:] if out else ""))
        if ok:
            m.accepted(length, dev, feats)
            # an accepted table must work: one write/read round trip at the
            # end of the logical space, unless read-only
            tbl = sh("dmsetup", "table", "h")[1].split()
            if "read_only" not in tbl and len(tbl) > 1:
                L = int(tbl[1])
                blk = os.urandom(4096)
                try:
                    fd = os.open("/dev/mapper/h", os.O_RDWR | os.O_DIRECT)
                    buf = bytearray(blk)
                    mm = mmap.mmap(-1, 4096)
                    mm.write(bytes(buf))
                    os.pwritev(fd, [mm], (L - 8) * 512)
                    mm2 = mmap.mmap(-1, 4096)
                    os.preadv(fd, [mm2], (L - 8) * 512)
                    os.close(fd)
                    if bytes(mm2) != blk:
                        bad += 1
                        print("MISMATCH [%d] '%s': read back differs" % (i, table))
                except OSError as e:
                    st = sh("dmsetup", "status", "h")[1].strip()
                    if "out-of-space" not in st:
                        bad += 1
                        print("MISMATCH [%d] '%s': accepted but I/O fails: %s (%s)" %
                              (i, table, e, st))
            remove("h")
    print("tables: %d accepted, %d rejected, %d mismatches" %
          (counts["accept"], counts["reject"], bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
