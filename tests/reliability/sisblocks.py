#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""sisblocks.py: find dm-sis metadata blocks on an inactive device by their
header (include/sis-format.h: le32 csum, le32 type, le64 blocknr, le64 seq)
and damage one (dm-sis reliability tests, item 4 of issue 7).

  sisblocks.py list DEV            "BLOCK TYPE SEQ WHERE" for every metadata block
  sisblocks.py pick DEV KIND [N]   block number of the N-th (default 0) block of
                                   KIND: sb0 sb1 jdesc jcommit jimage rc
                                   map_node map_leaf (journal kinds: live part
                                   only, seq >= the newest superblock's tail_seq)
  sisblocks.py smash DEV BLOCK [OFFSET]   flip the bits of 8 bytes at OFFSET
                                   (default 1000) of BLOCK (checksum breaks)
"""
import mmap
import os
import struct
import sys

BS = 4096
def pread(fd, n, off):
    """O_DIRECT read (the page cache of a disk written by dm may be stale)."""
    buf = mmap.mmap(-1, n)
    got = os.preadv(fd, [buf], off)
    return bytes(buf[:got])


# Formats 2 and 3: no index buckets (version 1's type 0x58495349).
TYPES = {0x53425349: "sb", 0x4a445349: "jdesc", 0x4a435349: "jcommit",
         0x43525349: "rc", 0x4e4d5349: "map_node", 0x4c4d5349: "map_leaf"}


def scan(dev):
    try:
        fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    except OSError:     # a file on tmpfs: no O_DIRECT, no stale cache either
        fd = os.open(dev, os.O_RDONLY)
    size = os.lseek(fd, 0, os.SEEK_END)
    sbs = []
    for b in (0, 1):
        blk = pread(fd, BS, b * BS)
        csum, typ, bnr, seq = struct.unpack_from("<IIQQ", blk, 0)
        if TYPES.get(typ) == "sb":
            f = struct.unpack_from("<QIIQQQ16sIIQQQQQQQQ", blk, 32)
            sbs.append({"block": b, "sb_seq": f[9], "jstart": f[10], "jblocks": f[11],
                        "dstart": f[14],
                        "tail_seq": f[15], "tail_block": f[16]})
    if not sbs:
        raise SystemExit("%s: no dm-sis superblock" % dev)
    sb = max(sbs, key=lambda s: s["sb_seq"])
    out = []
    off = 0
    while off < size:
        chunk = pread(fd, 1 << 20, off)
        if not chunk:
            break
        for i in range(0, len(chunk) - BS + 1, BS):
            b = (off + i) // BS
            csum, typ, bnr, seq = struct.unpack_from("<IIQQ", chunk, i)
            kind = TYPES.get(typ)
            if not kind:
                continue
            injournal = sb["jstart"] <= b < sb["jstart"] + sb["jblocks"]
            if kind == "sb":
                if b in (0, 1):
                    out.append((b, "sb%d" % b, seq, "home"))
                continue
            if injournal:
                if kind not in ("jdesc", "jcommit"):
                    kind = "jimage"
                out.append((b, kind, seq, "journal-live" if seq >= sb["tail_seq"] else "journal-old"))
            elif bnr == b:
                out.append((b, kind, seq, "home"))
        off += len(chunk)
    os.close(fd)
    return sb, out


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    cmd, dev = sys.argv[1], sys.argv[2]
    if cmd == "smash":
        b = int(sys.argv[3])
        o = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
        fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
        buf = mmap.mmap(-1, BS)
        os.preadv(fd, [buf], b * BS)
        for i in range(o, o + 8):
            buf[i] ^= 0xff
        os.pwritev(fd, [buf], b * BS)
        os.fsync(fd)
        os.close(fd)
        return 0
    sb, blocks = scan(dev)
    if cmd == "list":
        print("# superblock %d: tail seq %d at %d, journal %d+%d, data %d" %
              (sb["block"], sb["tail_seq"], sb["tail_block"], sb["jstart"], sb["jblocks"],
               sb["dstart"]))
        for b in blocks:
            print("%d %s %d %s" % b)
        return 0
    if cmd == "pick":
        kind = sys.argv[3]
        n = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        c = [b for b in blocks if b[1] == kind and b[3] != "journal-old"]
        if kind.startswith("j"):
            # live journal blocks in log order, from the tail
            J, t = sb["jblocks"], sb["tail_block"]
            c.sort(key=lambda x: (x[2], (x[0] - sb["jstart"] - t) % J))
        if n >= len(c):
            print("none")
            return 1
        print(c[n][0])
        return 0
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
