#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/bench-guest.py: the guest side of scripts/bench (run by vm-run,
# not a test).  Sets up each target over its own disk (the Nth target on the
# Nth disk of $SIS_DISKS), runs the workloads and prints one line per figure
# set on the console:
#
#   SISBENCH {"type": "job", ...}
#
# scripts/bench parses those lines (tests/bench/report.py).  Kernel messages
# are kept off the console (dmesg -n 1) so they cannot split a line; vm-run
# still checks the full kernel log at the end.
#
# usage: bench-guest.py [--size MiB] [--targets linear,thin,vdo,sis] [--runs N]
#                       [--copies K] [--containers K] [--rand-runtime S]
#                       [--seq-cap S] [--containers-budget S] [--randrw-runtime S] [--long-mib MiB]
#                       [--logical MiB] [--cmd-timeout S]
#                       [--scale 4G,64G,1T] [--scale-prefill MiB] [--scale-rounds N]
#                       [--clones K] [--clones-stacks thin,thinvdo,sis] [--clones-read-mib MiB]
#                       [--clones-volume-mib MiB] [--clones-change-kib KiB]
#
# --clones K (default 8, 0: none): after the targets, on the next disk, the
# same scenario on each stack one after another (dm-thin; dm-thin over
# dm-vdo, the LVM stack; dm-sis volumes): a volume with ext4 holding the tree,
# K clones of it (thin snapshots / clone_volume), a boot-like cold read of the
# same files from every clone, a different small change on each; time, disk
# reads, page cache and target memory, and the space the pool reports
# ("type": "clones" lines).
#
# --scale: after the targets (and the clones), dm-sis alone on one more disk
# per size (the disks after those, sparse, of those sizes): format time, RAM
# taken, a prefill of unique data spread over the device, then the raw
# sequential 128k writes with dedupe 0 and 50 % ("type": "scale" lines);
# then --scale-rounds rounds of a unique write on every size in turn, the
# devices open side by side ("type": "scale_rounds").
import argparse
import glob
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import traceback

HZ = os.sysconf("SC_CLK_TCK")
MiB = 1 << 20
PREFIX = "bench"
MNT = "/mnt/bench"
TREE_TAR = "/tmp/bench-tree.tar"
COPY_SRC = "/tmp/bench-copy.bin"


class CmdFailed(Exception):
    pass


class Stuck(Exception):
    """A command ran past its timeout: the target may be wedged."""


def emit(rec):
    line = "SISBENCH " + json.dumps(rec, sort_keys=True) + "\n"
    with _OUT:
        sys.stdout.write(line)
        sys.stdout.flush()


_OUT = threading.Lock()
STEP = ["start"]


def note(msg):
    with _OUT:
        sys.stdout.write("[bench] %s\n" % msg)
        sys.stdout.flush()


def heartbeat(period=60):
    """A line every minute: scripts/bench stops a guest that goes silent."""
    t0 = time.monotonic()
    while True:
        time.sleep(period)
        note("alive %.0f s: %s" % (time.monotonic() - t0, STEP[0]))


CMD_TIMEOUT = 600


def sh(cmd, timeout=None, check=True, input=None):
    """Run a shell command; return stdout.  Timeout -> Stuck."""
    try:
        p = subprocess.run(cmd, shell=True, capture_output=True, text=True,
                           timeout=timeout or CMD_TIMEOUT, input=input)
    except subprocess.TimeoutExpired:
        raise Stuck("timeout after %ss: %s" % (timeout or CMD_TIMEOUT, cmd))
    if check and p.returncode != 0:
        raise CmdFailed("exit %d: %s: %s" % (p.returncode, cmd,
                                             (p.stderr or p.stdout).strip()[-600:]))
    return p.stdout


# ---- the guest clock -----------------------------------------------------
# Under TCG on a loaded host the kernel's PIT calibration of the TSC can be
# wildly off (seen here: "tsc: Detected 73.205 MHz" for a 2596 MHz TSC, so the
# guest clock ran 35x fast).  Every duration below comes from the guest clock,
# so check it against the RTC (which QEMU keeps on host time) and fall back to
# the HPET clocksource when it is off.

RTC = "/sys/class/rtc/rtc0/since_epoch"
CS = "/sys/devices/system/clocksource/clocksource0/"


def rtc_edge():
    s0 = int(open(RTC).read())
    while True:
        s = int(open(RTC).read())
        if s != s0:
            return s, time.monotonic()
        time.sleep(0.002)


def clock_rate(seconds=3):
    """Guest monotonic seconds per RTC second (1.0 when the clock is right)."""
    if not os.path.exists(RTC):
        return None
    s0, m0 = rtc_edge()
    while True:
        s1, m1 = rtc_edge()
        if s1 - s0 >= seconds:
            return (m1 - m0) / (s1 - s0)


def fix_clock():
    info = {"clocksource": open(CS + "current_clocksource").read().strip(),
            "available": open(CS + "available_clocksource").read().split()}
    info["rate_before"] = r = clock_rate()
    if r is not None and abs(r - 1) > 0.2 and "hpet" in info["available"]:
        with open(CS + "current_clocksource", "w") as f:
            f.write("hpet\n")
        time.sleep(0.1)
        info["clocksource"] = open(CS + "current_clocksource").read().strip()
        info["rate_after"] = clock_rate()
    return info


# ---- counters -----------------------------------------------------------

# A fixed piece of guest work timed before each target's run: if the same
# work takes longer in one run than in another, the emulator (or the host
# under it) ran this guest slower, whatever the target.  Three kinds, as the
# targets' jobs mix them: user-space code (a Python loop), the kernel's page
# clearing (/dev/zero, 256 MiB in 64 KiB reads) and the kernel's arithmetic
# (/dev/urandom, ChaCha20, 32 MiB).
CALIBRATE = (("user_s", "python3 -c 'sum(i * i for i in range(300000))'"),
             ("zero_s", "dd if=/dev/zero of=/dev/null bs=64k count=4096 status=none"),
             ("urandom_s", "dd if=/dev/urandom of=/dev/null bs=64k count=512 status=none"))


def calibrate():
    """Seconds (guest clock) that each CALIBRATE step took."""
    out = {}
    for key, cmd in CALIBRATE:
        t0 = time.monotonic()
        sh(cmd)
        out[key] = round(time.monotonic() - t0, 3)
    return out


def cpu_ticks():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    v += [0] * (8 - len(v))
    return {"user": v[0] + v[1], "system": v[2] + v[5] + v[6],
            "iowait": v[4], "busy": v[0] + v[1] + v[2] + v[5] + v[6] + v[7]}


def disk_stat(dev):
    f = [int(x) for x in open("/sys/block/%s/stat" % os.path.basename(dev)).read().split()]
    f += [0] * (17 - len(f))
    return {"read_ios": f[0], "read_bytes": f[2] * 512, "write_ios": f[4],
            "write_bytes": f[6] * 512, "discard_bytes": f[13] * 512, "flushes": f[15]}


def meminfo():
    m = {}
    for line in open("/proc/meminfo"):
        k, v = line.split(":", 1)
        m[k] = int(v.split()[0]) * 1024
    return m


def mem_snapshot():
    m = meminfo()
    return {"free": m["MemFree"], "slab": m["Slab"], "sunreclaim": m["SUnreclaim"],
            "vmalloc": m["VmallocUsed"], "percpu": m.get("Percpu", 0),
            "cached": m["Cached"], "buffers": m["Buffers"]}


_RBUF = bytearray(1 << 20)


def read_files(paths):
    """Read regular files whole; return the bytes read."""
    n = 0
    mv = memoryview(_RBUF)
    for p in paths:
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue  # symlinks and specials
        try:
            while True:
                r = os.readv(fd, [mv])
                if r <= 0:
                    break
                n += r
        finally:
            os.close(fd)
    return n


def tree_files(top):
    """The regular files under @top, directory by directory in sorted order."""
    files = []
    for root, dirs, names in os.walk(top):
        dirs.sort()
        files += [os.path.join(root, x) for x in sorted(names)
                  if stat.S_ISREG(os.lstat(os.path.join(root, x)).st_mode)]
    return files


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def mkfs_ext4(dev, timeout):
    """ext4 with its inode tables and journal written now (no background
    init during the jobs) and nothing discarded."""
    sh("mkfs.ext4 -F -q -E lazy_itable_init=0,lazy_journal_init=0,nodiscard %s" % dev,
       timeout=timeout, input="")


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- per-thread profile -------------------------------------------------
# The guest has no perf: sample every task's utime+stime (/proc/.../stat) and
# schedstat run/wait time while a job runs, and charge each interval's growth to
# the task's group.  A kworker's name carries the workqueue it last ran
# ("kworker/u4:2+sis-254:64"), so dm-sis's work shows under its workqueue.

PROFILE_PERIOD = 1.0


def task_group(comm):
    """Group a task name: per-CPU suffixes dropped, kworkers by workqueue."""
    if comm.startswith("kworker/R-"):
        # a WQ_MEM_RECLAIM workqueue's rescuer "kworker/R-<wq>", "[+-]<wq>"
        # appended once it has run that workqueue's work
        name = comm[len("kworker/R-"):]
        m = re.match(r"(.+)[+-]\1$", name)
        return "rescuer (wq %s)" % (m.group(1) if m else name)
    if comm.startswith("kworker/"):
        m = re.match(r"kworker/[^+-]*[+-](.+)$", comm)
        if m:
            return "kworker (wq %s)" % m.group(1)
        return "kworker (no work yet)"
    if comm in ("python3", "python"):
        return "bench-guest.py (incl. this profiler)"
    return re.sub(r"/\d+$", "/*", comm)


