#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/host-sampler.py: what the host did while a scripts/bench guest
# ran.  The host is shared (other guests, builds, its own disk writeback), and
# its load moves the ratios between targets run minutes apart; this records
# enough to say, job by job, how busy the host was.
#
#   host-sampler.py --pid PID --console LOG --out SAMPLES
#       Every second until PID exits: one JSON line with the host's time,
#       1-minute load, /proc/stat CPU ticks (busy, iowait, total) and the CPU
#       ticks of the QEMU processes under PID (this guest).  Every job record
#       the guest prints on LOG ("SISBENCH {...}") gets a line with the host's
#       time of its arrival: the job ended then, and began elapsed_s before.
#   host-sampler.py --summary SAMPLES
#       One line for host.txt: "N samples, min, median, max" of the load.
import argparse
import json
import os
import statistics
import sys
import time


def cpu_ticks():
    """(busy, iowait, total) host CPU ticks."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest ticks are in user)
    idle, iowait = v[3], v[4]
    total = sum(v[:8])
    return total - idle - iowait, iowait, total


def qemu_ticks(root):
    """CPU ticks (utime + stime) of the qemu-system processes under @root."""
    kids, names, ticks = {}, {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        pid, ppid = int(p), int(f[1])
        kids.setdefault(ppid, []).append(pid)
        names[pid] = name
        ticks[pid] = int(f[11]) + int(f[12])
    n, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if names.get(pid, "").startswith("qemu-system"):
            n += ticks[pid]
        todo.extend(kids.get(pid, []))
    return n


def job_key(line):
    """The job record on a console line, or None."""
    i = line.find("SISBENCH {")
    if i < 0:
        return None
    try:
        r = json.loads(line[i + len("SISBENCH "):])
    except ValueError:
        return None
    if r.get("type") != "job":
        return None
    return {k: r.get(k) for k in ("layer", "job", "target", "run", "elapsed_s")}


def sample(a):
    out = open(a.out, "w", buffering=1)
    con, part, nxt = None, "", 0.0
    while True:
        alive = os.path.exists("/proc/%d" % a.pid)
        if con is None and os.path.exists(a.console):
            con = open(a.console, errors="replace")
        if con is not None:
            part += con.read()
            *lines, part = part.split("\n")
            for line in lines:
                k = job_key(line)
                if k:
                    k["t"] = round(time.time(), 2)
                    out.write(json.dumps({"jobend": k}) + "\n")
        if time.monotonic() >= nxt:
            nxt = time.monotonic() + 1.0
            busy, iow, tot = cpu_ticks()
            with open("/proc/loadavg") as f:
                load = float(f.read().split()[0])
            out.write(json.dumps({"t": round(time.time(), 2), "load": load, "busy": busy,
                                  "iowait": iow, "total": tot,
                                  "guest": qemu_ticks(a.pid)}) + "\n")
        if not alive:
            return 0
        time.sleep(0.2)


def summary(path):
    loads = []
    if os.path.exists(path):
        for line in open(path):
            d = json.loads(line)
            if "load" in d:
                loads.append(d["load"])
    if not loads:
        print("none")
        return 0
    print("%d samples, min %.2f, median %.2f, max %.2f"
          % (len(loads), min(loads), statistics.median(loads), max(loads)))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int)
    p.add_argument("--console")
    p.add_argument("--out")
    p.add_argument("--summary")
    a = p.parse_args()
    if a.summary:
        return summary(a.summary)
    if not (a.pid and a.console and a.out):
        p.error("--pid, --console and --out, or --summary")
    return sample(a)


if __name__ == "__main__":
    sys.exit(main())
