#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""fsload.py: a deterministic file-system workload with dedupable content and
durability bookkeeping, and its verifier (dm-sis reliability tests).

  fsload.py run --root DIR --events FILE [--seed N] [--rounds N]
                [--mark-cmd 'dmsetup message lw 0 mark'] [--events-dev DEV]
                [--fio-mb N] [--forever]
  fsload.py verify --root DIR --events FILE [--happened FILE] [--events-dev DEV]
                   [--pretend-acked]
  fsload.py damage --root DIR --events FILE [--events-dev DEV]

Every operation is bracketed by two events: an *intent* recorded before the
operation starts and an *ack* recorded after its fsync (file and directory)
returned.  With --mark-cmd each event is also a dm-log-writes mark named
"e<N>" (sent after an ack's fsync, before an intent's first write), so a
replay to any flush point knows exactly which events had happened.  With
--events-dev the events are appended, O_DSYNC, to a raw disk, so they
survive a power cut of the guest (a record is complete before the
operation it announces starts, and an ack only after the fsync returned).

File content is a list of 4 KiB block specs ("pN" one of 16 shared pool
blocks, "z" zeros, "uN" a unique block), so the expected content of any file
at any point is rebuilt from the events alone; fio files (fio's own
dedupe_percentage data) are checked by md5.

verify: for every path whose last happened event is an ack, the file must
read back exactly (or be absent after an acked delete); with a pending
intent the allowed states are: create -> anything; replace (write a temp
file, fsync, rename, fsync dir) -> old or new; delete -> old or absent;
in-place block overwrite -> each touched 4 KiB block old or new, the others
old.  Any other content is lost or corrupt data: exit 1 with one line per
bad file.  --pretend-acked treats pending intents as acked (a negative
control: it must fail when the replay point is before the ack).