def _read(path):
    """The whole of a sysfs, procfs or tracefs file (a tracefs hist is
    larger than a page: read until end of file)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            parts.append(b)
        return b"".join(parts).decode(errors="replace")
    finally:
        os.close(fd)


def param(module, name):
    """A module parameter's value as a string, None when it does not exist."""
    try:
        return _read("/sys/module/%s/parameters/%s" % (module, name)).strip()
    except OSError:
        return None


def task_sample(prev=None):
    """{tid path: (group, cpu ticks, run ns, wait ns)} of every task.  A task
    that has not run since prev keeps prev's name and ticks: only its
    schedstat is read (most kernel threads sleep through a job)."""
    out = {}
    prev = prev or {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            tids = os.listdir("/proc/%s/task" % pid)
        except OSError:
            continue
        for tid in tids:
            td = "/proc/%s/task/%s/" % (pid, tid)
            try:
                ss = _read(td + "schedstat").split()
                run, wait = int(ss[0]), int(ss[1])
                p = prev.get(td)
                if p is not None and p[2] == run:
                    out[td] = (p[0], p[1], run, wait)
                    continue
                st = _read(td + "stat")
            except OSError:
                continue  # exited meanwhile
            i = st.rfind(")")
            f = st[i + 2:].split()
            out[td] = (task_group(st[st.index("(") + 1:i]), int(f[11]) + int(f[12]), run, wait)
    return out


class Profiler:
    def __init__(self, period=PROFILE_PERIOD):
        self.period = period
        self.groups = {}
        self.samples = 0
        self.stop_ev = threading.Event()

    def _step(self, prev):
        cur = task_sample(prev)
        for tid, (g, cpu, run, wait) in cur.items():
            p = prev.get(tid)
            d = self.groups.setdefault(g, {"cpu_ticks": 0, "run_ns": 0, "wait_ns": 0, "tids": set()})
            if p is None:  # a new task: all of its time is in this job
                p = (g, 0, 0, 0)
            d["cpu_ticks"] += cpu - p[1]
            d["run_ns"] += run - p[2]
            d["wait_ns"] += wait - p[3]
            if run - p[2] > 0:
                d["tids"].add(tid)
        self.samples += 1
        return cur

    def _loop(self):
        prev = self.base
        while not self.stop_ev.wait(self.period):
            prev = self._step(prev)
        self._step(prev)

    def start(self):
        self.t0 = time.monotonic()
        self.cpu0 = cpu_ticks()
        self.base = task_sample()
        self.th = threading.Thread(target=self._loop, daemon=True)
        self.th.start()

    def stop(self, top=20):
        self.stop_ev.set()
        self.th.join()
        c1 = cpu_ticks()
        rows = []
        for g, d in self.groups.items():
            if d["run_ns"] <= 0 and d["cpu_ticks"] <= 0:
                continue
            rows.append({"group": g, "cpu_s": round(d["cpu_ticks"] / HZ, 3),
                         "run_s": round(d["run_ns"] / 1e9, 3), "wait_s": round(d["wait_ns"] / 1e9, 3),
                         "threads": len(d["tids"])})
        rows.sort(key=lambda r: -r["run_s"])
        return {"period_s": self.period, "samples": self.samples,
                "wall_s": round(time.monotonic() - self.t0, 3),
                "busy_s": round((c1["busy"] - self.cpu0["busy"]) / HZ, 3),
                "tasks_run_s": round(sum(r["run_s"] for r in rows), 3),
                "groups": len(rows), "top": rows[:top]}


# ---- blktrace of a backing disk -------------------------------------------
BT_DIR = "/tmp/bench-blktrace"
# request size classes (bytes, upper bound inclusive)
BT_BINS = [("4k", 4096), ("8-64k", 65536), ("68-128k", 131072), (">128k", None)]


class BlkTrace:
    """blktrace -a queue -a issue on a disk while a job runs; Q (bios the target
    submits) and D (requests issued to the driver) by direction and size."""

    def __init__(self, disk):
        self.disk = disk

    def start(self):
        shutil.rmtree(BT_DIR, ignore_errors=True)
        os.makedirs(BT_DIR)
        self.p = subprocess.Popen(["blktrace", "-d", self.disk, "-a", "queue", "-a", "issue",
                                   "-b", "1024", "-n", "8", "-o", "bt", "-D", BT_DIR],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # running once the per-CPU output files exist
        for _ in range(100):
            if glob.glob(BT_DIR + "/bt.blktrace.*") or self.p.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(0.2)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            out = self.p.communicate(timeout=120)[0]
        except subprocess.TimeoutExpired:
            self.p.kill()
            out = self.p.communicate()[0]
        res = {"rc": self.p.returncode, "disk": self.disk}
        try:  # 0 once blktrace has torn its trace down (it must not stay on)
            res["enable_after"] = int(_read("/sys/block/%s/trace/enable" % os.path.basename(self.disk)))
        except (OSError, ValueError):
            pass
        m = re.search(r"You have (\d+) \(\s*(\d+)\) dropped events", out or "")
        res["dropped_events"] = int(m.group(1)) if m else 0
        if not glob.glob(BT_DIR + "/bt.blktrace.*"):
            res["error"] = "no trace: " + (out or "").strip()[-300:]
            return res
        p = subprocess.run("blkparse -q -i bt -D %s -f '%%a %%d %%n\\n'" % BT_DIR, shell=True,
                           capture_output=True, text=True, timeout=600)
        ev = {}
        for line in p.stdout.splitlines():
            f = line.split()
            if len(f) != 3 or f[0] not in ("Q", "D"):
                continue
            act, rwbs, n = f[0], f[1], int(f[2]) * 512
            d = "discard" if "D" in rwbs else "write" if "W" in rwbs else "read" if "R" in rwbs else "other"
            if n == 0:
                d = "flush" if "F" in rwbs else "empty"
            e = ev.setdefault(act, {}).setdefault(d, {"count": 0, "bytes": 0,
                                                       "hist": {b: 0 for b, _ in BT_BINS}})
            e["count"] += 1
            e["bytes"] += n
            if d in ("read", "write"):
                for b, hi in BT_BINS:
                    if hi is None or n <= hi:
                        e["hist"][b] += 1
                        break
        res["events"] = ev
        shutil.rmtree(BT_DIR, ignore_errors=True)
        return res


# ---- kernel stacks at the timer tick --------------------------------------
TICK_EV = "/sys/kernel/tracing/events/irq_vectors/local_timer_entry"
TICK_HIST = "hist:keys=common_stacktrace:vals=hitcount:sort=hitcount.descending:size=8192"
TICK_ENTRY = "asm_sysvec_apic_timer_interrupt"


def hist_stacks(text):
    """[(count, [frame, ...])] of a tracefs hist keyed by stack trace, frames
    without offsets, innermost first; " [dm_sis]" marks dm-sis's."""
    out, frames = [], []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            frames = []
        elif line.startswith("}") and "hitcount:" in line:
            v = line.split("hitcount:")[1].split()
            if v and v[0].isdigit():
                out.append((int(v[0]), frames))
        elif line and not line.startswith("#") and ":" not in line.split()[0]:
            fr = line.split()[0].split("+")[0]
            frames.append(fr + (" [dm_sis]" if "[dm_sis]" in line else ""))
    return out


def _trigger(ev, cmd):
    """Write one command to the trigger file of event @ev, appending: opened
    for writing without O_APPEND the file is truncated, which removes every
    trigger of the event."""
    fd = os.open(ev + "/trigger", os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, cmd.encode())
    finally:
        os.close(fd)


class StackHist:
    """A tracefs hist trigger keyed by stack trace on event self.EV (a path
    under /sys/kernel/tracing/events), counting from start() to take(),
    which returns the [(count, frames)] of hist_stacks(), or None if the
    kernel has no such event.  The trigger is registered once per boot and
    never removed: each later start() clears it and continues it, each
    take() pauses it.  Registering and removing a trigger turns the event's
    tracepoint on and off, which rewrites kernel text (jump labels) while
    other CPUs run; under TCG that has twice ended a bench run with an
    'Oops: int3' in ttwu_do_activate, a CPU running a patch site's int3 after
    the patch was done.  Pausing only sets a flag."""
    EV = HIST = None
    registered = set()  # events whose trigger this boot registered

    def start(self):
        if not os.path.exists(self.EV) and os.path.isdir("/sys/kernel/tracing"):
            sh("mount -t tracefs nodev /sys/kernel/tracing", check=False)
        self.ok = os.path.exists(self.EV + "/trigger")
        if not self.ok:
            return
        try:
            if self.EV in StackHist.registered:
                _trigger(self.EV, self.HIST + ":clear")
                _trigger(self.EV, self.HIST + ":cont")
            else:
                _trigger(self.EV, self.HIST)
                StackHist.registered.add(self.EV)
        except OSError:
            self.ok = False

    def take(self):
        if not self.ok:
            return None
        _trigger(self.EV, self.HIST + ":pause")
        return hist_stacks(_read(self.EV + "/hist"))


class TickProfile(StackHist):
    """Where the guest's CPUs are at each local timer interrupt while a job
    runs: a hist trigger on irq_vectors:local_timer_entry keyed by stack.
    The unwinder crosses the interrupt entry, so the frames after it are the
    interrupted code (a task, the idle loop or a softirq); a tick taken
    when interrupts came on again (_raw_spin_unlock_irq*) is listed with
    the caller that had them off.  Under TCG the
    tick is the one sampling clock there is (no PMU); an idle CPU ticks
    less, so the idle share is a lower bound."""
    EV, HIST = TICK_EV, TICK_HIST

    def stop(self, top=10):
        stacks = self.take()
        if stacks is None:
            return {"error": "no irq_vectors:local_timer_entry event"}
        leaf, incl, total, idle = {}, {}, 0, 0
        for n, frames in stacks:
            if TICK_ENTRY in frames:
                frames = frames[frames.index(TICK_ENTRY) + 1:]
            total += n
            if any(f in ("do_idle", "default_idle_call") for f in frames):
                idle += n
                continue
            k = frames[0] if frames else "(user space)"
            if k.startswith("_raw_spin_unlock_irq") and len(frames) > 1:
                # the tick waited for interrupts to be enabled again: the
                # time is the caller's, in its section with them disabled
                k += " < " + frames[1]
            leaf[k] = leaf.get(k, 0) + n
            for f in set(frames):
                if "[dm_sis]" in f:
                    incl[f] = incl.get(f, 0) + n

        def top_of(d):
            return [{"fn": k, "pct": round(100.0 * n / total, 1)}
                    for k, n in sorted(d.items(), key=lambda kv: -kv[1])[:top]]
        if not total:
            return {"samples": 0}
        return {"samples": total, "idle_pct": round(100.0 * idle / total, 1),
                "leaf": top_of(leaf), "sis_inclusive": top_of(incl)}


# ---- lock contention ------------------------------------------------------
LOCK_EV = "/sys/kernel/tracing/events/lock/contention_begin"
LOCK_HIST = "hist:keys=common_stacktrace:vals=hitcount:sort=hitcount.descending:size=2048"


class LockTrace(StackHist):
    """Lock contention while a job runs: the kernel's lock:contention_begin
    event (a mutex, rwsem or spinlock found held; no lockdep needed) counted
    by call stack with a hist trigger.  A site is the first two frames of the
    stack, offsets dropped (for dm-sis's core mutex: the core call that took
    it, and its caller)."""
    EV, HIST = LOCK_EV, LOCK_HIST

    def stop(self, top=8):
        stacks = self.take()
        if stacks is None:
            return {"error": "no lock:contention_begin event"}
        sites = {}
        for n, frames in stacks:
            site = " < ".join(frames[:2]) or "?"
            sites[site] = sites.get(site, 0) + n
        rows = sorted(sites.items(), key=lambda kv: -kv[1])
        return {"total": sum(sites.values()),
                "sis_total": sum(n for k, n in sites.items() if "[dm_sis]" in k),
                "top": [{"site": k, "count": n} for k, n in rows[:top]]}


# ---- targets ------------------------------------------------------------

class Target:
    kind = "?"

    def __init__(self, disk, logical_bytes, name=None):
        self.disk = disk
        self.logical = logical_bytes
        self.name = name or "%s-%s" % (PREFIX, self.kind)
        self.dev = "/dev/mapper/" + self.name
        self.volumes = []  # dm names of the devices activate() made

    def mknode(self):
        sh("dmsetup mknodes", check=False)
        if not os.path.exists(self.dev):
            raise CmdFailed("%s missing after dmsetup create" % self.dev)

    def setup(self):
        raise NotImplementedError

    def space(self):
        """Target's own accounting: {"used": bytes (data + metadata), "data": bytes, ...}."""
        return {}

    def module_mem(self):
        return None

    def drop_target_cache(self):
        pass

    # Volumes (the clones section): a target with volumes defines
    # clone_message() and volume_table(); volume 0 is self.dev.
    def clone_message(self, new, origin):
        """(dm device, message) that makes volume @new a clone of @origin."""
        raise NotImplementedError

    def volume_table(self, vid):
        raise NotImplementedError

    def clone(self, new, origin=0):
        """Clone volume @origin (0: self.dev, suspended around the message
        as dm-thin requires, so the clone is a consistent point in time)."""
        dev, msg = self.clone_message(new, origin)
        sh("dmsetup suspend %s" % self.name)
        try:
            sh("dmsetup message %s 0 %s" % (dev, msg))
        finally:
            sh("dmsetup resume %s" % self.name)

    def volume_name(self, vid):
        """The dm name of volume @vid (activate() makes those after 0)."""
        return "%s-v%d" % (self.name, vid) if vid else self.name

    def volume_figures(self, vid):
        """The target's own figures for volume @vid (bytes), or None."""
        return None

    def activate(self, vid):
        """A dm device of its own for volume @vid; returns its path."""
        n = self.volume_name(vid)
        sh("dmsetup create %s --table '%s'" % (n, self.volume_table(vid)), timeout=300)
        self.volumes.append(n)
        sh("dmsetup mknodes", check=False)
        return "/dev/mapper/" + n

    def teardown(self):
        for n in self.volumes[::-1] + self.dm_names():
            for _ in range(5):
                if sh("dmsetup remove %s" % n, check=False, timeout=120) is not None and \
                        not os.path.exists("/dev/mapper/" + n):
                    break
                time.sleep(1)

    def dm_names(self):
        return [self.name]

    def describe(self):
        return ""


class Linear(Target):
    kind = "linear"

    def setup(self):
        sh("dmsetup create %s --table '0 %d linear %s 0'" % (self.name, self.logical // 512, self.disk))
        self.mknode()

    def describe(self):
        return "dm-linear over the whole logical size (the physical reference)"


class Thin(Target):
    kind = "thin"
    META = 64 * MiB
    BLOCK_SECTORS = 128  # 64 KiB, LVM's default chunk size

    def pool_data(self):
        """Make the pool's data device, the disk after the metadata area;
        return (path, sectors)."""
        disk_bytes = int(sh("blockdev --getsize64 %s" % self.disk))
        data = (disk_bytes - self.META) // 512
        data -= data % self.BLOCK_SECTORS
        dat = self.name + "-data"
        sh("dmsetup create %s --table '0 %d linear %s %d'" % (dat, data, self.disk, self.META // 512))
        return "/dev/mapper/" + dat, data

    def setup(self):
        meta, pool = self.name + "-meta", self.name + "-pool"
        sh("dmsetup create %s --table '0 %d linear %s 0'" % (meta, self.META // 512, self.disk))
        dat, data = self.pool_data()
        sh("dmsetup mknodes", check=False)
        sh("dd if=/dev/zero of=/dev/mapper/%s bs=4096 count=1 oflag=direct status=none" % meta)
        sh("dmsetup create %s --table '0 %d thin-pool /dev/mapper/%s %s %d 0'"
           % (pool, data, meta, dat, self.BLOCK_SECTORS))
        sh("dmsetup message %s 0 'create_thin 0'" % pool)
        sh("dmsetup create %s --table '%s'" % (self.name, self.volume_table(0)))
        self.mknode()

    def volume_table(self, vid):
        return "0 %d thin /dev/mapper/%s-pool %d" % (self.logical // 512, self.name, vid)

    def clone_message(self, new, origin):
        return self.name + "-pool", "'create_snap %d %d'" % (new, origin)

    def dm_names(self):
        return [self.name, self.name + "-pool", self.name + "-data", self.name + "-meta"]

    def space(self):
        st = sh("dmsetup status %s-pool" % self.name).split()
        # 0 <len> thin-pool <trans> <meta used>/<total> <data used>/<total> ...
        mu, mt = (int(x) for x in st[4].split("/"))
        du, dt = (int(x) for x in st[5].split("/"))
        bs = self.BLOCK_SECTORS * 512
        return {"used": du * bs + mu * 4096, "data": du * bs, "meta": mu * 4096,
                "total": dt * bs + mt * 4096, "raw": " ".join(st[3:])}

    def describe(self):
        return ("dm-thin: pool (64 MiB metadata + rest of the disk as data, 64 KiB blocks, "
                "block zeroing and discard passdown on: dm-thin defaults) + one thin volume")


class Vdo(Target):
    kind = "vdo"

    def setup(self):
        disk_bytes = int(sh("blockdev --getsize64 %s" % self.disk))
        self.format_out = sh("vdoformat --force --logical-size=%dM --slab-bits=15 %s 2>&1"
                             % (self.logical // MiB, self.disk), timeout=300).strip()
        sh("dmsetup create %s --table '0 %d vdo V4 %s %d 4096 32768 16380'"
           % (self.name, self.logical // 512, self.disk, disk_bytes // 4096), timeout=300)
        self.mknode()

    def stats(self):
        out = sh("dmsetup message %s 0 stats" % self.name)
        s = {}
        for k in ("dataBlocksUsed", "overheadBlocksUsed", "logicalBlocksUsed", "physicalBlocks"):
            m = re.search(r"\b%s : (\d+)" % k, out)
            s[k] = int(m.group(1)) if m else None
        m = re.search(r"memoryUsage : \{ bytesUsed : (\d+), peakBytesUsed : (\d+)", out)
        s["bytesUsed"], s["peakBytesUsed"] = (int(m.group(1)), int(m.group(2))) if m else (None, None)
        return s

    def space(self):
        s = self.stats()
        return {"used": (s["dataBlocksUsed"] + s["overheadBlocksUsed"]) * 4096,
                "data": s["dataBlocksUsed"] * 4096, "meta": s["overheadBlocksUsed"] * 4096,
                "total": s["physicalBlocks"] * 4096, "logical_used": s["logicalBlocksUsed"] * 4096}

    def module_mem(self):
        s = self.stats()
        return {"bytes": s["bytesUsed"], "peak_bytes": s["peakBytesUsed"],
                "what": "vdo stats memoryUsage"}

    def describe(self):
        return ("dm-vdo (kernel 6.12): vdoformat --slab-bits=15 (128 MiB slabs), default "
                "dense index (0.25 GB), compression off (dm-vdo default), block map cache 128 MiB")


SIS_FIELDS = ["mode", "mapped", "used_total", "written", "new_data", "ratio", "zero_blocks",
              "cache_hits", "cache_misses", "cache_blocks", "commits", "needs_check",
              "data_blocks", "dedup_hits", "fast_reads", "index_ram",
              "volume", "exclusive", "volumes", "pool_mapped", "fast_writes",
              "metadata_ram"]


class Sis(Target):
    kind = "sis"

    def setup(self):
        sh("modprobe dm-sis")
        sh("dmsetup create %s --table '0 %d sis %s'" % (self.name, self.logical // 512, self.disk),
           timeout=300)
        self.mknode()

    def status(self, name=None):
        st = sh("dmsetup status %s" % (name or self.name)).split()[3:]
        d = dict(zip(SIS_FIELDS, st))
        return d

    def space(self):
        d = self.status()
        used, total = (int(x) for x in d["used_total"].split("/"))
        data = int(d["data_blocks"])
        return {"used": used * 4096, "data": data * 4096, "meta": (used - data) * 4096,
                "total": total * 4096, "mapped": int(d["mapped"]) * 4096,
                "ratio": float(d["ratio"]), "mode": d["mode"], "dedup_hits": int(d["dedup_hits"]),
                "cache_hits": int(d["cache_hits"]), "cache_misses": int(d["cache_misses"])}

    def module_mem(self):
        d = self.status()
        return {"bytes": int(d["cache_blocks"]) * 4096, "what": "sis status cache_blocks x 4 KiB"}

    def drop_target_cache(self):
        sh("dmsetup message %s 0 drop_cache" % self.name, check=False)

    def volume_table(self, vid):
        return "0 %d sis %s 2 volume %d" % (self.logical // 512, self.disk, vid)

    def clone_message(self, new, origin):
        return self.name, "clone_volume %d %d clone%d" % (new, origin, new)

    def volume_figures(self, vid):
        """Mapped and exclusive bytes (count_exclusive: what deleting it would free)."""
        n = self.volume_name(vid)
        sh("dmsetup message %s 0 count_exclusive %d" % (n, vid))
        d = self.status(n)
        ex = d.get("exclusive", "-")
        return {"mapped": int(d["mapped"]) * 4096,
                "exclusive": int(ex) * 4096 if ex.isdigit() else None}

    def describe(self):
        return "dm-sis with default features (zero detection on, commit interval 1 s)"


class ThinVdo(Thin):
    """The LVM stack: dm-thin whose pool data device is a dm-vdo device (the
    disk after the thin metadata area); the thin metadata stays on the disk."""
    kind = "thinvdo"

    def pool_data(self):
        disk_bytes = int(sh("blockdev --getsize64 %s" % self.disk))
        n = (disk_bytes - self.META) // MiB * MiB
        vd = self.name + "-vdodisk"
        sh("dmsetup create %s --table '0 %d linear %s %d'" % (vd, n // 512, self.disk, self.META // 512))
        sh("dmsetup mknodes", check=False)
        self.vdo = Vdo("/dev/mapper/" + vd, n, name=self.name + "-vdo")
        self.vdo.setup()
        self.format_out = self.vdo.format_out
        return self.vdo.dev, n // 512

    def dm_names(self):
        return Thin.dm_names(self) + [self.name + "-vdo", self.name + "-vdodisk"]

    def space(self):
        th, v = Thin.space(self), self.vdo.space()
        return {"used": v["used"] + th["meta"], "data": v["data"], "meta": v["meta"] + th["meta"],
                "total": v["total"] + th["meta"], "thin_data": th["data"], "thin_raw": th["raw"],
                "vdo_logical_used": v["logical_used"]}

    def module_mem(self):
        return self.vdo.module_mem()

    def describe(self):
        return ("dm-thin over dm-vdo (the LVM thin-on-VDO stack): thin metadata 64 MiB on the disk, "
                "the thin pool's data device (64 KiB blocks) a dm-vdo device over the rest of the "
                "disk (logical size = its physical size, vdoformat --slab-bits=15)")


KINDS = {"linear": Linear, "thin": Thin, "vdo": Vdo, "sis": Sis}
CLONE_KINDS = {"thin": Thin, "thinvdo": ThinVdo, "sis": Sis}


# ---- measurement --------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.a = args
        self.S = args.size * MiB

    def snap(self, t):
        s = {"t": time.monotonic(), "cpu": cpu_ticks(), "disk": disk_stat(t.disk)}
        try:
            s["space"] = t.space()
        except Exception as e:  # noqa: BLE001 (a broken status must not stop the run)
            s["space"] = {"error": str(e)}
        return s

    def record(self, t, run, layer, job, before, after, extra=None):
        d0, d1 = before["disk"], after["disk"]
        c0, c1 = before["cpu"], after["cpu"]
        rec = {"type": "job", "run": run, "target": t.kind, "layer": layer, "job": job,
               "elapsed_s": round(after["t"] - before["t"], 3),
               "backing": {k: d1[k] - d0[k] for k in d0},
               "cpu_s": {k: round((c1[k] - c0[k]) / HZ, 2) for k in c0},
               "space_after": after["space"]}
        s0, s1 = before["space"], after["space"]
        if "used" in s0 and "used" in s1:
            rec["space_delta"] = {k: s1[k] - s0[k] for k in ("used", "data") if k in s0}
        if extra:
            rec.update(extra)
        emit(rec)
        return rec

    def measured(self, t, run, layer, job, fn, flush=None, cold=None, profile=False, trace=False,
                 locks=False, ticks=False):
        """Run fn() between two snapshots; fn returns a dict of extra figures.
        cold: drop the page cache and the target's cache first (default: read jobs).
        profile: per-thread CPU profile (Profiler) and kernel stacks at the
        timer tick (TickProfile); ticks: the stacks alone; trace: blktrace of the
        target's disk (BlkTrace); locks: lock contention by call site
        (LockTrace); all start before the first snapshot and stop after the
        second, so their set-up is outside the job's time."""
        STEP[0] = "run %d %s %s %s" % (run, t.kind, layer, job)
        if cold is None:
            cold = "read" in job
        if cold:
            drop_caches()
            t.drop_target_cache()
        bt = BlkTrace(t.disk) if trace else None
        prof = Profiler() if profile else None
        lt = LockTrace() if locks else None
        tp = TickProfile() if profile or ticks else None
        if lt:
            lt.start()
        if tp:
            tp.start()
        if bt:
            bt.start()
        if prof:
            prof.start()
        try:
            before = self.snap(t)
            extra = fn() or {}
            if flush:
                f0 = time.monotonic()
                flush()
                extra["flush_s"] = round(time.monotonic() - f0, 3)
            after = self.snap(t)
        finally:
            if prof:
                pr = prof.stop()
            if bt:
                btr = bt.stop()
            if lt:
                ltr = lt.stop()
            if tp:
                tpr = tp.stop()
        if tp:
            extra["tick_profile"] = tpr
        if lt:
            extra["lock_contention"] = ltr
        if prof:
            extra["profile"] = pr
        if bt:
            extra["blktrace"] = btr
        return self.record(t, run, layer, job, before, after, extra)

    # fio ----------------------------------------------------------------
    def fio(self, name, sections, common, lat_log=False):
        """Run fio on a job file: one section per (filename, offset, size, runtime),
        one after another (stonewall).  Figures are summed over the sections:
        bytes and runtimes add up, so MiB/s = all bytes / all time.  A section
        of several jobs (numjobs) needs group_reporting (one figure per section).
        Mixed jobs (randrw) count read and write bytes.  lat_log: log every
        I/O's completion latency and count those over SLOW_NS."""
        jf = "/tmp/bench-%s.fio" % name
        ll = "/tmp/bench-lat-%s" % name
        for old in glob.glob(ll + "_*.log"):
            os.unlink(old)
        with open(jf, "w") as f:
            f.write("[global]\nioengine=libaio\ndirect=1\nrefill_buffers=1\nfallocate=none\n")
            for k, v in common.items():
                f.write("%s=%s\n" % (k, v))
            if lat_log:
                f.write("write_lat_log=%s\n" % ll)
            for i, (fn, off, size, runtime) in enumerate(sections):
                f.write("[%s.%d]\nstonewall\nfilename=%s\noffset=%d\nsize=%d\n" % (name, i, fn, off, size))
                if runtime:
                    f.write("runtime=%d\n" % runtime)
        out = sh("fio --output-format=json %s" % jf, timeout=self.a.cmd_timeout)
        j = json.loads(out[out.index("{"):])
        bs = int(common["bs"].rstrip("k")) * 1024
        res = {"bs": bs, "sections": len(sections), "io_bytes": 0, "fio_runtime_ms": 0,
               "section_bytes": []}
        for k in ("numjobs", "iodepth", "rw"):
            if k in common:
                res["fio_" + k] = common[k]
        lat_w = lat_n = cpu_usr = cpu_sys = 0.0
        p99 = clat_max = 0.0
        pct = {}
        for job in j["jobs"]:
            dirs = [d for d in ("read", "write") if job[d]["io_bytes"]] or ["write"]
            res["dir"] = dirs[0] if len(dirs) == 1 else "rw"
            rt_job = max(job[d]["runtime"] for d in dirs)
            nb = sum(job[d]["io_bytes"] for d in dirs)
            res["io_bytes"] += nb
            res["section_bytes"].append(nb)
            res["fio_runtime_ms"] += rt_job
            for d in dirs:
                x = job[d]
                res.setdefault("fio_%s_bytes" % d, 0)
                res["fio_%s_bytes" % d] += x["io_bytes"]
                ios = x["total_ios"] or 0
                lat_w += x["lat_ns"]["mean"] * ios
                lat_n += ios
                pc = x["clat_ns"].get("percentile", {})
                p99 = max(p99, pc.get("99.000000", 0))
                clat_max = max(clat_max, x["clat_ns"].get("max", 0))
                for k, v in pc.items():
                    pct[k] = max(pct.get(k, 0), v)
            cpu_usr += job["usr_cpu"] * rt_job
            cpu_sys += job["sys_cpu"] * rt_job
        rt = res["fio_runtime_ms"] or 1
        res.update({"fio_bw_mibs": round(res["io_bytes"] / MiB / (rt / 1000.0), 2),
                    "fio_iops": round(res["io_bytes"] / bs / (rt / 1000.0), 1),
                    "lat_mean_us": round(lat_w / lat_n / 1000, 1) if lat_n else None,
                    "lat_p99_us": round(p99 / 1000, 1),
                    "fio_usr_cpu_pct": round(cpu_usr / rt, 2), "fio_sys_cpu_pct": round(cpu_sys / rt, 2),
                    "capped": res["io_bytes"] < sum(sz for _, _, sz, _ in sections)})
        if "percentile_list" in common:
            res["clat_pct_us"] = {"%g" % float(k): round(v / 1000, 1) for k, v in pct.items()}
            res["clat_max_us"] = round(clat_max / 1000, 1)
        if lat_log:
            res.update(self.lat_log_figures(ll))
        return res

    SLOW_NS = 100 * 1000 * 1000

    def lat_log_figures(self, ll):
        """Completion latency of every I/O from fio's clat log(s): how many
        took more than SLOW_NS, and when: [ms into the job (100 ms bucket),
        count, worst latency ms] for the first 100 buckets with any."""
        n = slow = 0
        bursts = {}
        for path in sorted(glob.glob(ll + "_clat.*.log")):
            with open(path) as f:
                for line in f:
                    v = line.split(",")
                    if len(v) < 2:
                        continue
                    n += 1
                    lat = int(v[1])
                    if lat > self.SLOW_NS:
                        slow += 1
                        k = int(v[0]) // 100 * 100
                        if k in bursts or len(bursts) < 100:
                            c, m = bursts.get(k, (0, 0))
                            bursts[k] = (c + 1, max(m, lat))
        for path in glob.glob(ll + "_*.log"):
            os.unlink(path)
        return {"lat_log_ios": n, "slow_ios": slow, "slow_ms": self.SLOW_NS // 1000000,
                "slow_bursts": [[k, c, round(m / 1e6, 1)] for k, (c, m) in sorted(bursts.items())]}

    def fio_jobs(self, t, run, layer, where):
        """where(i) -> (filename, offset) of region i (S bytes).  Regions 0-2:
        sequential writes with dedupe 0/50/90 %; region 3: random writes."""
        S, a = self.S, self.a
        # the same data on every target; new data in every layer and run
        seed = 100000 * run + (1000 if layer == "ext4" else 0)
        ws = {"dedupe_mode": "working_set", "dedupe_working_set_percentage": 5}
        written = []
        for i, dd in enumerate((0, 50, 90)):
            fn, off = where(i)
            common = {"rw": "write", "bs": "128k", "iodepth": 16, "dedupe_percentage": dd,
                      "randseed": seed + i}
            if dd:
                common.update(ws)
            # raw: where a unique (0%) and a duplicate (90%) write spend their
            # time; the backing requests of the unique write
            r = self.measured(t, run, layer, "seqwrite_dedupe%d" % dd,
                              lambda: self.fio("w%d" % i, [(fn, off, S, a.seq_cap)], common),
                              flush=lambda: fsync_path(fn),
                              profile=layer == "raw" and dd in (0, 90),
                              trace=layer == "raw" and dd == 0)
            n = r.get("io_bytes") or 0
            n -= n % (128 << 10)
            if layer == "ext4" and n < S:
                os.truncate(fn, n)  # fio sized the file: no holes to read back
            written.append((fn, off, n))
        fn, off = where(3)
        common = {"rw": "randwrite", "bs": "4k", "iodepth": 32, "dedupe_percentage": 50,
                  "randseed": seed + 3}
        common.update(ws)
        self.measured(t, run, layer, "randwrite4k_qd32_dedupe50",
                      lambda: self.fio("rw", [(fn, off, S, a.rand_runtime)], common),
                      flush=lambda: fsync_path(fn))
        if layer == "raw":
            self.raw_extra_writes(t, run, seed, where)
        # read back exactly what the three sequential jobs wrote
        secs = [(fn, off, n, a.seq_cap) for fn, off, n in written if n]
        self.measured(t, run, layer, "seqread",
                      lambda: self.fio("r", secs, {"rw": "read", "bs": "128k", "iodepth": 16}),
                      ticks=layer == "raw")
        secs = [(fn, off, n, max(1, a.rand_runtime // len(written))) for fn, off, n in written if n]
        self.measured(t, run, layer, "randread4k_qd32",
                      lambda: self.fio("rr", secs, {"rw": "randread", "bs": "4k", "iodepth": 32,
                                                    "randseed": seed + 7}))

    def raw_extra_writes(self, t, run, seed, where):
        """Raw device only.  (1) 4 KiB random read/write, 50% dedupe, QD 32,
        numjobs 1 then 4 (time-based, over region 3, which the random write
        job filled): does a target scale with writers?  (2) A long unique
        sequential 4 KiB write at QD 32 after the four regions (--long-mib):
        completion latency p99.9 and max, and the writes over 100 ms."""
        S, a = self.S, self.a
        fn, off = where(3)
        ws = {"dedupe_mode": "working_set", "dedupe_working_set_percentage": 5}
        for nj in (1, 4):
            common = {"rw": "randrw", "rwmixread": 50, "bs": "4k", "iodepth": 32,
                      "dedupe_percentage": 50, "randseed": seed + 10 + nj, "numjobs": nj,
                      "group_reporting": 1, "time_based": 1}
            common.update(ws)
            self.measured(t, run, "raw", "randrw4k_qd32_dedupe50_nj%d" % nj,
                          lambda: self.fio("rrw%d" % nj, [(fn, off, S, a.randrw_runtime)], common),
                          flush=lambda: fsync_path(fn), cold=True, locks=True)
        if a.long_mib:
            L = a.long_mib * MiB
            fn, off = where(4)
            common = {"rw": "write", "bs": "4k", "iodepth": 32, "dedupe_percentage": 0,
                      "randseed": seed + 20, "percentile_list": "50:99:99.9:99.99"}
            self.measured(t, run, "raw", "longwrite4k_qd32_dedupe0",
                          lambda: self.fio("lw", [(fn, off, L, a.seq_cap)], common, lat_log=True),
                          flush=lambda: fsync_path(fn))

    # one target, one run ------------------------------------------------
    def run_target(self, t, run):
        a, S = self.a, self.S
        drop_caches()
        mem0 = mem_snapshot()
        t0 = time.monotonic()
        sh("blkdiscard %s" % t.disk, check=False)
        before = self.snap_disk_only(t)
        t.setup()
        after = self.snap(t)
        mem1 = mem_snapshot()
        self.record(t, run, "setup", "create", before, after,
                    {"describe": t.describe(), "table": sh("dmsetup table %s" % t.name).strip()})

        # raw device: regions of S bytes, one per write job
        self.fio_jobs(t, run, "raw", lambda i: (t.dev, i * S))

        # a fresh filesystem over the whole device
        # discard what the raw jobs wrote (all of the device is slow on dm-vdo)
        self.measured(t, run, "raw", "discard_regions",
                      lambda: sh("blkdiscard -o 0 -l %d %s" % (4 * S + a.long_mib * MiB, t.dev)) and None)
        self.measured(t, run, "ext4", "mkfs",
                      lambda: mkfs_ext4(t.dev, a.cmd_timeout),
                      flush=lambda: fsync_path(t.dev))
        os.makedirs(MNT, exist_ok=True)
        sh("mount -t ext4 %s %s" % (t.dev, MNT))
        try:
            self.fio_jobs(t, run, "ext4", lambda i: ("%s/fio.%d" % (MNT, i), 0))
            self.copies(t, run)
            self.containers(t, run)
            drop_caches()
            t.drop_target_cache()
            mem2 = mem_snapshot()
            df = os.statvfs(MNT)
            fs_used = (df.f_blocks - df.f_bfree) * df.f_frsize
            sp = t.space() if t.kind != "linear" else {}
        finally:
            sh("umount %s" % MNT, check=False, timeout=300)

        mm = None
        try:
            mm = t.module_mem()
        except Exception as e:  # noqa: BLE001
            mm = {"error": str(e)}
        emit({"type": "target", "run": run, "target": t.kind, "disk": t.disk,
              "logical_bytes": t.logical, "describe": t.describe(),
              "ext4_used_bytes": fs_used, "space_end": sp,
              "mem_base": mem0, "mem_created": mem1, "mem_end": mem2,
              "mem_module": mm, "wall_s": round(time.monotonic() - t0, 1),
              "format_out": getattr(t, "format_out", None)})
        t.teardown()

    def snap_disk_only(self, t):
        return {"t": time.monotonic(), "cpu": cpu_ticks(), "disk": disk_stat(t.disk), "space": {}}

    def copies(self, t, run):
        """K identical files on ext4; read back cold."""
        K = self.a.copies
        d = MNT + "/copies"
        os.makedirs(d, exist_ok=True)

        def write():
            for i in range(K):
                shutil.copyfile(COPY_SRC, "%s/copy.%d" % (d, i))
            return {"io_bytes": K * os.path.getsize(COPY_SRC), "copies": K,
                    "file_bytes": os.path.getsize(COPY_SRC)}
        self.measured(t, run, "ext4", "copies_write", write, flush=os.sync)

        def read():
            return {"io_bytes": read_files(["%s/copy.%d" % (d, i) for i in range(K)]), "copies": K}
        # where its guest CPU goes (the copies out of the shared cache?)
        self.measured(t, run, "ext4", "copies_read_cold", read, trace=True, ticks=True)

    def containers(self, t, run):
        """K copies of a real tree (the guest's /usr, without kernel modules)."""
        K = self.a.containers
        d = MNT + "/containers"
        os.makedirs(d, exist_ok=True)
        tree_bytes = self.tree_bytes

        def write():
            t0 = time.monotonic()
            done = 0
            for i in range(K):
                if i >= 2 and time.monotonic() - t0 > self.a.containers_budget:
                    break  # a slow target: fewer copies (recorded), not a blown budget
                os.makedirs("%s/c%d" % (d, i))
                sh("tar -C %s/c%d -xf %s" % (d, i, TREE_TAR), timeout=self.a.cmd_timeout)
                done += 1
            return {"io_bytes": done * tree_bytes, "copies": done, "copies_wanted": K,
                    "tree_bytes": tree_bytes, "tree_files": self.tree_files}
        self.measured(t, run, "ext4", "containers_write", write, flush=os.sync)

        def read():
            # every file of a copy in directory order, as tar would (GNU tar
            # skips file contents when its archive is /dev/null, and a pipe
            # costs CPU in TCG); copy after copy, at least two, then no new
            # copy after the time budget
            t0 = time.monotonic()
            n = nfiles = done = 0
            for c in sorted(os.listdir(d)):
                if done >= 2 and time.monotonic() - t0 > self.a.containers_budget:
                    break
                files = tree_files(os.path.join(d, c))
                n += read_files(files)
                nfiles += len(files)
                done += 1
            return {"io_bytes": n, "copies": done, "files": nfiles}
        self.measured(t, run, "ext4", "containers_read_cold", read)

    # dm-linear and dm-sis job by job ---------------------------------------
    def pairs(self, tdisks, npairs, mib, prefix="pair"):
        """--pairs N: dm-linear and dm-sis side by side, each on its disk of
        the runs, fresh for every pair; each issue-11 ratio job runs on one
        and straight after on the other, the order alternating between
        pairs.  A target's run is minutes long and the emulator's speed moves
        within it (the calibration table), while a job pair is seconds apart.
        Regions of @mib MiB: sequential writes with dedupe 0/50/90 %,
        their read-back, 4 KiB random reads at QD 32 over them; then ext4
        with K identical files on both, and their cold reads.  The jobs are
        recorded on layers @prefix-raw and @prefix-ext4 ("bound": the same
        on two disks throttled by QEMU, --bound-pairs)."""
        a = self.a
        P = mib * MiB
        ws = {"dedupe_mode": "working_set", "dedupe_working_set_percentage": 5}
        raw, ext4 = prefix + "-raw", prefix + "-ext4"
        for p in range(1, npairs + 1):
            kinds = ("linear", "sis") if p % 2 else ("sis", "linear")
            ts = [KINDS[k](tdisks[k], a.logical * MiB) for k in kinds]
            seed = 700000 + 1000 * p
            STEP[0] = "%s %d setup" % (prefix, p)
            note("%s %d: %s" % (prefix, p, " then ".join(kinds)))
            mnts = []
            try:
                for t in ts:
                    sh("blkdiscard %s" % t.disk, check=False)
                    t.setup()
                written = []
                for i, dd in enumerate((0, 50, 90)):
                    common = {"rw": "write", "bs": "128k", "iodepth": 16,
                              "dedupe_percentage": dd, "randseed": seed + i}
                    if dd:
                        common.update(ws)
                    for t in ts:
                        self.measured(t, p, raw, "seqwrite_dedupe%d" % dd,
                                      lambda: self.fio("pw%d" % i, [(t.dev, i * P, P, a.seq_cap)],
                                                       common),
                                      flush=lambda: fsync_path(t.dev))
                    written.append(i * P)
                for t in ts:
                    secs = [(t.dev, off, P, a.seq_cap) for off in written]
                    self.measured(t, p, raw, "seqread",
                                  lambda: self.fio("pr", secs, {"rw": "read", "bs": "128k",
                                                                "iodepth": 16}))
                for t in ts:
                    secs = [(t.dev, off, P, max(1, a.rand_runtime // len(written)))
                            for off in written]
                    self.measured(t, p, raw, "randread4k_qd32",
                                  lambda: self.fio("prr", secs, {"rw": "randread", "bs": "4k",
                                                                 "iodepth": 32,
                                                                 "randseed": seed + 7}))
                K = a.copies
                for t in ts:
                    STEP[0] = "%s %d %s ext4" % (prefix, p, t.kind)
                    mnt = "%s-%s" % (MNT, t.kind)
                    mkfs_ext4(t.dev, a.cmd_timeout)
                    os.makedirs(mnt, exist_ok=True)
                    sh("mount -t ext4 %s %s" % (t.dev, mnt))
                    mnts.append(mnt)
                    for k in range(K):
                        shutil.copyfile(COPY_SRC, "%s/copy.%d" % (mnt, k))
                    os.sync()
                for t, mnt in zip(ts, mnts):
                    files = ["%s/copy.%d" % (mnt, k) for k in range(K)]
                    self.measured(t, p, ext4, "copies_read_cold",
                                  lambda: {"io_bytes": read_files(files), "copies": K})
            finally:
                for mnt in mnts:
                    sh("umount %s" % mnt, check=False, timeout=300)
                for t in ts:
                    try:
                        t.teardown()
                    except Exception:  # noqa: BLE001
                        pass

    # dm-sis at several device sizes ----------------------------------------
    def scale_one(self, size_s, disk):
        """dm-sis over the whole of @disk (a blank sparse disk of @size_s):
        format (create) time and RAM, a prefill of --scale-prefill MiB of
        unique data in 16 pieces spread over the device, then the raw seq
        128k writes of the main jobs (dedupe 0 and 50 %, --size MiB each at
        the start of the device)."""
        a, S = self.a, self.S
        size = int(sh("blockdev --getsize64 %s" % disk))
        t = Sis(disk, size)
        t.name = "%s-scale" % PREFIX
        t.dev = "/dev/mapper/" + t.name
        rec = {"type": "scale", "size": size_s, "disk": disk, "disk_bytes": size,
               "logical_bytes": size, "prefill_mib": a.scale_prefill, "size_mib": a.size,
               "metadata_cache_mb": param("dm_sis", "metadata_cache_mb"),
               "cache_mb": param("dm_sis", "cache_mb")}
        STEP[0] = "scale %s create" % size_s
        drop_caches()
        m0 = meminfo()
        t0 = time.monotonic()
        t.setup()
        rec["format_s"] = round(time.monotonic() - t0, 3)
        m1 = meminfo()

        def ram(m):
            return {k: m[k] for k in ("MemAvailable", "MemFree", "Slab", "SUnreclaim", "VmallocUsed")}
        try:
            rec["mem_before"], rec["mem_created"] = ram(m0), ram(m1)
            rec["index_ram_created"] = int(t.status().get("index_ram", -1))
            # prefill: 16 pieces spread over the device past the job regions
            STEP[0] = "scale %s prefill" % size_s
            n = 16
            piece = a.scale_prefill * MiB // n
            piece -= piece % (128 << 10)
            span = (size - 2 * S) // n
            span -= span % MiB
            secs = [(t.dev, 2 * S + i * span, piece, 0) for i in range(n)] if piece else []
            if secs:
                p0 = time.monotonic()
                r = self.fio("scale-prefill", secs, {"rw": "write", "bs": "128k", "iodepth": 16,
                                                     "dedupe_percentage": 0, "randseed": 4242})
                fsync_path(t.dev)
                rec["prefill_s"] = round(time.monotonic() - p0, 1)
                rec["prefill_bytes"] = r["io_bytes"]
            ws = {"dedupe_mode": "working_set", "dedupe_working_set_percentage": 5}
            for i, dd in enumerate((0, 50)):
                STEP[0] = "scale %s dedupe %d" % (size_s, dd)
                common = {"rw": "write", "bs": "128k", "iodepth": 16, "dedupe_percentage": dd,
                          "randseed": 4300 + i}
                if dd:
                    common.update(ws)
                tp = TickProfile()
                tp.start()
                try:
                    w = self.scale_write(t, "scale-w%d" % dd, i * S, S, common)
                finally:
                    tpr = tp.stop()
                w["tick_profile"] = tpr
                rec["dedupe%d" % dd] = w
            st = t.status()
            rec["mem_end"] = ram(meminfo())
            rec["index_ram_end"] = int(st.get("index_ram", -1))
            rec["status_end"] = st
        finally:
            t.teardown()
        emit(rec)

    def scale(self, disks):
        sizes = [x for x in self.a.scale.split(",") if x]
        if len(disks) < len(sizes):
            emit({"type": "error", "target": "scale",
                  "error": "need one disk per --scale size: %s, disks %s" % (sizes, disks)})
            return
        sh("modprobe dm-sis")
        for size_s, disk in zip(sizes, disks):
            note("scale: dm-sis on %s (%s)" % (disk, size_s))
            t0 = time.monotonic()
            try:
                self.scale_one(size_s, disk)
            except Exception as e:  # noqa: BLE001 (record and go on)
                emit({"type": "error", "target": "scale", "size": size_s,
                      "error": "%s: %s" % (type(e).__name__, e),
                      "dmesg": sh("dmesg | tail -n 20", check=False)})
            note("scale: %s done in %.0f s" % (size_s, time.monotonic() - t0))
        if self.a.scale_rounds and len(sizes) > 1:
            try:
                self.scale_rounds(sizes, disks[:len(sizes)])
            except Exception as e:  # noqa: BLE001 (record and go on)
                emit({"type": "error", "target": "scale", "size": "rounds",
                      "error": "%s: %s" % (type(e).__name__, e), "step": STEP[0],
                      "dmesg": sh("dmesg | tail -n 20", check=False)})

    def scale_write(self, t, name, off, size, common):
        """A capped fio write of @size bytes at @off of scale target @t and its
        flush: MiB/s over both, and guest CPU s per GiB (/proc/stat busy)."""
        c0 = cpu_ticks()
        j0 = time.monotonic()
        r = self.fio(name, [(t.dev, off, size, self.a.seq_cap)], common)
        fsync_path(t.dev)
        el = time.monotonic() - j0
        busy = (cpu_ticks()["busy"] - c0["busy"]) / HZ
        gib = r["io_bytes"] / float(1 << 30)
        return {"io_bytes": r["io_bytes"], "elapsed_s": round(el, 3),
                "mib_s": round(r["io_bytes"] / MiB / el, 2) if el else None,
                "fio_bw_mibs": r["fio_bw_mibs"], "capped": r["capped"],
                "cpu_s_per_gib": round(busy / gib, 2) if gib else None}

    def scale_rounds(self, sizes, disks):
        """The unique write on every scale device, alternating: each device
        is opened again (as scale_one() left it: prefilled and written), and
        in each of --scale-rounds rounds a unique seq write 128k of
        --pairs-mib MiB goes to each, the order turned round every round,
        so the sizes are compared seconds apart rather than minutes (one
        measurement each in scale_one() followed the emulator's slow and
        fast spells: 0.70x in one run, 1.23x in the next)."""
        a = self.a
        ts = []
        try:
            for size_s, disk in zip(sizes, disks):
                t = Sis(disk, int(sh("blockdev --getsize64 %s" % disk)))
                t.name = "%s-scale-%s" % (PREFIX, size_s)
                t.dev = "/dev/mapper/" + t.name
                STEP[0] = "scale rounds: open %s" % size_s
                t.setup()
                ts.append((size_s, t))
            rows = []
            S = a.pairs_mib * MiB
            for rnd in range(1, a.scale_rounds + 1):
                order = ts if rnd % 2 else ts[::-1]
                for size_s, t in order:
                    STEP[0] = "scale round %d %s" % (rnd, size_s)
                    w = self.scale_write(t, "scale-round", 0, S,
                                         {"rw": "write", "bs": "128k", "iodepth": 16,
                                          "dedupe_percentage": 0, "randseed": 5000 + rnd})
                    w.update({"round": rnd, "size": size_s})
                    rows.append(w)
            emit({"type": "scale_rounds", "sizes": sizes, "mib": a.pairs_mib, "rounds": rows})
        finally:
            for _, t in ts:
                t.teardown()

    # K clones of one volume holding a tree (issue 13) ----------------------
    def target_mem(self, t):
        """Memory the stack's targets hold: the target's own figure
        (module_mem: dm-sis's shared cache, dm-vdo's allocations; none for
        dm-thin) and dm-bufio's (dm-thin's metadata cache; module-wide)."""
        mm = t.module_mem() or {}
        b = param("dm_bufio", "current_allocated_bytes")
        return {"target": mm.get("bytes") or 0, "bufio": int(b) if b else 0}

    def clones_one(self, t):
        """One stack: volume 0 holds ext4 with the tree; K clones of it, each
        on a dm device of its own; a boot-like cold read of the same files
        (the first --clones-read-mib MiB of the tree, in sorted order) from
        every clone, each mounted read-only; a different small change on each
        clone (a file of unique data, 16 files touched); the space the pool
        reports after each step."""
        a, K = self.a, self.a.clones
        rec = {"type": "clones", "stack": t.kind, "clones": K, "disk": t.disk,
               "volume_bytes": t.logical, "tree_bytes": self.tree_bytes,
               "tree_files": self.tree_files, "read_mib": a.clones_read_mib,
               "change_bytes": a.clones_change_kib * 1024}
        base = MNT + "/base"
        mnts = []
        w0 = time.monotonic()
        STEP[0] = "clones %s setup" % t.kind
        sh("blkdiscard %s" % t.disk, check=False)
        t.setup()
        rec["setup_s"] = round(time.monotonic() - w0, 3)
        rec["describe"] = t.describe()
        rec["table"] = sh("dmsetup table %s" % t.name).strip()
        try:
            rec["space_empty"] = t.space()
            # volume 0: ext4 holding the tree, unmounted (clean) before cloning
            STEP[0] = "clones %s base" % t.kind
            s0 = time.monotonic()
            mkfs_ext4(t.dev, a.cmd_timeout)
            os.makedirs(base, exist_ok=True)
            sh("mount -t ext4 %s %s" % (t.dev, base))
            try:
                sh("tar -C %s -xf %s" % (base, TREE_TAR), timeout=a.cmd_timeout)
                sample, n = [], 0
                for f in tree_files(base):
                    if n >= a.clones_read_mib * MiB:
                        break
                    sample.append(os.path.relpath(f, base))
                    n += os.path.getsize(f)
            finally:
                sh("umount %s" % base, timeout=300)
            fsync_path(t.dev)
            rec["base_fill_s"] = round(time.monotonic() - s0, 3)
            rec["sample_files"], rec["sample_bytes"] = len(sample), n
            rec["space_base"] = t.space()

            # (1) K clones, then a dm device for each
            STEP[0] = "clones %s clone" % t.kind
            c0 = time.monotonic()
            for i in range(1, K + 1):
                t.clone(i, 0)
            c1 = time.monotonic()
            devs = [t.activate(i) for i in range(1, K + 1)]
            rec["clone_s"] = round(c1 - c0, 3)
            rec["activate_s"] = round(time.monotonic() - c1, 3)
            rec["space_clones"] = t.space()

            # (2) boot-like cold read: mount every clone, read the sample
            STEP[0] = "clones %s cold read" % t.kind
            drop_caches()
            t.drop_target_cache()
            m0, tm0, d0 = mem_snapshot(), self.target_mem(t), disk_stat(t.disk)
            r0 = time.monotonic()
            nread, per = 0, []
            for i, dev in enumerate(devs, 1):
                mp = "%s/c%d" % (MNT, i)
                os.makedirs(mp, exist_ok=True)
                sh("mount -t ext4 -o ro %s %s" % (dev, mp))
                mnts.append(mp)
                nread += read_files([os.path.join(mp, f) for f in sample])
                per.append(disk_stat(t.disk)["read_bytes"] - d0["read_bytes"])
            r1 = time.monotonic()
            m1, tm1, d1 = mem_snapshot(), self.target_mem(t), disk_stat(t.disk)
            rec["read"] = {"elapsed_s": round(r1 - r0, 3), "bytes": nread,
                           "disk_read_bytes": d1["read_bytes"] - d0["read_bytes"],
                           "disk_read_ios": d1["read_ios"] - d0["read_ios"],
                           "disk_read_cumulative": per,
                           "page_cache_bytes": (m1["cached"] + m1["buffers"]) - (m0["cached"] + m0["buffers"]),
                           "target_mem_bytes": tm1["target"] - tm0["target"],
                           "bufio_bytes": tm1["bufio"] - tm0["bufio"],
                           "target_mem_after": tm1, "free_drop_bytes": m0["free"] - m1["free"],
                           "mem_before": m0, "mem_after": m1}
            if t.kind == "sis":
                rec["read"]["status"] = t.status()

            # (3) a different small change on each clone
            STEP[0] = "clones %s change" % t.kind
            d0 = disk_stat(t.disk)
            w1 = time.monotonic()
            step = max(1, len(sample) // 16)
            for i, mp in enumerate(mnts, 1):
                sh("mount -o remount,rw %s" % mp)
                with open("%s/bench-change-%d" % (mp, i), "wb") as f:
                    f.write(os.urandom(a.clones_change_kib * 1024))
                for p in sample[i - 1::step][:16]:
                    os.utime(os.path.join(mp, p))
            os.sync()
            while mnts:
                sh("umount %s" % mnts.pop(), timeout=300)
            for dev in devs:
                fsync_path(dev)
            d1 = disk_stat(t.disk)
            rec["change"] = {"elapsed_s": round(time.monotonic() - w1, 3),
                             "bytes": K * a.clones_change_kib * 1024, "touched_per_clone": 16,
                             "disk_write_bytes": d1["write_bytes"] - d0["write_bytes"]}
            rec["space_end"] = t.space()
            figs = [t.volume_figures(i) for i in range(K + 1)]
            if any(figs):
                rec["volumes"] = figs
        finally:
            for mp in mnts:
                sh("umount %s" % mp, check=False, timeout=300)
            t.teardown()
        rec["wall_s"] = round(time.monotonic() - w0, 1)
        emit(rec)

    def clones(self, disk):
        """The clones section: each stack of --clones-stacks in turn on @disk."""
        for kind in [x for x in self.a.clones_stacks.split(",") if x]:
            note("clones: %s on %s, K %d" % (kind, disk, self.a.clones))
            t0 = time.monotonic()
            t = CLONE_KINDS[kind](disk, self.a.clones_volume_mib * MiB, name="%s-kc-%s" % (PREFIX, kind))
            try:
                self.clones_one(t)
            except Stuck as e:
                emit({"type": "error", "target": "clones", "stack": kind, "error": str(e),
                      "dmesg": sh("dmesg | tail -n 40", check=False)})
                break  # a wedged target: the next stack would share its disk
            except Exception as e:  # noqa: BLE001 (record and go on)
                emit({"type": "error", "target": "clones", "stack": kind,
                      "error": "%s: %s" % (type(e).__name__, e),
                      "dmesg": sh("dmesg | tail -n 20", check=False)})
            note("clones: %s done in %.0f s" % (kind, time.monotonic() - t0))

    # --------------------------------------------------------------------
    def prepare(self):
        a = self.a
        # source data in tmpfs so the writers do not depend on the root disk
        sh("head -c %d /dev/urandom > %s" % (a.copy_mib * MiB, COPY_SRC))
        sh("tar -C / --exclude=usr/lib/modules -cf %s usr" % TREE_TAR, timeout=600)
        out = sh("tar -tvf %s" % TREE_TAR)
        self.tree_bytes = sum(int(line.split()[2]) for line in out.splitlines()
                              if line.startswith("-"))
        self.tree_files = sum(1 for line in out.splitlines() if line.startswith("-"))

    def main(self):
        a = self.a
        disks = os.environ.get("SIS_DISKS", "").split()
        targets = [x for x in a.targets.split(",") if x and x != "none"]
        nclone = 1 if a.clones else 0
        nbound = 2 if a.bound_pairs else 0
        if len(disks) < len(targets) + nclone + nbound:
            note("need one disk per target, one for the clones and two for the bound pairs: "
                 "%d targets, clones %d, bound pairs %d, disks '%s'"
                 % (len(targets), a.clones, a.bound_pairs, disks))
            return 2
        if a.bound_pairs and not ("linear" in targets and "sis" in targets):
            note("--bound-pairs needs linear and sis in --targets")
            return 2
        bad = [x for x in a.clones_stacks.split(",") if x and x not in CLONE_KINDS]
        if bad:
            note("unknown --clones-stacks %s (known: %s)" % (bad, ",".join(CLONE_KINDS)))
            return 2
        sh("dmesg -n 1", check=False)
        threading.Thread(target=heartbeat, daemon=True).start()
        clock = fix_clock()
        note("guest clock: %s" % clock)
        rtc0 = int(open(RTC).read()) if os.path.exists(RTC) else None
        mono0 = time.monotonic()
        for m in ("dm-thin-pool", "dm-vdo", "dm-sis"):
            sh("modprobe %s" % m, check=False)
        if targets or a.clones:
            self.prepare()
        else:
            self.tree_bytes = self.tree_files = 0
        cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
        emit({"type": "env", "kernel": os.uname().release, "nproc": os.cpu_count(),
              "cpu_model": cpu[0] if cpu else "?", "mem_total": meminfo()["MemTotal"],
              "fio": sh("fio --version").strip(), "targets_available": sh("dmsetup targets"),
              "size_mib": a.size, "runs": a.runs, "copies": a.copies, "copy_mib": a.copy_mib,
              "containers": a.containers, "tree_bytes": self.tree_bytes,
              "tree_files": self.tree_files, "tree": "/usr without /usr/lib/modules",
              "rand_runtime_s": a.rand_runtime, "seq_cap_s": a.seq_cap,
              "containers_budget_s": a.containers_budget, "logical_mib": a.logical,
              "long_mib": a.long_mib, "randrw_runtime_s": a.randrw_runtime,
              "scale": a.scale, "scale_prefill_mib": a.scale_prefill,
              "pairs": a.pairs, "pairs_mib": a.pairs_mib,
              "bound_pairs": a.bound_pairs, "bound_mib": a.bound_mib,
              "bound_mib_s": a.bound_mib_s,
              "bound_disks": disks[len(targets) + nclone:][:nbound],
              "clones": a.clones, "clones_stacks": a.clones_stacks,
              "clones_read_mib": a.clones_read_mib, "clones_volume_mib": a.clones_volume_mib,
              "clones_change_kib": a.clones_change_kib,
              "clones_disk": disks[len(targets)] if nclone else None,
              "profile_period_s": PROFILE_PERIOD,
              "disks": dict(zip(targets, disks)), "clock": clock,
              "tsc_dmesg": sh("dmesg | grep -E 'tsc: (Detected|Using|PIT)' || true", check=False).strip()})
        wedged = set()
        for run in range(1, a.runs + 1):
            for kind, disk in zip(targets, disks):
                if kind in wedged:
                    emit({"type": "error", "run": run, "target": kind,
                          "error": "skipped: stuck in an earlier run"})
                    continue
                t = KINDS[kind](disk, a.logical * MiB)
                STEP[0] = "run %d %s calibrate" % (run, kind)
                emit(dict(calibrate(), type="calib", run=run, target=kind))
                STEP[0] = "run %d %s setup" % (run, kind)
                note("run %d: %s on %s" % (run, kind, disk))
                t_start = time.monotonic()
                try:
                    self.run_target(t, run)
                except Stuck as e:
                    wedged.add(kind)
                    emit({"type": "error", "run": run, "target": kind, "error": str(e),
                          "dmesg": sh("dmesg | tail -n 40", check=False)})
                    continue
                except Exception as e:  # noqa: BLE001 (record and go on)
                    emit({"type": "error", "run": run, "target": kind,
                          "error": "%s: %s" % (type(e).__name__, e),
                          "step": STEP[0], "traceback": traceback.format_exc()[-2000:],
                          "dmesg": sh("dmesg | tail -n 20", check=False)})
                    sh("umount %s" % MNT, check=False, timeout=120)
                    try:
                        t.teardown()
                    except Exception:  # noqa: BLE001
                        pass
                note("run %d: %s done in %.0f s" % (run, kind, time.monotonic() - t_start))
        first = len(targets) + nclone
        sets = []
        if a.pairs and "linear" in targets and "sis" in targets:
            sets.append((dict(zip(targets, disks)), a.pairs, a.pairs_mib, "pair"))
        if a.bound_pairs:
            sets.append(({"linear": disks[first], "sis": disks[first + 1]}, a.bound_pairs,
                         a.bound_mib, "bound"))
        for tdisks, npairs, mib, prefix in sets:
            try:
                self.pairs(tdisks, npairs, mib, prefix)
            except Exception as e:  # noqa: BLE001 (record and go on)
                emit({"type": "error", "run": 0, "target": prefix + "s",
                      "error": "%s: %s" % (type(e).__name__, e), "step": STEP[0],
                      "traceback": traceback.format_exc()[-2000:],
                      "dmesg": sh("dmesg | tail -n 20", check=False)})
        if a.clones:
            self.clones(disks[len(targets)])
        if a.scale:
            self.scale(disks[first + nbound:])
        end = {"type": "end", "mono_s": round(time.monotonic() - mono0, 1)}
        if rtc0 is not None:
            end["rtc_s"] = int(open(RTC).read()) - rtc0
            end["clock_rate_end"] = clock_rate()
        emit(end)
        return 0


def main():
    global CMD_TIMEOUT
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=128, help="MiB per fio job / region")
    p.add_argument("--targets", default="linear,thin,vdo,sis")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--copies", type=int, default=8, help="identical files for the cold-read case")
    p.add_argument("--copy-mib", type=int, default=16, help="size of each identical file")
    p.add_argument("--containers", type=int, default=3, help="copies of the tree")
    p.add_argument("--rand-runtime", type=int, default=15, help="cap of each random job, s")
    p.add_argument("--seq-cap", type=int, default=45, help="cap of each sequential job, s")
    p.add_argument("--containers-budget", type=int, default=90,
                   help="no new container copy starts after this many seconds")
    p.add_argument("--randrw-runtime", type=int, default=10,
                   help="time of each randrw job (numjobs 1 and 4), s")
    p.add_argument("--long-mib", type=int, default=256,
                   help="size of the long unique 4 KiB write (raw, after the 4 regions), MiB; 0: none")
    p.add_argument("--logical", type=int, default=4096, help="logical size of each target, MiB")
    p.add_argument("--pairs", type=int, default=0,
                   help="after the runs: dm-linear and dm-sis job by job, this many times "
                        "(needs both in --targets); 0: none")
    p.add_argument("--pairs-mib", type=int, default=512, help="region size of the pairs, MiB")
    p.add_argument("--bound-pairs", type=int, default=0,
                   help="then the pairs again, this many times, on the two disks after the "
                        "clones' (dm-linear on the first, dm-sis on the second), which the host "
                        "throttles to --bound-mib-s; 0: none")
    p.add_argument("--bound-mib", type=int, default=256, help="region size of the bound pairs, MiB")
    p.add_argument("--bound-mib-s", type=int, default=0,
                   help="the throttle of the bound pairs' disks (set by the host), for the record")
    p.add_argument("--cmd-timeout", type=int, default=600)
    p.add_argument("--scale", default="",
                   help="dm-sis alone on one more disk per size (e.g. 4G,64G,1T), after the targets")
    p.add_argument("--scale-prefill", type=int, default=1024,
                   help="unique MiB written over each scale device before its jobs")
    p.add_argument("--scale-rounds", type=int, default=5,
                   help="rounds of the unique write on every scale device, alternating "
                        "(--pairs-mib MiB each); 0: none")
    p.add_argument("--clones", type=int, default=8,
                   help="K clones of a volume holding the tree, on each --clones-stacks stack "
                        "(one more disk, after the targets'); 0: none")
    p.add_argument("--clones-stacks", default="thin,thinvdo,sis")
    p.add_argument("--clones-read-mib", type=int, default=64,
                   help="the cold read: the first MiB of the tree's files (sorted) from each clone")
    p.add_argument("--clones-volume-mib", type=int, default=1024, help="logical size of each volume")
    p.add_argument("--clones-change-kib", type=int, default=1024,
                   help="unique data written to each clone (plus 16 files touched)")
    a = p.parse_args()
    CMD_TIMEOUT = a.cmd_timeout
    return Bench(a).main()


if __name__ == "__main__":
    sys.exit(main())
