#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# Writes the seed corpus of fuzz-open (see the input format in fuzz-open.c).
import os, struct
d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(d, exist_ok=True)
def rec(sel, off, data, reseal=True):
    return bytes([sel | (0x40 if reseal else 0)]) + struct.pack("<H", off) + bytes([len(data)]) + data
seeds = {
    "plain-rw": b"\x02",
    "plain-ro": b"\x01",
    "small-cache-rw": b"\x0a",
    "sb0-newer-version": b"\x00" + rec(0, 40, struct.pack("<I", 4)) + rec(1, 40, struct.pack("<I", 4)),
    "sb-version-2": b"\x02" + rec(0, 40, struct.pack("<I", 2)) + rec(1, 40, struct.pack("<I", 2)),
    "sb-version-1": b"\x02" + rec(0, 40, struct.pack("<I", 1)) + rec(1, 40, struct.pack("<I", 1)),
    "sb-reserved-index-region": b"\x02" + rec(0, 120, struct.pack("<Q", 7)) + rec(1, 120, struct.pack("<Q", 7)),
    "sb-both-bad-csum": b"\x00" + rec(0, 200, b"\x01", False) + rec(1, 200, b"\x01", False),
    "sb-logical-huge": b"\x02" + rec(0, 32 + 136 + 64 + 16, struct.pack("<Q", 1 << 60)) + rec(1, 32 + 136 + 64 + 16, struct.pack("<Q", 1 << 60)),
    # volume table (format 3): slot 1 marked used with volume 0's id; slot 0 deleting
    "vol-dup-id": b"\x02" + rec(0, 32 + 136 + 64 + 80 + 4, struct.pack("<I", 1)) + rec(1, 32 + 136 + 64 + 80 + 4, struct.pack("<I", 1)),
    "vol-deleting": b"\x02" + rec(0, 32 + 136 + 64 + 4, struct.pack("<I", 3)) + rec(1, 32 + 136 + 64 + 4, struct.pack("<I", 3)),
    "vol-count": b"\x02" + rec(0, 32 + 136 + 40, struct.pack("<I", 7)) + rec(1, 32 + 136 + 40, struct.pack("<I", 7)),
    "journal-byte": b"\x02" + rec(2, 100, b"\xff") + rec(3, 40, b"\x07\x00\x00\x00"),
    "rc-page-counts": b"\x06" + rec(17, 32 + 8, b"\xff\xff\xff\xff"),
    "map-root-pointer": b"\x02" + rec(19, 32, struct.pack("<Q", 5)),
    "rc-group2-fp": b"\x02" + rec(14, 32, struct.pack("<I", 9999)),
    "whole-block-zero": b"\x02" + bytes([19, 0, 0, 0]) + bytes(4096),
}
for name, data in seeds.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