damage (a negative control for the verifier and the tests built on it):
flip one byte of one acknowledged, non-empty file that exists, fsync it,
print its path; a following verify must then exit 1.
"""
import argparse
import hashlib
import json
import os
import random
import subprocess
import sys

BS = 4096
POOL = 16


def block_data(spec, seed):
    if spec == "z":
        return bytes(BS)
    kind, n = spec[0], int(spec[1:])
    r = random.Random("%s:%d:%d" % (kind, seed, n))
    return r.randbytes(BS)


def content(specs, seed):
    return b"".join(block_data(s, seed) for s in specs)


def md5(b):
    return hashlib.md5(b).hexdigest()


class EventLog:
    """Events as JSON lines in a file, or as 4 KiB records on a raw disk."""

    REC = 4096

    def __init__(self, path, dev):
        self.path, self.dev, self.n = path, dev, 0
        self.fd = None
        if dev:
            self.fd = os.open(dev, os.O_RDWR | os.O_DSYNC)
            self.n = len(self.read_dev())
        elif path:
            open(path, "a").close()
            with open(path) as f:
                self.n = sum(1 for _ in f)

    def read_dev(self):
        out = []
        fd = os.open(self.dev, os.O_RDONLY)
        try:
            off = 0
            while True:
                b = os.pread(fd, 1 << 20, off)
                if not b:
                    break
                for i in range(0, len(b), self.REC):
                    rec = b[i:i + self.REC]
                    if not rec.strip(b"\0"):
                        return out
                    out.append(json.loads(rec.rstrip(b"\0 \n").decode()))
                off += len(b)
        finally:
            os.close(fd)
        return out

    def read(self):
        if self.dev:
            return self.read_dev()
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def append(self, ev):
        ev["n"] = self.n
        line = json.dumps(ev, separators=(",", ":"))
        if self.dev:
            rec = line.encode() + b"\n"
            if len(rec) > self.REC:
                raise SystemExit("event record too long: %s" % line)
            os.pwrite(self.fd, rec.ljust(self.REC, b" "), self.n * self.REC)
        else:
            with open(self.path, "a") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
        self.n += 1
        return ev["n"]


def fsync_dir(d):
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


class Workload:
    def __init__(self, a):
        self.a = a
        self.root = a.root
        self.seed = a.seed
        self.rng = random.Random(a.seed)
        self.log = EventLog(a.events, a.events_dev)
        self.mark_cmd = a.mark_cmd.split() if a.mark_cmd else None
        self.files = {}   # path -> specs (list) or ("md5", hex)
        self.uniq = self.rng.randrange(1 << 30)
        self.tmpn = 0
        # resume after a reboot: rebuild the state from the acked events; a
        # path whose last event is a pending intent is never touched again
        # (its content is old or new, the verifier knows which are allowed)
        for ev in self.log.read():
            if ev["t"] == "ack" and not ev.get("gone"):
                self.files[ev["p"]] = ev.get("specs") or ("md5", ev["md5"])
            else:
                self.files.pop(ev["p"], None)
            self.uniq = max(self.uniq, ev.get("u", 0))

    def event(self, ev):
        n = self.log.append(ev)
        if self.mark_cmd:
            subprocess.run(self.mark_cmd + ["e%d" % n], check=True)
        return n

    def spec(self):
        x = self.rng.random()
        if x < 0.6:
            return "p%d" % self.rng.randrange(POOL)
        if x < 0.7:
            return "z"
        self.uniq += 1
        return "u%d" % self.uniq

    def newname(self, d):
        self.tmpn += 1
        return os.path.join(d, "f%d-%d-%d" % (self.seed, self.log.n, self.tmpn))

    def abs(self, p):
        return os.path.join(self.root, p)

    def write_file(self, path, data):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)

    def op_create(self, d):
        p = self.newname(d)
        specs = [self.spec() for _ in range(self.rng.randrange(1, 48))]
        self.event({"t": "intent", "op": "create", "p": p})
        self.write_file(self.abs(p), content(specs, self.seed))
        fsync_dir(self.abs(d))
        self.files[p] = specs
        self.event({"t": "ack", "p": p, "specs": specs, "u": self.uniq})

    def pick(self, kind=list):
        c = [p for p, s in self.files.items() if isinstance(s, kind)]
        return self.rng.choice(sorted(c)) if c else None

    def op_replace(self):
        p = self.pick()
        if not p:
            return
        specs = [self.spec() for _ in range(self.rng.randrange(1, 48))]
        tmp = p + ".tmp"
        self.event({"t": "intent", "op": "replace", "p": p, "new": specs,
                    "u": self.uniq})
        self.write_file(self.abs(tmp), content(specs, self.seed))
        os.rename(self.abs(tmp), self.abs(p))
        fsync_dir(self.abs(os.path.dirname(p)))
        self.files[p] = specs
        self.event({"t": "ack", "p": p, "specs": specs, "u": self.uniq})

    def op_inplace(self):
        p = self.pick()
        if not p:
            return
        specs = list(self.files[p])
        touched = {}
        for _ in range(self.rng.randrange(1, 6)):
            touched[self.rng.randrange(len(specs))] = self.spec()
        self.event({"t": "intent", "op": "inplace", "p": p,
                    "blocks": [[i, s] for i, s in sorted(touched.items())],
                    "u": self.uniq})
        fd = os.open(self.abs(p), os.O_WRONLY)
        for i, s in sorted(touched.items()):
            os.pwrite(fd, block_data(s, self.seed), i * BS)
            specs[i] = s
        os.fdatasync(fd)
        os.close(fd)
        self.files[p] = specs
        self.event({"t": "ack", "p": p, "specs": specs, "u": self.uniq})

    def op_delete(self):
        p = self.pick(object)
        if not p:
            return
        self.event({"t": "intent", "op": "delete", "p": p})
        os.unlink(self.abs(p))
        fsync_dir(self.abs(os.path.dirname(p)))
        del self.files[p]
        self.event({"t": "ack", "p": p, "gone": True})

    def op_fio(self, d):
        p = self.newname(d) + ".fio"
        self.event({"t": "intent", "op": "create", "p": p})
        subprocess.run(["fio", "--name=dd", "--filename=" + self.abs(p), "--rw=write",
                        "--bs=64k", "--size=%dM" % self.a.fio_mb,
                        "--dedupe_percentage=60", "--dedupe_mode=working_set",
                        "--dedupe_working_set_percentage=20",
                        "--randseed=%d" % (self.seed + self.log.n),
                        "--ioengine=psync", "--end_fsync=1", "--direct=1",
                        "--output=/dev/null"], check=True)
        with open(self.abs(p), "rb") as f:
            h = md5(f.read())
        fsync_dir(self.abs(d))
        self.files[p] = ("md5", h)
        self.event({"t": "ack", "p": p, "md5": h})

    def run(self):
        dirs = ["d%d" % i for i in range(3)]
        for d in dirs:
            os.makedirs(self.abs(d), exist_ok=True)
        fsync_dir(self.root)
        r = 0
        while self.a.forever or r < self.a.rounds:
            r += 1
            d = self.rng.choice(dirs)
            for _ in range(self.rng.randrange(2, 6)):
                self.op_create(d)
            x = self.rng.random()
            if x < 0.3:
                self.op_replace()
            elif x < 0.6:
                self.op_inplace()
            else:
                self.op_delete()
            if r % 4 == 0 and self.a.fio_mb:
                self.op_fio(d)
            if r % 5 == 0:
                subprocess.run(["fstrim", self.root], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if self.a.progress:
                print("round %d: %d events, %d files" % (r, self.log.n, len(self.files)),
                      flush=True)


def verify(a):
    events = EventLog(a.events, a.events_dev).read()
    if a.happened is not None:
        with open(a.happened) as f:
            names = set(f.read().split())
        events = [e for e in events if "e%d" % e["n"] in names]
    state = {}     # path -> ("ack", ev) | ("intent", ev, prev_ack)
    for ev in events:
        p = ev["p"]
        prev = state.get(p)
        prev_ack = prev[1] if prev and prev[0] == "ack" else (prev[2] if prev else None)
        if ev["t"] == "ack" or a.pretend_acked:
            if ev["t"] == "intent":
                ev = dict(ev, gone=ev["op"] == "delete")
                if ev["op"] == "replace":
                    ev["specs"] = ev["new"]
                elif ev["op"] == "inplace" and prev_ack and prev_ack.get("specs"):
                    sp = list(prev_ack["specs"])
                    for i, s in ev["blocks"]:
                        sp[i] = s
                    ev["specs"] = sp
                elif ev["op"] == "create":
                    ev["specs"] = []
            state[p] = ("ack", ev)
        else:
            state[p] = ("intent", ev, prev_ack)
    seed = a.seed
    bad = checked = 0

    def expect(ack):
        if ack is None or ack.get("gone"):
            return None
        if "specs" in ack:
            return md5(content(ack["specs"], seed))
        return ack["md5"]

    def actual(p):
        try:
            with open(os.path.join(a.root, p), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    for p, st in sorted(state.items()):
        if st[0] == "intent" and st[1]["op"] == "create":
            continue
        data = actual(p)
        got = None if data is None else md5(data)
        checked += 1
        if st[0] == "ack":
            ok = got == expect(st[1])
        else:
            ev, prev = st[1], st[2]
            old = expect(prev)
            if ev["op"] == "replace":
                ok = got in (old, md5(content(ev["new"], seed)))
            elif ev["op"] == "delete":
                ok = got in (old, None)
            else:  # inplace: every touched block old or new, the rest old
                ok = got == old
                if not ok and data is not None and prev and "specs" in prev:
                    olds = prev["specs"]
                    ok = len(data) == len(olds) * BS
                    newb = dict((i, s) for i, s in ev["blocks"])
                    for i, s in enumerate(olds):
                        if not ok:
                            break
                        blk = data[i * BS:(i + 1) * BS]
                        allowed = [block_data(s, seed)]
                        if i in newb:
                            allowed.append(block_data(newb[i], seed))
                        ok = blk in allowed
        if not ok:
            bad += 1
            print("BAD %s: %s, read %s (%s)" % (p, st[0], got if data is not None else "absent",
                                                 "%d bytes" % len(data) if data is not None else "-"))
    print("verify: %d files checked, %d bad, %d events" % (checked, bad, len(events)))
    return 1 if bad else 0


def damage(a):
    acked = {}
    for ev in EventLog(a.events, a.events_dev).read():
        if ev["t"] == "ack" and not ev.get("gone"):
            acked[ev["p"]] = ev
        else:
            acked.pop(ev["p"], None)
    for p in sorted(acked):
        f = os.path.join(a.root, p)
        if os.path.isfile(f) and os.path.getsize(f) > 0:
            fd = os.open(f, os.O_RDWR)
            b = os.pread(fd, 1, 0)
            os.pwrite(fd, bytes([b[0] ^ 0xff]), 0)
            os.fsync(fd)
            os.close(fd)
            print("damaged %s (first byte flipped)" % p)
            return 0
    print("damage: no acknowledged non-empty file to damage")
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run", "verify", "damage"])
    ap.add_argument("--root", required=True)
    ap.add_argument("--events")
    ap.add_argument("--events-dev")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--forever", action="store_true")
    ap.add_argument("--fio-mb", type=int, default=8)
    ap.add_argument("--mark-cmd")
    ap.add_argument("--happened")
    ap.add_argument("--pretend-acked", action="store_true")
    ap.add_argument("--progress", action="store_true")
    a = ap.parse_args()
    if not a.events and not a.events_dev:
        ap.error("--events or --events-dev")
    if a.cmd == "run":
        Workload(a).run()
        return 0
    if a.cmd == "damage":
        return damage(a)
    return verify(a)


if __name__ == "__main__":
    sys.exit(main())
