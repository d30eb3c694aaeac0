#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# tests/bench/report.py: turn the console log of a scripts/bench guest run
# (lines "SISBENCH {json}") into docs/benchmarks.md, docs/benchmarks.json and
# docs/benchmarks.png.  Every figure in the outputs comes from the log; nothing
# is hard-coded.  Run by scripts/bench; usable alone on a saved log:
#
#   tests/bench/report.py --log build/bench/console.log --docs docs
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

MiB = 1 << 20
GiB = 1 << 30
ORDER = ["linear", "thin", "vdo", "sis"]
FIO_JOBS = ["seqwrite_dedupe0", "seqwrite_dedupe50", "seqwrite_dedupe90",
            "randwrite4k_qd32_dedupe50", "seqread", "randread4k_qd32"]
FS_JOBS = ["copies_write", "copies_read_cold", "containers_write", "containers_read_cold"]
# raw-device jobs added for issues 11 and 12 (own sections, not in the summary means)
SCALE_JOBS = ["randrw4k_qd32_dedupe50_nj1", "randrw4k_qd32_dedupe50_nj4"]
LONG_JOB = "longwrite4k_qd32_dedupe0"
PCTS = ["50", "99", "99.9", "99.99"]
JOB_LABEL = {
    "seqwrite_dedupe0": "seq write 128k, dedupe 0%",
    "seqwrite_dedupe50": "seq write 128k, dedupe 50%",
    "seqwrite_dedupe90": "seq write 128k, dedupe 90%",
    "randwrite4k_qd32_dedupe50": "rand write 4k qd32, dedupe 50%",
    "seqread": "seq read 128k (read back)",
    "randread4k_qd32": "rand read 4k qd32",
    "copies_write": "K identical files: write",
    "copies_read_cold": "K identical files: cold read",
    "containers_write": "K container trees: write",
    "containers_read_cold": "K container trees: cold read",
    "mkfs": "mkfs.ext4",
    "create": "target create",
    "discard_regions": "discard raw regions",
    "randrw4k_qd32_dedupe50_nj1": "randrw 4k qd32, dedupe 50%, 1 job",
    "randrw4k_qd32_dedupe50_nj4": "randrw 4k qd32, dedupe 50%, 4 jobs",
    "longwrite4k_qd32_dedupe0": "long unique seq write 4k qd32",
}


def parse_log(path):
    recs, bad, splats, infail = [], 0, [], False
    with open(path, errors="replace") as f:
        for line in f:
            # vm-run's verdict on the guest kernel log
            if "vm-run: FAIL:" in line:
                splats.append(line.strip())
                infail = "kernel log reports problems" in line
                continue
            if infail and line.startswith("    "):
                splats.append(line.strip())
                continue
            infail = False
            i = line.find("SISBENCH {")
            if i < 0:
                continue
            try:
                recs.append(json.loads(line[i + len("SISBENCH "):].strip()))
            except ValueError:
                bad += 1
    return recs, bad, splats


def parse_kv(path):
    d = {}
    if path and os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d


def parse_samples(path):
    """tests/bench/host-sampler.py's output: (host samples, job end times)."""
    samples, ends = [], {}
    if path and os.path.exists(path):
        for line in open(path):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if "jobend" in d:
                e = d["jobend"]
                ends[(e["layer"], e["job"], e["target"], e["run"])] = e
            elif "t" in d:
                samples.append(d)
    return samples, ends


def host_during(samples, t0, t1):
    """The host between @t0 and @t1 (its clock): the share of its CPUs busy
    outside this guest's QEMU, in iowait, and the mean 1-minute load; None
    when no sample covers the span."""
    prev, d = None, [0, 0, 0, 0]
    loads = []
    for s in samples:
        if prev is not None and s["t"] > t0 and prev["t"] < t1 + 1.0:
            d[0] += s["busy"] - prev["busy"]
            d[1] += s["guest"] - prev["guest"]
            d[2] += s["iowait"] - prev["iowait"]
            d[3] += s["total"] - prev["total"]
            loads.append(s["load"])
        prev = s
    if d[3] <= 0:
        return None
    return {"other_pct": round(100.0 * max(d[0] - d[1], 0) / d[3], 1),
            "guest_pct": round(100.0 * d[1] / d[3], 1),
            "iowait_pct": round(100.0 * d[2] / d[3], 1),
            "load": round(statistics.mean(loads), 2)}


def core_results(text):
    """Every "bench-core-result: k=v ..." line of bench-core's output, as dicts."""
    out = []
    for line in (text or "").splitlines():
        if line.startswith("bench-core-result:"):
            d = {}
            for kv in line.split(":", 1)[1].split():
                k, _, v = kv.partition("=")
                try:
                    d[k] = float(v) if "." in v else int(v)
                except ValueError:
                    d[k] = v
            out.append(d)
    return out


def throughput(r):
    """MiB/s and IOPS of one job record; the flush after a write counts."""
    nbytes = r.get("io_bytes")
    if not nbytes:
        return None, None
    if r.get("fio_runtime_ms") is not None:
        secs = r["fio_runtime_ms"] / 1000.0 + r.get("flush_s", 0)
    else:
        secs = r["elapsed_s"]
    if secs <= 0:
        return None, None
    mibs = nbytes / MiB / secs
    iops = nbytes / r["bs"] / secs if r.get("bs") else None
    return mibs, iops


def figures(r):
    """The per-job figures that are aggregated over runs."""
    mibs, iops = throughput(r)
    f = {"mib_s": mibs, "iops": iops,
         "backing_read_mib": r["backing"]["read_bytes"] / MiB,
         "backing_write_mib": r["backing"]["write_bytes"] / MiB,
         "cpu_busy_s": r["cpu_s"]["busy"], "elapsed_s": r["elapsed_s"],
         "io_mib": (r.get("io_bytes") or 0) / MiB}
    if r.get("lat_mean_us") is not None:
        f["lat_mean_us"] = r["lat_mean_us"]
        f["lat_p99_us"] = r["lat_p99_us"]
    sd = r.get("space_delta")
    is_write = "write" in r["job"]
    if sd:
        f["space_delta_mib"] = sd["used"] / MiB
        f["data_delta_mib"] = sd.get("data", sd["used"]) / MiB
    elif r["target"] == "linear" and is_write and r.get("io_bytes"):
        # dm-linear maps 1:1: the space taken is what was written
        f["space_delta_mib"] = f["data_delta_mib"] = r["io_bytes"] / MiB
    # a sequential fio job cut by its time cap (random jobs are time-based by design)
    f["capped"] = bool(r.get("capped")) and "rand" not in r["job"]
    if r.get("copies") is not None:
        f["copies"] = r["copies"]
    if r.get("io_bytes") and f["cpu_busy_s"] is not None:
        f["cpu_s_per_gib"] = f["cpu_busy_s"] / (r["io_bytes"] / GiB)
    for k, v in (r.get("clat_pct_us") or {}).items():
        f["clat_p%s_us" % k] = v
    for k in ("clat_max_us", "slow_ios", "lat_log_ios"):
        if r.get(k) is not None:
            f[k] = r[k]
    return f


def agg(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    med = statistics.median(v)
    return {"median": med, "min": min(v), "max": max(v), "n": len(v),
            "spread_pct": (100.0 * (max(v) - min(v)) / med) if med else 0.0}


def build(recs, host, core_text, bad_lines, splats, core_scale_text="", samples=None):
    env = next((r for r in recs if r["type"] == "env"), {})
    alljobs = [r for r in recs if r["type"] == "job"]
    # the pairs and the bound pairs (bench-guest.py pairs()) have sections of their own
    jobs = [r for r in alljobs if not r["layer"].startswith(("pair-", "bound-"))]
    hs, job_ends = samples or ([], {})
    for r in alljobs:
        e = job_ends.get((r["layer"], r["job"], r["target"], r["run"]))
        if e and hs:
            r["host"] = host_during(hs, e["t"] - r["elapsed_s"], e["t"])
    tgts = [r for r in recs if r["type"] == "target"]
    errors = [r for r in recs if r["type"] == "error"]
    ends = [r for r in recs if r["type"] == "end"]
    ended = bool(ends)
    order = [t for t in ORDER if t in (env.get("disks") or {})] or \
        sorted({r["target"] for r in jobs}, key=lambda t: ORDER.index(t) if t in ORDER else 9)

    summary = {}
    for r in jobs:
        key = "%s/%s" % (r["layer"], r["job"])
        summary.setdefault(key, {}).setdefault(r["target"], []).append(figures(r))
    for key, per in summary.items():
        for t, lst in per.items():
            names = sorted({k for f in lst for k in f if k not in ("capped", "copies")})
            d = {k: agg([f.get(k) for f in lst]) for k in names}
            d["capped_runs"] = sum(1 for f in lst if f.get("capped"))
            cp = [f["copies"] for f in lst if f.get("copies") is not None]
            if cp:
                d["copies"] = cp
            per[t] = d
        lin = per.get("linear", {}).get("mib_s")
        for t, d in per.items():
            if lin and d.get("mib_s") and lin["median"]:
                d["ratio_to_linear"] = d["mib_s"]["median"] / lin["median"]

    target_summary = {}
    for t in order:
        rows = [r for r in tgts if r["target"] == t]
        if not rows:
            continue
        ts = {"runs": len(rows), "describe": rows[0]["describe"],
              "wall_s": agg([r["wall_s"] for r in rows])}

        def memd(a, b, k):
            return [(r[b][k] - r[a][k]) / MiB for r in rows]
        ts["mem_after_create_mib"] = agg([-x for x in memd("mem_base", "mem_created", "free")])
        ts["mem_end_mib"] = agg([-x for x in memd("mem_base", "mem_end", "free")])
        ts["slab_end_mib"] = agg(memd("mem_base", "mem_end", "slab"))
        ts["vmalloc_end_mib"] = agg(memd("mem_base", "mem_end", "vmalloc"))
        mm = [r["mem_module"] for r in rows if r.get("mem_module") and r["mem_module"].get("bytes") is not None]
        if mm:
            ts["module_mem_mib"] = agg([m["bytes"] / MiB for m in mm])
            ts["module_mem_what"] = mm[0]["what"]
        ts["ext4_used_mib"] = agg([r["ext4_used_bytes"] / MiB for r in rows])
        se = [r["space_end"] for r in rows if r.get("space_end") and "used" in r["space_end"]]
        if se:
            ts["phys_used_end_mib"] = agg([s["used"] / MiB for s in se])
            ts["phys_data_end_mib"] = agg([s["data"] / MiB for s in se])
        target_summary[t] = ts

    return {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "env": env, "host": host, "targets": order, "complete": ended,
            "unparsed_lines": bad_lines, "vm_run_problems": splats, "summary": summary, "target_summary": target_summary,
            "errors": errors, "end": ends, "jobs": jobs, "target_runs": tgts, "bench_core": core_text,
            "scale": [r for r in recs if r["type"] == "scale"],
            "scale_rounds": next((r for r in recs if r["type"] == "scale_rounds"), None),
            "clones": [r for r in recs if r["type"] == "clones"],
            "calib": [r for r in recs if r["type"] == "calib"],
            "pair_jobs": [r for r in alljobs if r["layer"].startswith("pair-")],
            "bound_jobs": [r for r in alljobs if r["layer"].startswith("bound-")],
            "bench_core_scale": core_scale_text, "core_scale_runs": core_results(core_scale_text)}


# ---- markdown -------------------------------------------------------------

def fmt(x, nd=1):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return "%.0f" % x
    return ("%." + str(nd) + "f") % x


def cell(a, unit="", nd=1, spread=True):
    if not a:
        return "-"
    s = fmt(a["median"], nd) + unit
    if spread and a["n"] > 1:
        s += " ±%.0f%%" % (a["spread_pct"] / 2)
    return s


def failed_note(res, t):
    errs = [e for e in res["errors"] if e["target"] == t]
    return errs


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    if not xs:
        return None
    p = 1.0
    for x in xs:
        p *= x
    return p ** (1.0 / len(xs))


def headline(res):
    """Per target: the few figures a user picks a target by (also in the JSON)."""
    S, TS, out = res["summary"], res["target_summary"], {}
    for t in res["targets"]:
        h = {}
        for kind, pred in (("write", lambda j: "write" in j), ("read", lambda j: "read" in j)):
            rs = [S[k][t].get("ratio_to_linear") for k in S
                  if t in S[k] and k.split("/")[0] in ("raw", "ext4") and pred(k.split("/")[1])
                  and k.split("/")[1] in FIO_JOBS + FS_JOBS]
            h["geomean_%s_ratio" % kind] = geomean(rs)
        for key, name in (("raw/seqwrite_dedupe90", "space_pct_dedupe90"),
                          ("ext4/containers_write", "space_pct_containers"),
                          ("ext4/copies_write", "space_pct_copies")):
            d = S.get(key, {}).get(t)
            if d and d.get("space_delta_mib") and d.get("io_mib") and d["io_mib"]["median"]:
                h[name] = 100.0 * d["space_delta_mib"]["median"] / d["io_mib"]["median"]
        for key, name in (("ext4/copies_read_cold", "backing_read_pct_copies"),
                          ("ext4/containers_read_cold", "backing_read_pct_containers")):
            d = S.get(key, {}).get(t)
            if d and d.get("io_mib") and d["io_mib"]["median"]:
                h[name] = 100.0 * d["backing_read_mib"]["median"] / d["io_mib"]["median"]
        d = S.get("ext4/seqwrite_dedupe0", {}).get(t)
        if d and d.get("cpu_s_per_gib"):
            h["cpu_s_per_gib_seqwrite"] = d["cpu_s_per_gib"]["median"]
        m = TS.get(t, {}).get("mem_end_mib")
        h["mem_end_mib"] = m["median"] if m else None
        a, b = (S.get("raw/" + j, {}).get(t, {}).get("iops") for j in SCALE_JOBS)
        if a and b and a["median"]:
            h["randrw_scaling"] = b["median"] / a["median"]
        d = S.get("raw/" + LONG_JOB, {}).get(t, {})
        for k, name in (("clat_p99.9_us", "long_p999_ms"), ("clat_max_us", "long_max_ms")):
            if d.get(k):
                h[name] = d[k]["median"] / 1000.0
        if d.get("slow_ios"):
            h["long_slow_ios"] = d["slow_ios"]["median"]
        out[t] = h
    return out


def summary_table(res, w):
    order, H = res["targets"], res["headline"]
    if not order:
        return
    w("## Summary")
    w("")
    w("Medians of this run; details below. Ratios are to dm-linear on the same job (1.00 = as fast); "
      "space and backing reads are percentages of the logical bytes written or read.")
    w("")
    w("| | " + " | ".join(order) + " |")
    w("|---" * (len(order) + 1) + "|")
    rows = (("geomean_write_ratio", "throughput vs linear, writes (geometric mean of the write jobs)", "%.2fx"),
            ("geomean_read_ratio", "throughput vs linear, reads (geometric mean of the read jobs)", "%.2fx"),
            ("space_pct_dedupe90", "space for a 90%-dedupable write (raw), % of written", "%.0f%%"),
            ("space_pct_copies", "space for K identical files, % of written", "%.0f%%"),
            ("space_pct_containers", "space for K copies of /usr, % of written", "%.0f%%"),
            ("backing_read_pct_copies", "disk reads to read K identical files cold, % of read", "%.0f%%"),
            ("backing_read_pct_containers", "disk reads to read K copies of /usr cold, % of read", "%.0f%%"),
            ("cpu_s_per_gib_seqwrite", "guest CPU s per GiB, ext4 seq write (dedupe 0)", "%.1f"),
            ("mem_end_mib", "guest memory taken at end of run, MiB", "%.0f"),
            ("randrw_scaling", "randrw 4k qd32 (raw): IOPS with 4 jobs / 1 job", "%.2fx"),
            ("long_p999_ms", "long unique 4k write (raw): clat p99.9, ms", "%.1f"),
            ("long_max_ms", "long unique 4k write (raw): clat max, ms", "%.1f"),
            ("long_slow_ios", "long unique 4k write (raw): writes > 100 ms", "%d"))
    for k, label, f in rows:
        cells = []
        for t in order:
            v = H.get(t, {}).get(k)
            cells.append(f % v if v is not None else ("FAILED" if any(e["target"] == t for e in res["errors"])
                                                      and not H.get(t, {}).get("geomean_write_ratio") else "-"))
        w("| %s | %s |" % (label, " | ".join(cells)))
    w("")

TARGET_NOTES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets-notes.md")


def targets_section(res, w):
    """Issues 11 and 12: each numeric target, the figure of this run, met or not."""
    S, H, order = res["summary"], res["headline"], res["targets"]
    if "sis" not in order:
        return
    rows = []

    def ratio(key, t="sis"):
        return ((S.get(key) or {}).get(t) or {}).get("ratio_to_linear")

    def cpu(key, t):
        d = ((S.get(key) or {}).get(t) or {}).get("cpu_s_per_gib")
        return d["median"] if d else None

    def cpucells(key):
        """Guest CPU s/GiB of dm-sis and of dm-linear on the job."""
        a, b = cpu(key, "sis"), cpu(key, "linear")
        return ("%s / %s" % (fmt(a), fmt(b)),)

    def add(issue, what, val, goal, ok, fmtv="%.2fx", key=None):
        rows.append((issue, what, fmtv % val if val is not None else "-", goal,
                     "-" if ok is None else ("met" if ok else "**not met**"))
                    + (cpucells(key) if key else ("",)))

    # a ratio job is judged on the median of its pairs when there are pairs
    # (seconds apart, order alternating); the run's single ratio beside it
    pairs = {r["job"]: r for r in pair_rows(res) if r["median"] is not None}

    def judged(key, label, run_v):
        p = pairs.get(key)
        if not p:
            return label + " vs linear", run_v
        return ("%s vs linear, median of %d pairs (the run: %s)"
                % (label, p["n"], "-" if run_v is None else "%.2fx" % run_v), p["median"])

    for job in ("seqwrite_dedupe0", "seqwrite_dedupe50", "seqwrite_dedupe90", "seqread",
                "randread4k_qd32"):
        goal = RATIO_GOALS[job]
        what, v = judged("raw/" + job, "raw " + JOB_LABEL[job], ratio("raw/" + job))
        add(11, what, v, ">= %.1fx" % goal, None if v is None else v >= goal, key="raw/" + job)
    v, vv = ratio("raw/seqwrite_dedupe50"), ratio("raw/seqwrite_dedupe50", "vdo")
    x = v / vv if v and vv else None
    add(11, "raw seq write 128k, dedupe 50%, vs dm-vdo", x, ">= 3x", None if x is None else x >= 3)
    what, v = judged("ext4/copies_read_cold", "ext4 K identical files cold read",
                     ratio("ext4/copies_read_cold"))
    d = (S.get("ext4/copies_read_cold") or {}).get("sis") or {}
    one = None
    if d.get("io_mib") and d.get("backing_read_mib") and d.get("copies"):
        one = d["backing_read_mib"]["median"] * d["copies"][0] / d["io_mib"]["median"]
    add(11, what, v, ">= 1.0x", None if v is None else v >= 1.0, key="ext4/copies_read_cold")
    add(11, "  its disk reads, in copies of one file", one, "about 1", None if one is None else one < 1.2, "%.2f")
    v = H.get("sis", {}).get("randrw_scaling")
    add(11, "randrw 4k qd32: IOPS with 4 jobs / 1 job", v, "> 1.0x", None if v is None else v > 1.0)
    mibs = res["env"].get("bound_mib_s")
    for r in pair_rows(res, "bound"):
        layer, job = r["job"].split("/")
        add(11, "disk-bound bed (disks at %s MiB/s): %s %s vs linear, median of %d pairs"
            % (mibs, layer, JOB_LABEL.get(job, job), r["n"]), r["median"],
            ">= %.1fx" % r["goal"], r["met"])
    sc = res.get("scale") or []
    if len(sc) > 1:
        a, b = (sc[0].get("dedupe0") or {}).get("mib_s"), (sc[-1].get("dedupe0") or {}).get("mib_s")
        x = b / a if a and b else None
        rr = scale_round_medians(res)
        if rr:
            x = rr["ratio"]
        add(12, "unique write at %s / at %s%s" % (sc[-1]["size"], sc[0]["size"],
                                                  ", median of %d alternating rounds" % rr["n"] if rr else ""),
            x, ">= 0.8x", None if x is None else x >= 0.8)
        last = sc[-1]
        tib = (last.get("disk_bytes") or 0) / float(1 << 40)
        if tib and last.get("index_ram_created", -1) >= 0:
            x = last["index_ram_created"] / MiB / tib
            add(12, "index RAM per TiB (%s device)" % last["size"], x, "<= 256 MiB", x <= 256, "%.0f MiB")
        for r in sc:
            m = (r.get("status_end") or {}).get("metadata_ram")
            x = int(m) / MiB if m else None
            add(12, "RAM besides the index, %s device (metadata RAM at end)" % r["size"], x,
                "<= 64 MiB", None if x is None else x <= 64, "%.1f MiB")
    runs = res.get("core_scale_runs") or []
    for cs in runs:
        if cs.get("unique_us") is None:
            continue
        n = "{:,}".format(cs.get("blocks", 0))
        how = ("committer thread (the target's model)" if cs.get("commit_thread_ms")
               else "commits inline")
        if cs.get("file_reused"):
            how += ", blocks allocated (formatted over the previous run's file)"
        add(12, "bench-core, %s blocks on a file, %s: unique us/block (CPU)" % (n, how),
            cs["unique_us"], "<= 1.0", cs["unique_us"] <= 1.0,
            "%%.2f (%.2f)" % cs.get("unique_cpu_us", float("nan")))
        if cs.get("dup_us") is not None:
            add(12, "bench-core, %s blocks on a file, %s: dup us/block (CPU)" % (n, how),
                cs["dup_us"], "<= 0.5", cs["dup_us"] <= 0.5,
                "%%.2f (%.2f)" % cs.get("dup_cpu_us", float("nan")))
    v = H.get("sis", {}).get("long_slow_ios")
    if v is not None:
        add(12, "long unique 4k write: writes over 100 ms", v, "0", v == 0, "%d")
    if not rows:
        return
    w("## Targets of issues 11 and 12")
    w("")
    w("Each figure is from this run (sections below); ratios are to dm-linear on the same job. "
      "CPU: guest CPU seconds per GiB moved (the CPU table: `/proc/stat` ticks, which run short "
      "under TCG, so compare the two columns rather than read them as absolute), dm-sis / dm-linear.")
    w("")
    w("| issue | target | this run | goal | | CPU s/GiB sis / linear |")
    w("|---|---|---|---|---|---|")
    for r in rows:
        w("| %s | %s | %s | %s | %s | %s |" % r)
    w("")
    per_run_section(res, w)
    pairs_section(res, w)
    pairs_section(res, w, "bound")
    calib_section(res, w)
    if os.path.exists(TARGET_NOTES):
        with open(TARGET_NOTES) as f:
            w(f.read().rstrip())
        w("")


# the issue-11 jobs whose ratio to dm-linear is a target
RATIO_JOBS = [("raw", "seqwrite_dedupe0"), ("raw", "seqwrite_dedupe50"),
              ("raw", "seqwrite_dedupe90"), ("raw", "seqread"), ("raw", "randread4k_qd32"),
              ("ext4", "copies_read_cold")]


def tick_line(tp, label, sis):
    """One job's kernel stacks at the timer tick (TickProfile), as a sentence."""
    line = ("Kernel stacks at the timer tick, %s: %d samples, %s%% idle; busy samples "
            "by the function interrupted (%% of all): %s."
            % (label, tp["samples"], fmt(tp.get("idle_pct"), 1),
               ", ".join("`%s` %s" % (x["fn"], fmt(x["pct"], 1)) for x in tp.get("leaf", []))))
    if sis and tp.get("sis_inclusive"):
        line += (" dm-sis functions on the stack (inclusive, %% of all): %s."
                 % ", ".join("`%s` %s" % (x["fn"].replace(" [dm_sis]", ""), fmt(x["pct"], 1))
                             for x in tp["sis_inclusive"]))
    return line


def job_rec(jobs, layer, job, t, n):
    """The record of @job on @layer by target @t in run (or pair) @n, or None."""
    return next((r for r in jobs if r["layer"] == layer and r["job"] == job
                 and r["target"] == t and r["run"] == n), None)


def per_run_section(res, w):
    """Each run of the ratio targets' jobs: dm-sis's run n against dm-linear's
    run n, with how busy the host was during each (tests/bench/host-sampler.py)."""
    rows = []
    for layer, job in RATIO_JOBS:
        for n in range(1, (res["env"].get("runs") or 1) + 1):
            rec = {t: job_rec(res["jobs"], layer, job, t, n) for t in ("linear", "sis")}
            if not all(rec.values()):
                continue
            mb = {t: throughput(r)[0] for t, r in rec.items()}
            if not all(mb.values()):
                continue
            rows.append({"job": "%s/%s" % (layer, job), "run": n,
                         "linear_mib_s": round(mb["linear"], 1), "sis_mib_s": round(mb["sis"], 1),
                         "ratio": round(mb["sis"] / mb["linear"], 3),
                         "host_linear": rec["linear"].get("host"), "host_sis": rec["sis"].get("host")})
    res["per_run"] = rows
    if not rows:
        return

    def hcell(h):
        if not h:
            return "-"
        return "%.0f%% / %.0f%% / %.1f" % (h["other_pct"], h["iowait_pct"], h["load"])
    w("### Per run (dm-sis's run n against dm-linear's run n)")
    w("")
    w("The runs of one target are minutes apart, and the host is shared. Host: the share of "
      "its CPUs busy outside this guest / in iowait / its 1-minute load, over the job's time "
      "(sampled every second by tests/bench/host-sampler.py; '-': no samples).")
    w("")
    w("| job | run | dm-linear MiB/s | host | dm-sis MiB/s | host | ratio |")
    w("|---|---|---|---|---|---|---|")
    for r in rows:
        layer, job = r["job"].split("/")
        w("| %s %s | %d | %.0f | %s | %.0f | %s | %.2f |"
          % (layer, JOB_LABEL.get(job, job), r["run"], r["linear_mib_s"], hcell(r["host_linear"]),
             r["sis_mib_s"], hcell(r["host_sis"]), r["ratio"]))
    w("")


# the goal of each ratio job (issue 11)
RATIO_GOALS = {"seqwrite_dedupe0": 0.8, "seqwrite_dedupe50": 1.0, "seqwrite_dedupe90": 1.2,
               "seqread": 0.9, "randread4k_qd32": 0.9, "copies_read_cold": 1.0}


def pair_rows(res, prefix="pair"):
    """The pairs (bench-guest.py pairs()) of each ratio job: the ratio of
    each pair, both MiB/s, their median and the goal; [] without pairs.
    @prefix "bound": the bound pairs, on the throttled disks."""
    pj = res.get(prefix + "_jobs") or []
    if not pj:
        return []
    npairs = max(r["run"] for r in pj)
    rows = []
    for layer, job in RATIO_JOBS:
        lay = prefix + "-" + layer
        ratios, first = [], []
        for n in range(1, npairs + 1):
            rec = {t: job_rec(pj, lay, job, t, n) for t in ("linear", "sis")}
            mb = {t: throughput(r)[0] if r else None for t, r in rec.items()}
            ratios.append(mb["sis"] / mb["linear"] if all(mb.values()) else None)
            first.append(mb)
        got = [x for x in ratios if x is not None]
        med = statistics.median(got) if got else None
        goal = RATIO_GOALS[job]
        rows.append({"job": "%s/%s" % (layer, job), "ratios": ratios,
                     "mib_s": [{t: round(v, 1) if v else None for t, v in m.items()} for m in first],
                     "median": med, "n": len(got), "goal": goal,
                     "met": None if med is None else med >= goal})
    return rows


def pairs_section(res, w, prefix="pair"):
    """The pairs: each ratio job on dm-linear and straight after on dm-sis
    (or the other way round), fresh targets per pair; the ratio of each
    pair and their median.  @prefix "bound": the bound pairs."""
    rows = pair_rows(res, prefix)
    if not rows:
        return
    npairs = len(rows[0]["ratios"])
    env = res["env"]
    res["pairs" if prefix == "pair" else "bound_pairs"] = rows
    sz = env.get("pairs_mib" if prefix == "pair" else "bound_mib")
    if prefix == "pair":
        w("### dm-sis and dm-linear job by job (the pairs)")
        w("")
        w("After the runs, both targets are set up fresh on their own disks and each job runs on "
          "one and straight after on the other (pair 1 dm-linear first, pair 2 dm-sis first, and "
          "so on), so the two runs of a job are seconds apart, not minutes. Regions of %s MiB; "
          "the K identical files as in the runs. Each cell: dm-sis / dm-linear, with both MiB/s."
          % (sz if sz else "?"))
    else:
        w("### The pairs on a disk-bound bed (disks throttled to %s MiB/s)" % env.get("bound_mib_s"))
        w("")
        w("The same pairs, after the others, on two more disks (%s) that QEMU limits to %s MiB/s "
          "each, reads and writes together (`scripts/vm-run --disk-throttle`): dm-linear on the "
          "first, dm-sis on the second, the same code and jobs. Here the disk is the bottleneck, "
          "as on real hardware, where the CPU runs natively; in the unthrottled bed above it is "
          "the emulated guest CPU. Regions of %s MiB. Each cell: dm-sis / dm-linear, with both "
          "MiB/s." % (", ".join(env.get("bound_disks") or []) or "?", env.get("bound_mib_s"),
                      sz if sz else "?"))
    w("")
    w("| job | " + " | ".join("pair %d" % (n + 1) for n in range(npairs)) +
      " | median | goal | |")
    w("|---" * (npairs + 4) + "|")
    for r in rows:
        layer, job = r["job"].split("/")
        cells = []
        for x, m in zip(r["ratios"], r["mib_s"]):
            cells.append("-" if x is None else "%.2f (%s / %s)" % (x, fmt(m["sis"], 0),
                                                                     fmt(m["linear"], 0)))
        w("| %s %s | %s | %s | >= %.1fx | %s |"
          % (layer, JOB_LABEL.get(job, job), " | ".join(cells),
             "-" if r["median"] is None else "%.2f" % r["median"], r["goal"],
             "-" if r["met"] is None else ("met" if r["met"] else "**not met**")))
    w("")


def calib_section(res, w):
    """The same fixed guest work timed before each target's run (bench-guest.py
    calibrate()): how fast the emulator ran this guest in that run."""
    cal = res.get("calib") or []
    if not cal:
        return
    keys = (("user_s", "Python loop"), ("zero_s", "/dev/zero 256 MiB"),
            ("urandom_s", "/dev/urandom 32 MiB"))
    w("### The same guest work before each target's run")
    w("")
    w("Seconds by the guest clock for a fixed piece of work, timed just before the target is "
      "set up: a user-space Python loop, the kernel's page clearing and its ChaCha20. If it "
      "takes longer in one run than in another, the emulator ran the guest slower in that run, "
      "whatever the target.")
    w("")
    w("| run | target | " + " | ".join(k[1] for k in keys) + " |")
    w("|---" * (len(keys) + 2) + "|")
    for c in cal:
        w("| %s | %s | %s |" % (c.get("run"), c.get("target"),
                                " | ".join(fmt(c.get(k), 2) for k, _ in keys)))
    w("")


def last_rec(res, layer, job, t):
    """The job record of target t from the last run that has one."""
    rs = [r for r in res["jobs"] if r["target"] == t and r["layer"] == layer and r["job"] == job]
    return rs[-1] if rs else None


def ms(us):
    return None if us is None else us / 1000.0


def extra_sections(res, w, tcell):
    """Issue 11 (randrw scaling, profile, blktrace) and issue 12 (long write latency)."""
    env, order, S = res["env"], res["targets"], res["summary"]
    runs = env.get("runs", 1)
    rsec = env.get("randrw_runtime_s", env.get("rand_runtime_s", "?"))

    def med(key, t, metric):
        d = (S.get(key) or {}).get(t) or {}
        return d[metric]["median"] if d.get(metric) else None

    k1, k4 = ("raw/" + j for j in SCALE_JOBS)
    if k1 in S or k4 in S:
        w("## Scaling: 4 KiB random read/write, 1 and 4 jobs (raw)")
        w("")
        w("fio `rw=randrw rwmixread=50 bs=4k iodepth=32 dedupe_percentage=50` (working set 5%%), "
          "`numjobs=1` then `numjobs=4` (each job QD 32, so 128 in flight; `group_reporting`), "
          "time-based %s s each, over raw region 3 (filled by the random write job), target cache "
          "dropped before each. IOPS are reads + writes, the final flush included. Issue 11 asks that "
          "1 -> 4 jobs grows." % rsec)
        w("")
        w("| | " + " | ".join(order) + " |")
        w("|---" * (len(order) + 1) + "|")
        for key, lab in ((k1, "IOPS, 1 job"), (k4, "IOPS, 4 jobs")):
            w("| %s | %s |" % (lab, " | ".join(tcell(key, t, "iops") for t in order)))
        row = []
        for t in order:
            a, b = med(k1, t, "iops"), med(k4, t, "iops")
            row.append("%.2fx" % (b / a) if a and b else "-")
        w("| 4 jobs / 1 job | %s |" % " | ".join(row))
        for key, lab in ((k1, "guest CPU s per GiB, 1 job"), (k4, "guest CPU s per GiB, 4 jobs")):
            w("| %s | %s |" % (lab, " | ".join(cell((S.get(key, {}).get(t) or {}).get("cpu_s_per_gib"))
                                                  for t in order)))
        recs = {(j, t): last_rec(res, "raw", j, t) or {} for j in SCALE_JOBS for t in order}
        for j, lab in ((SCALE_JOBS[0], "1 job"), (SCALE_JOBS[1], "4 jobs")):
            w("| fio's IOPS without the final flush, %s | %s |"
              % (lab, " | ".join(fmt(recs[j, t].get("fio_iops"), 0) for t in order)))
        for j, lab in ((SCALE_JOBS[0], "1 job"), (SCALE_JOBS[1], "4 jobs")):
            w("| the final flush, s, %s | %s |" % (lab, " | ".join(fmt(recs[j, t].get("flush_s"), 2)
                                                                 for t in order)))
        for j, lab in ((SCALE_JOBS[0], "1 job"), (SCALE_JOBS[1], "4 jobs")):
            row = []
            for t in order:
                r = recs[j, t]
                lc, ios = r.get("lock_contention") or {}, r.get("io_bytes", 0) / 4096.0
                row.append("%.1f" % (1000.0 * lc["total"] / ios) if "total" in lc and ios else "-")
            w("| lock contentions per 1000 I/Os, %s | %s |" % (lab, " | ".join(row)))
        w("")
        sites = []
        for j, lab in ((SCALE_JOBS[0], "1 job"), (SCALE_JOBS[1], "4 jobs")):
            lc = recs[j, "sis"].get("lock_contention") if "sis" in order else None
            if lc and lc.get("top"):
                sites.append("%s: %d in all, %d at dm-sis sites (%s)" % (
                    lab, lc["total"], lc.get("sis_total", 0),
                    "; ".join("`%s` %d" % (x["site"], x["count"]) for x in lc["top"][:5])))
        if sites:
            w("Lock contention is the kernel's `lock:contention_begin` event (a mutex, rwsem or "
              "spinlock found held) counted by call stack during the job; a site is the function "
              "that took the lock and its caller. dm-sis, most frequent sites: " + ". ".join(sites) + ".")
            w("")

    kl = "raw/" + LONG_JOB
    if kl in S:
        w("## Write latency: long unique 4 KiB write (raw)")
        w("")
        w("fio `rw=write bs=4k iodepth=32 dedupe_percentage=0`, %s MiB after the four raw regions "
          "(capped at %s s), `percentile_list=%s`; completion latency (clat) from fio's JSON; writes "
          "over 100 ms counted from fio's per-I/O clat log (`write_lat_log`). Issue 12 item 2 asks for "
          "max and p99.9 next to dm-linear and dm-vdo." % (env.get("long_mib", "?"), env.get("seq_cap_s", "?"),
                                                            ":".join(PCTS)))
        w("")
        w("| | " + " | ".join(order) + " |")
        w("|---" * (len(order) + 1) + "|")
        w("| MiB/s | %s |" % " | ".join(tcell(kl, t) for t in order))
        w("| MiB written | %s |" % " | ".join(cell((S.get(kl, {}).get(t) or {}).get("io_mib")) for t in order))
        for p in PCTS:
            w("| clat p%s, ms | %s |" % (p, " | ".join(fmt(ms(med(kl, t, "clat_p%s_us" % p)), 2)
                                                     for t in order)))
        w("| clat max, ms | %s |" % " | ".join(fmt(ms(med(kl, t, "clat_max_us")), 2) for t in order))
        row = []
        for t in order:
            n, tot = med(kl, t, "slow_ios"), med(kl, t, "lat_log_ios")
            row.append("-" if n is None and tot is None else "%d of %d" % (n or 0, tot or 0))
        w("| writes > 100 ms (of all) | %s |" % " | ".join(row))
        w("| guest CPU s per GiB | %s |" % " | ".join(cell((S.get(kl, {}).get(t) or {}).get("cpu_s_per_gib"))
                                                     for t in order))
        w("")
        slow = []
        for t in order:
            r = last_rec(res, "raw", LONG_JOB, t)
            if r and r.get("slow_bursts"):
                b = r["slow_bursts"]
                slow.append("%s: %s%s" % (t, ", ".join("%.1f s: %d (max %s ms)" % (a / 1000.0, c, fmt(m))
                                                         for a, c, m in b[:8]),
                                          ", ... (%d more intervals)" % (len(b) - 8) if len(b) > 8 else ""))
        if slow:
            w("When the writes over 100 ms completed (time into the job in 0.1 s steps: count, worst): "
              + "; ".join(slow) + ".")
            w("")
        if runs > 1:
            w("Figures are medians over %d runs." % runs)
            w("")

    recs = {(t, j): last_rec(res, "raw", j, t) or {} for t in order
            for j in ("seqwrite_dedupe0", "seqwrite_dedupe90")}
    profs = {k: v["profile"] for k, v in recs.items() if v.get("profile")}
    ticks = {k: v["tick_profile"] for k, v in recs.items() if (v.get("tick_profile") or {}).get("samples")}
    if profs:
        w("## Profile: where a unique and a duplicate write spend their time (raw)")
        w("")
        w("During the raw seq write 128k jobs with dedupe 0%% (unique) and 90%% (duplicate): every "
          "guest task's utime+stime (`/proc/<pid>/task/<tid>/stat`) and scheduler run / run-queue wait "
          "time (`.../schedstat`), sampled every %s s, each interval charged to the task's group. "
          "Kernel workers (and workqueue rescuers) are grouped by the workqueue they last ran (the name in "
          "`/proc/.../stat`, e.g. `kworker/u4:2+sis-254:64`: dm-sis's workqueue is `sis-<major>:<minor>` "
          "of its backing disk), other tasks by name without the per-CPU suffix. Interrupt and softirq "
          "work is charged to whatever task it interrupted; a kworker that ran several workqueues within "
          "one interval is charged to the last. The sampler and the job's blktrace (dedupe 0%% only) run "
          "in the guest too and are listed. Seconds over the whole job; %s. `/proc/stat` busy counts "
          "timer ticks, schedstat the scheduler clock: under TCG the tick count runs short, so the "
          "task sum can exceed it.%s" % (
              env.get("profile_period_s", "?"), "last run" if runs > 1 else "single run",
              " Below each table, the same jobs' kernel stacks at the local timer interrupt (a "
              "tracefs hist on `irq_vectors:local_timer_entry` keyed by stack; the unwinder crosses "
              "the interrupt entry, so the frames are the interrupted code; user space shows as "
              "`(user space)`; an idle CPU ticks less, so the idle share is a lower bound)."
              if ticks else ""))
        w("")
        for t in order:
            p0, p9 = profs.get((t, "seqwrite_dedupe0")), profs.get((t, "seqwrite_dedupe90"))
            if not p0 and not p9:
                continue
            top = 10 if t == "sis" else 5
            runs_by = {}
            for p in (p0, p9):
                for r in (p or {}).get("top", []):
                    runs_by[r["group"]] = max(runs_by.get(r["group"], 0), r["run_s"])
            groups = sorted(runs_by, key=lambda g: -runs_by[g])[:top]
            w("**%s** (top %d by run time)" % (t, len(groups)))
            w("")
            w("| task group | unique: CPU s | run s | wait s | duplicate: CPU s | run s | wait s |")
            w("|---|---|---|---|---|---|---|")
            for g in groups:
                cells = []
                for p in (p0, p9):
                    r = next((x for x in (p or {}).get("top", []) if x["group"] == g), None)
                    cells += [fmt(r["cpu_s"], 2), fmt(r["run_s"], 2), fmt(r["wait_s"], 2)] if r else ["-"] * 3
                w("| %s | %s |" % (g.replace("|", "/"), " | ".join(cells)))
            cells = []
            for p in (p0, p9):
                cells += (["busy %s" % fmt(p["busy_s"], 2), "tasks %s" % fmt(p["tasks_run_s"], 2),
                           "wall %s" % fmt(p["wall_s"], 1)] if p else ["-"] * 3)
            w("| all (`/proc/stat` busy; sum of task run; wall) | %s |" % " | ".join(cells))
            w("")
            for j, lab in (("seqwrite_dedupe0", "unique write"), ("seqwrite_dedupe90", "duplicate write")):
                tp = ticks.get((t, j))
                if tp:
                    w(tick_line(tp, lab, t == "sis"))
                    w("")

    read_jobs = [("raw", "seqread", "raw seq read 128k (read-back)"),
                 ("ext4", "copies_read_cold", "ext4 K identical files cold read")]
    rticks = {(l, j, t): (last_rec(res, l, j, t) or {}).get("tick_profile") for l, j, _ in read_jobs
              for t in order}
    if any((v or {}).get("samples") for v in rticks.values()):
        w("## Profile: where the reads spend their guest CPU")
        w("")
        w("Kernel stacks at the local timer interrupt during the two read jobs of issue 11 that "
          "trail dm-linear (the tick profile of the section above; %s)." % (
              "last run" if runs > 1 else "single run"))
        w("")
        for l, j, lab in read_jobs:
            for t in order:
                tp = rticks.get((l, j, t))
                if (tp or {}).get("samples"):
                    w("- **%s**: %s" % (t, tick_line(tp, lab, t == "sis")))
            w("")

    traced = [("raw", "seqwrite_dedupe0"), ("ext4", "copies_read_cold")]
    bts = {(l, j, t): (last_rec(res, l, j, t) or {}).get("blktrace") for l, j in traced for t in order}
    if any(bts.values()):
        w("## Block requests on the backing disk (blktrace)")
        w("")
        w("`blktrace -a queue -a issue` on each target's own virtio disk during the raw seq write 128k "
          "dedupe 0%% job and the ext4 K identical files cold read, parsed with `blkparse`. Q: bios the "
          "target (or ext4 through dm-linear) submitted to the disk; D: requests issued to the driver "
          "after merging; sizes of the D requests; flushes are the empty (`F`) requests. %s" % (
              "Last run." if runs > 1 else ""))
        w("")
        w("| job | target | dir | Q bios | Q mean KiB | D requests | D MiB | D ≤4k | 8-64k | 68-128k | >128k |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        dropped = []
        for l, j in traced:
            for t in order:
                b = bts.get((l, j, t))
                if not b:
                    continue
                if "events" not in b:
                    w("| %s %s | %s | - | %s | | | | | | | |" % (l, JOB_LABEL.get(j, j), t,
                                                              b.get("error", "no trace")))
                    continue
                if b.get("dropped_events"):
                    dropped.append("%s %s on %s: %d" % (l, JOB_LABEL.get(j, j), t, b["dropped_events"]))
                if b.get("enable_after"):
                    dropped.append("%s %s on %s: blktrace still enabled after the job" % (l, JOB_LABEL.get(j, j), t))
                Q, D = b["events"].get("Q", {}), b["events"].get("D", {})
                for d in ("read", "write", "flush"):
                    q, dd = Q.get(d), D.get(d)
                    if not q and not dd:
                        continue
                    q = q or {"count": 0, "bytes": 0}
                    dd = dd or {"count": 0, "bytes": 0, "hist": {}}
                    h = dd.get("hist", {})
                    sized = d != "flush"
                    w("| %s %s | %s | %s | %d | %s | %d | %s | %s | %s | %s | %s |" % (
                        l, JOB_LABEL.get(j, j), t, d, q["count"],
                        fmt(q["bytes"] / 1024.0 / q["count"]) if q["count"] and sized else "-",
                        dd["count"], fmt(dd["bytes"] / MiB) if sized else "-",
                        *(str(h.get(k, 0)) if sized else "-" for k in ("4k", "8-64k", "68-128k", ">128k"))))
        if dropped:
            w("")
            w("**blktrace problems** (dropped events: the counts above are short): " + "; ".join(dropped) + ".")
        w("")


def markdown(res):
    env, host, order, S = res["env"], res["host"], res["targets"], res["summary"]
    runs = env.get("runs", 1)
    L = []
    w = L.append
    w("# dm-sis benchmarks")
    w("")
    w("Generated by `make bench` (`scripts/bench`; guest side `tests/bench/bench-guest.py`, "
      "report `tests/bench/report.py`). **Every figure below comes from the run described here**; "
      "rerun `make bench` to regenerate this page, `docs/benchmarks.json` (every figure of every "
      "job and run) and `docs/benchmarks.png`. The notes under \"Why a target is not met\" "
      "are `tests/bench/targets-notes.md`, written after the run; "
      "`tests/bench/report.py --from-json docs/benchmarks.json` renders this page again "
      "from the same figures when they change.")
    w("")
    w("## Run")
    w("")
    w("| | |")
    w("|---|---|")
    w("| date (UTC) | %s |" % host.get("date", "?"))
    w("| guest kernel | %s |" % env.get("kernel", "?"))
    w("| guest | QEMU %s, %s vCPUs (`-cpu qemu64,-cx16`), %s MiB RAM, CPU model \"%s\" |"
      % ("TCG (no KVM)" if host.get("accel", "tcg") == "tcg" else host.get("accel"),
         env.get("nproc", "?"), (env.get("mem_total") or 0) // MiB, env.get("cpu_model", "?")))
    w("| host | %s vCPUs, %s, %s MiB RAM, kernel %s; %s |"
      % (host.get("host_nproc", "?"), host.get("host_cpu", "?"), host.get("host_mem_mib", "?"),
         host.get("host_kernel", "?"), host.get("qemu", "?")))
    w("| host load (1/5/15 min) | before %s, after %s; sampled during the run: %s |"
      % (host.get("load_before", "?"), host.get("load_after", "?"), host.get("load_samples", "?")))
    clk = env.get("clock") or {}
    if clk:
        endr = next((r for r in reversed(res.get("end", [])) if r), {})
        txt = "clocksource %s; guest clock rate vs the RTC (host time) at start %s" % (
            clk.get("clocksource"), fmt(clk.get("rate_before"), 3))
        if clk.get("rate_after") is not None:
            txt += " (**TSC miscalibrated at boot**: switched to hpet, rate now %s)" % fmt(clk["rate_after"], 3)
        if endr.get("rtc_s"):
            txt += "; over the run: %s s guest clock for %s s RTC" % (endr.get("mono_s"), endr.get("rtc_s"))
        w("| guest clock | %s |" % txt)
    w("| tree | git %s |" % host.get("git", "?"))
    w("| disks | one sparse virtio disk per target (%s), `cache=unsafe`, identical size; "
      "every target has a logical size of %s MiB |"
      % (", ".join(["%s %s" % (t, d) for t, d in (env.get("disks") or {}).items()] +
                   (["clones %s" % env["clones_disk"]] if env.get("clones_disk") else [])),
         env.get("logical_mib", "?")))
    if runs > 1:
        w("| runs | **%d runs** of every target in one boot, interleaved (run 1: all targets, then run 2 ...); "
          "cells give the **median ±half the range** (min to max) as a %% of the median |" % runs)
    else:
        w("| runs | **single run** (one measurement per figure, no spread: read small differences as noise) |")
    w("| sizes | fio %s MiB per job (seq read-back: 3x), random jobs capped at %s s; %s identical files of %s MiB; "
      "%s copies of a %s-file, %.0f MiB tree (%s) |"
      % (env.get("size_mib"), env.get("rand_runtime_s"), env.get("copies"), env.get("copy_mib"),
         env.get("containers"), env.get("tree_files"), (env.get("tree_bytes") or 0) / MiB, env.get("tree")))
    w("| fio | %s, libaio, direct=1, refill_buffers; dedupe via `dedupe_percentage` with "
      "`dedupe_mode=working_set` (working set 5%% of the job size, so duplicates hit the index, "
      "not only in-flight data), a distinct `randseed` per job (no accidental cross-job duplicates) |"
      % env.get("fio", "?"))
    w("| wall time | guest run %s s; whole `scripts/bench` %s s (incl. bench-core and this report) |"
      % (host.get("guest_wall_s", "?"), host.get("total_wall_s", "?")))
    st = "complete" if res["complete"] else "**incomplete: the guest did not reach the end (see Failures)**"
    w("| status | %s; vm-run exit %s |" % (st, host.get("vm_run_rc", "?")))
    w("")
    if order:
        w("Targets:")
        w("")
    for t in order:
        ts = res["target_summary"].get(t)
        desc = ts["describe"] if ts else next((r.get("describe") for r in res["jobs"]
                                               if r["target"] == t and r.get("describe")), "")
        w("- **%s**: %s" % (t, desc or "(no result)"))
    if order:
        w("")

    errs = res["errors"]
    summary_table(res, w)
    targets_section(res, w)
    if errs or not res["complete"] or res["unparsed_lines"] or res["vm_run_problems"]:
        w("## Failures")
        w("")
        for e in errs:
            where = "scale %s" % e.get("size", "") if e["target"] == "scale" else \
                "stack %s" % e.get("stack") if e["target"] == "clones" else "run %s" % e.get("run")
            w("- %s, **%s**: %s" % (where, e["target"], e["error"].replace("\n", " ")[:600]))
        for t in order:
            if t not in {r["target"] for r in res["jobs"]}:
                w("- **%s**: no job completed in any run" % t)
        if not res["complete"]:
            w("- the guest run ended before the last target finished (vm-run exit %s); "
              "rows missing below were not measured" % host.get("vm_run_rc", "?"))
        if res["vm_run_problems"]:
            w("- vm-run's check of the guest kernel log:")
            w("")
            w("  ```")
            for l in res["vm_run_problems"][:20]:
                w("  " + l)
            w("  ```")
        if res["unparsed_lines"]:
            w("- %d result line(s) on the console could not be parsed and were dropped" % res["unparsed_lines"])
        w("")

    def tcell(key, t, metric="mib_s", ratio=True, unit=""):
        d = S.get(key, {}).get(t)
        if not d or not d.get(metric):
            return "FAILED" if any(e["target"] == t for e in errs) else "-"
        s = cell(d[metric], unit)
        if ratio and t != "linear" and d.get("ratio_to_linear") is not None:
            s += " (%.2fx)" % d["ratio_to_linear"]
        if d.get("capped_runs"):
            s += " ⁽ᶜ⁾"
        if d.get("copies") and key.endswith(("containers_write", "containers_read_cold")):
            want = res["env"].get("containers")
            if want and min(d["copies"]) < want:
                s += " [%s of %s copies]" % ("/".join(str(c) for c in d["copies"]), want)
        return s

    mark = len(L)  # the per-target sections: none in a run without targets (--only-clones)
    w("## Throughput")
    w("")
    w("MiB/s (IOPS for the 4 KiB jobs), and in brackets the ratio to dm-linear on the same job. "
      "Writes include the flush (fsync) that ends them. Reads are cold: page cache dropped and, for "
      "dm-sis, its shared block cache dropped (`drop_cache` message) before each read job.")
    w("")
    for layer, title in (("raw", "raw device"), ("ext4", "ext4 on the device")):
        w("### %s" % title)
        w("")
        w("| job | " + " | ".join(order) + " |")
        w("|---" * (len(order) + 1) + "|")
        for j in FIO_JOBS + (FS_JOBS if layer == "ext4" else []):
            key = "%s/%s" % (layer, j)
            if key not in S:
                continue
            if "4k" in j:
                row = [tcell(key, t, "iops", unit=" IOPS") for t in order]
            else:
                row = [tcell(key, t) for t in order]
            w("| %s | %s |" % (JOB_LABEL.get(j, j), " | ".join(row)))
        w("")
    w("⁽ᶜ⁾: the job hit its time cap (%s s for a sequential job) before writing or reading its full size: "
      "the target was slow; the figure is over what it did in that time (see the JSON for bytes). "
      "[n of K copies]: the container case starts no new copy after %s s (at least 2 copies)."
      % (env.get("seq_cap_s", "?"), env.get("containers_budget_s", "?")))
    w("")

    w("## CPU")
    w("")
    w("Guest CPU time (all CPUs, user + system + irq, from `/proc/stat`) per GiB moved by the job, "
      "in seconds. It includes fio or the copying process and every kernel thread of the target "
      "(dm-vdo's and dm-sis's workers do not show in fio's own usr/sys figures, which are in the JSON). "
      "The raw seq write dedupe 0% and 90% jobs run the per-thread sampler (Profile below) and the "
      "dedupe 0% job and the ext4 K identical files cold read run blktrace: their figures include "
      "that (the Profile table lists the sampler's own share).")
    w("")
    w("| layer | job | " + " | ".join(order) + " |")
    w("|---|---" + "|---" * len(order) + "|")
    for layer in ("raw", "ext4"):
        for j in FIO_JOBS + FS_JOBS:
            key = "%s/%s" % (layer, j)
            if key not in S:
                continue
            w("| %s | %s | %s |" % (layer, JOB_LABEL.get(j, j), " | ".join(
                cell((S[key].get(t) or {}).get("cpu_s_per_gib")) for t in order)))
    w("")

    extra_sections(res, w, tcell)

    w("## Space")
    w("")
    w("Physical space taken by each write job, in MiB, from each target's own accounting "
      "(dm-thin: pool data + metadata blocks; dm-vdo: `dataBlocksUsed` + `overheadBlocksUsed` from "
      "`dmsetup message ... stats`; dm-sis: `<used>` of the status line, data + metadata). "
      "dm-linear maps 1:1, so its figure is the bytes written. In brackets: space / logical bytes written.")
    w("")
    w("| layer | job | logical MiB | " + " | ".join(order) + " |")
    w("|---|---|---" + "|---" * len(order) + "|")
    for layer in ("raw", "ext4"):
        for j in FIO_JOBS + FS_JOBS:
            key = "%s/%s" % (layer, j)
            if key not in S or "write" not in j:
                continue
            lin = S[key].get("linear") or next(iter(S[key].values()))
            io = lin.get("io_mib")
            row = []
            for t in order:
                d = S[key].get(t)
                if not d or not d.get("space_delta_mib"):
                    row.append("FAILED" if d is None and any(e["target"] == t for e in errs) else "-")
                    continue
                s = cell(d["space_delta_mib"])
                if d.get("io_mib") and d["io_mib"]["median"]:
                    s += " (%.2f)" % (d["space_delta_mib"]["median"] / d["io_mib"]["median"])
                row.append(s)
            w("| %s | %s | %s | %s |" % (layer, JOB_LABEL.get(j, j), cell(io, spread=False), " | ".join(row)))
    w("")
    w("At the end of each target's run (ext4 holding the fio files, the K identical files and the K trees):")
    w("")
    w("| | " + " | ".join(order) + " |")
    w("|---" * (len(order) + 1) + "|")
    TS = res["target_summary"]
    w("| ext4 used (df), MiB | " + " | ".join(cell(TS.get(t, {}).get("ext4_used_mib")) for t in order) + " |")
    w("| target: data blocks, MiB | " + " | ".join(
        cell(TS.get(t, {}).get("phys_data_end_mib")) if t != "linear" else "= logical" for t in order) + " |")
    w("| target: all used incl. metadata/index, MiB | " + " | ".join(
        cell(TS.get(t, {}).get("phys_used_end_mib")) if t != "linear" else "= logical" for t in order) + " |")
    w("")
    w("dm-vdo's figure includes its on-disk deduplication index and slab metadata, allocated at format "
      "time (see the `create` row of the backing-I/O table); dm-sis's includes its fixed metadata "
      "(superblocks, journal, refcount and index pages).")
    w("")

    w("## Backing-device I/O")
    w("")
    w("Bytes read / written on the target's own virtio disk (`/sys/block/vdX/stat`) during each job, MiB. "
      "The cold-read rows show what a shared cache saves: K identical files or trees read back "
      "cold need their bytes once if the target serves duplicates from one cached block.")
    w("")
    w("| layer | job | logical MiB | " + " | ".join(order) + " |")
    w("|---|---|---" + "|---" * len(order) + "|")
    for layer in ("setup", "raw", "ext4"):
        for j in ["create", "discard_regions", "mkfs"] + FIO_JOBS + FS_JOBS:
            key = "%s/%s" % (layer, j)
            if key not in S:
                continue
            lin = S[key].get("linear") or next(iter(S[key].values()))
            row = []
            for t in order:
                d = S[key].get(t)
                if not d:
                    row.append("-")
                    continue
                row.append("r %s / w %s" % (cell(d["backing_read_mib"], spread=False),
                                             cell(d["backing_write_mib"], spread=False)))
            w("| %s | %s | %s | %s |" % (layer, JOB_LABEL.get(j, j),
                                         cell(lin.get("io_mib"), spread=False) if lin.get("io_mib") else "-",
                                         " | ".join(row)))
    w("")

    w("## Memory")
    w("")
    w("Guest memory taken by the target: drop in `MemFree` (page cache dropped both times) from "
      "before the target was created to just after creation, and to the end of its run (ext4 still "
      "mounted); slab and vmalloc growth over the run; and the target's own report where it has one.")
    w("")
    w("| | " + " | ".join(order) + " |")
    w("|---" * (len(order) + 1) + "|")
    for k, lab in (("mem_after_create_mib", "after create, MiB"), ("mem_end_mib", "at end of run, MiB"),
                   ("slab_end_mib", "slab growth, MiB"), ("vmalloc_end_mib", "vmalloc growth, MiB"),
                   ("module_mem_mib", "target's own figure, MiB")):
        w("| %s | %s |" % (lab, " | ".join(cell(TS.get(t, {}).get(k)) for t in order)))
    whats = ["%s: %s" % (t, TS[t]["module_mem_what"]) for t in order if TS.get(t, {}).get("module_mem_what")]
    if whats:
        w("")
        w("Target's own figure: " + "; ".join(whats) + ".")
    w("")
    if not order:
        del L[mark:]

    clones_section(res, w)
    scale_section(res, w)
    core_scale_section(res, w)
    w("## Core instruction counts (`make -C userspace bench-core`)")
    w("")
    core = (res.get("bench_core") or "").rstrip()
    lines = core.splitlines()
    if len(lines) > 80:
        lines = lines[:40] + ["... (%d lines cut; full output in build/bench/bench-core.txt)" % (len(lines) - 60)] + lines[-20:]
    w("```")
    w("\n".join(lines) if lines else "(no output)")
    w("```")
    w("")
    if order:
        w("## Plot")
        w("")
        w("![throughput and space per target](benchmarks.png)")
        w("")
    w("## Method and caveats")
    w("")
    w("- One guest boot; each target on its own identical disk; targets run one after another in the "
      "order above, each run recreating every target from a blank (discarded) disk.")
    w("- Raw device: four regions of the fio size: the three sequential write jobs (dedupe 0/50/90%) write "
      "regions 0-2, the random write job region 3; the read-back reads regions 0-2 sequentially, the "
      "random read job reads 4 KiB blocks at random over them. Then regions 0-3 are discarded, "
      "ext4 is made (`mkfs.ext4 -E lazy_itable_init=0,lazy_journal_init=0,nodiscard`: no background "
      "init during the jobs) and the same jobs run on four files.")
    w("- K identical files: one random file (tmpfs) copied K times onto ext4, flushed, read back cold. "
      "Container trees: a tar of the guest's own `/usr` (without kernel modules) extracted K times "
      "into separate directories, flushed, then every file read back cold in tar order.")
    w("- Raw device, after the random write job: 4 KiB randrw (50%% dedupe) over region 3 with 1 then "
      "4 jobs (time-based, %s s each); then the long unique 4 KiB write (%s MiB, QD 32) into region 4 "
      "(after the four regions). These jobs and the profile/blktrace sections are not part of the "
      "summary's geometric means (they keep the same job set as earlier reports)."
      % (env.get("randrw_runtime_s", env.get("rand_runtime_s", "?")), env.get("long_mib", "?")))
    w("- The host is shared (other QEMU guests and builds run on its 2 vCPUs, see host load above): "
      "absolute MiB/s under TCG are low and noisy; ratios within this run are what to read, "
      "backing-I/O bytes and space figures do not depend on the noise.")
    w("")
    return "\n".join(L) + "\n"


CLONE_STACKS = {"thin": "dm-thin snapshots", "thinvdo": "dm-thin over dm-vdo (LVM)", "sis": "dm-sis clones"}


def clones_section(res, w):
    """K clones of a volume holding an OS tree on each stack (bench-guest.py --clones)."""
    rows = res.get("clones") or []
    if not rows:
        return
    r0 = rows[0]
    K = r0["clones"]
    w("## K clones of an OS tree: dm-thin, dm-thin over dm-vdo, dm-sis")
    w("")
    w("One blank disk, the stacks one after another in the same boot (issue 13). Volume 0 "
      "(%s MiB logical) gets ext4 and a %s-file, %.0f MiB tree (the guest's `/usr` without kernel "
      "modules, unpacked from tmpfs), is unmounted, and is cloned **K = %d** times: dm-thin "
      "`create_snap` to the pool, dm-sis `clone_volume` to the volume's device, the origin suspended "
      "around each message; then each clone gets a dm device of its own. **Cold read**: page cache "
      "and target cache dropped, then clone after clone is mounted read-only (same ext4 UUID on all: "
      "mounted by device path) and the first %s MiB of the tree's files in sorted order (%s files, "
      "%.1f MiB: one copy) are read whole. **Change**: each clone is remounted read-write, "
      "gets a file of %s KiB of unique data and has 16 of the sampled files touched; sync, unmount, "
      "flush. **Space** is what the pool reports: dm-thin data blocks (64 KiB) + metadata blocks from "
      "the pool status; over dm-vdo the vdo's physical blocks used (data + overhead) + the thin "
      "metadata; dm-sis `used` from the status (data + metadata); each taken **over the empty pool** "
      "(what the stack reports just after set-up, before mkfs: see the second table)."
      % (r0["volume_bytes"] // MiB, r0["tree_files"], r0["tree_bytes"] / MiB,
         K, r0["read_mib"], r0.get("sample_files"), (r0.get("sample_bytes") or 0) / MiB,
         r0["change_bytes"] // 1024))
    w("")
    w("| stack | K clones: messages s (+ devices s) | cold read of K clones, s | disk reads, MiB "
      "(x one copy) | page cache, MiB | target memory, MiB | space: base, MiB | space at end, MiB "
      "| base + changes, MiB | end / (base + changes) |")
    w("|---|---|---|---|---|---|---|---|---|---|")

    def mib(x):
        return fmt(x / MiB) if x is not None else "-"

    def used(r, key):
        """Space the stack reports at step @key, over its empty pool."""
        v = (r.get(key) or {}).get("used")
        return None if v is None else v - (r.get("space_empty") or {}).get("used", 0)
    for r in rows:
        rd, one = r.get("read") or {}, r.get("sample_bytes") or 0
        dr, base, end = rd.get("disk_read_bytes"), used(r, "space_base"), used(r, "space_end")
        tmem = (rd.get("target_mem_bytes") or 0) + (rd.get("bufio_bytes") or 0) if rd else None
        bc = base + K * r["change_bytes"] if base is not None else None
        w("| %s | %s (+%s) | %s | %s | %s | %s | %s | %s | %s | %s |"
          % (CLONE_STACKS.get(r["stack"], r["stack"]), fmt(r.get("clone_s"), 2), fmt(r.get("activate_s"), 2),
             fmt(rd.get("elapsed_s")),
             "%s (%.2fx)" % (mib(dr), dr / one) if dr is not None and one else "-",
             mib(rd.get("page_cache_bytes")), mib(tmem), mib(base), mib(end), mib(bc),
             "%.2f" % (end / bc) if bc and end is not None else "-"))
    done = {r["stack"] for r in rows}
    for e in res["errors"]:
        if e["target"] == "clones" and e.get("stack") not in done:
            w("| %s | FAILED: %s | | | | | | | | |"
              % (CLONE_STACKS.get(e.get("stack"), e.get("stack")), e["error"].replace("\n", " ").replace("|", "/")[:200]))
    w("")
    w("Reads: %d clones x %.1f MiB were read (%.0f MiB through the page cache); x one copy = disk reads / "
      "the sample. Page cache: growth of `Cached` + `Buffers` over the cold read (every clone is its "
      "own ext4 and block device, so the page cache holds one copy per clone on every stack). Target "
      "memory: growth of the target's own figure (dm-sis: status `cache_blocks` x 4 KiB, the shared "
      "cache; dm-vdo: stats `memoryUsage`, allocated at start, block map cache included) + dm-bufio's "
      "`current_allocated_bytes` (dm-thin's metadata cache) over the cold read. Changes: K x %s KiB "
      "of unique data; the touched files and ext4's own journal and metadata writes come on top, and "
      "a dm-thin snapshot copies a whole 64 KiB block for a 4 KiB write."
      % (K, (r0.get("sample_bytes") or 0) / MiB, K * (r0.get("sample_bytes") or 0) / MiB, r0["change_bytes"] // 1024))
    w("")
    w("| stack | set-up s | empty pool: space used, MiB | base fill s | space after cloning, MiB "
      "| change: s, disk writes MiB | cold read: disk reads after the 1st clone, MiB | after the last, MiB "
      "| target memory held after the read, MiB | MemFree drop, MiB | wall s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rd, ch = r.get("read") or {}, r.get("change") or {}
        cum = rd.get("disk_read_cumulative") or [None]
        held = rd.get("target_mem_after")
        w("| %s | %s | %s | %s | %s | %s, %s | %s | %s | %s | %s | %s |"
          % (CLONE_STACKS.get(r["stack"], r["stack"]), fmt(r.get("setup_s")),
             mib((r.get("space_empty") or {}).get("used")), fmt(r.get("base_fill_s")),
             mib(used(r, "space_clones")), fmt(ch.get("elapsed_s")), mib(ch.get("disk_write_bytes")),
             mib(cum[0]), mib(cum[-1]), mib(held["target"] + held["bufio"]) if held else "-",
             mib(rd.get("free_drop_bytes")), fmt(r.get("wall_s"))))
    w("")
    for r in rows:
        v = r.get("volumes")
        if not v or not v[0]:
            continue
        w("%s, per volume after the changes (`count_exclusive`; exclusive = what deleting it would free): "
          "volume 0 maps %s MiB, %s MiB exclusive; clones 1-%d map %s MiB, exclusive %s MiB."
          % (CLONE_STACKS.get(r["stack"], r["stack"]), mib(v[0]["mapped"]), mib(v[0]["exclusive"]), len(v) - 1,
             "/".join(mib(x["mapped"]) for x in v[1:]), "/".join(mib(x["exclusive"]) for x in v[1:])))
        w("")


def scale_round_medians(res):
    """The alternating rounds of the unique write on the scale devices
    (bench-guest.py scale_rounds()): per size its median MiB/s and CPU s/GiB,
    and the median of the per-round ratios of the last size to the first;
    None without rounds."""
    sr = res.get("scale_rounds")
    if not sr or len(sr.get("sizes", [])) < 2:
        return None
    sizes = sr["sizes"]
    by = {(r["round"], r["size"]): r for r in sr["rounds"]}
    rounds = sorted({r["round"] for r in sr["rounds"]})
    ratio_of = {}
    for n in rounds:
        a, b = by.get((n, sizes[0])), by.get((n, sizes[-1]))
        if a and b and a.get("mib_s") and b.get("mib_s"):
            ratio_of[n] = b["mib_s"] / a["mib_s"]
    ratios = list(ratio_of.values())
    if not ratios:
        return None
    med = {}
    for z in sizes:
        v = [by[(n, z)] for n in rounds if (n, z) in by]
        mb = [x["mib_s"] for x in v if x.get("mib_s")]
        cpu = [x["cpu_s_per_gib"] for x in v if x.get("cpu_s_per_gib")]
        med[z] = {"mib_s": statistics.median(mb) if mb else None,
                  "cpu": statistics.median(cpu) if cpu else None}
    return {"sizes": sizes, "rounds": rounds, "by": by, "ratio_of": ratio_of,
            "ratio": statistics.median(ratios), "n": len(ratios), "med": med, "mib": sr.get("mib")}


def scale_rounds_table(res, w):
    rr = scale_round_medians(res)
    if not rr:
        return
    sizes = rr["sizes"]
    w("The same unique write, %s MiB (seq write 128k QD 16, dedupe 0%%, over the region the "
      "dedupe 0%% job wrote), on every size in turn, the devices open side by side, the order "
      "turned round each round: the sizes seconds apart, not minutes. Each cell: MiB/s (guest "
      "CPU s/GiB); ratio: %s / %s in that round." % (rr["mib"], sizes[-1], sizes[0]))
    w("")
    w("| round | %s | ratio %s / %s |" % (" | ".join(sizes), sizes[-1], sizes[0]))
    w("|---|%s---|" % ("---|" * len(sizes)))
    for n in rr["rounds"]:
        cells = []
        for z in sizes:
            r = rr["by"].get((n, z))
            cells.append("%s (%s)" % (fmt(r.get("mib_s")), fmt(r.get("cpu_s_per_gib"))) if r else "-")
        x = rr["ratio_of"].get(n)
        w("| %d | %s | %s |" % (n, " | ".join(cells), "-" if x is None else "%.2f" % x))
    w("| median | %s | **%.2f** |" % (" | ".join("%s (%s)" % (fmt(rr["med"][z]["mib_s"]), fmt(rr["med"][z]["cpu"]))
                                            for z in sizes), rr["ratio"]))
    w("")
    w("Issue 12 target, from the rounds: unique writes at %s at least 0.8x of %s: **%s** "
      "(median of %d rounds: %.2fx)."
      % (sizes[-1], sizes[0], "met" if rr["ratio"] >= 0.8 else "not met", rr["n"], rr["ratio"]))
    w("")


def scale_section(res, w):
    """dm-sis alone on sparse disks of growing size (bench-guest.py --scale)."""
    rows = res.get("scale") or []
    if not rows:
        return
    env = res["env"]
    w("## Cost growth with the device size (dm-sis alone)")
    w("")
    r0 = rows[0]
    w("dm-sis over the whole of a blank sparse virtio disk of each size (logical size = disk size), "
      "one after another in the same boot; guest RAM %s MiB; module parameters `metadata_cache_mb=%s`, "
      "`cache_mb=%s`. Create = `dmsetup create` on the blank disk, which formats it. RAM: drop in "
      "MemAvailable from before create (page cache dropped) to after create and at the end; index RAM: "
      "status field `index_ram` (hook table + record index); metadata RAM: status field `metadata_ram` "
      "(the metadata cache's pages, the commit buffer, the free-space summary); shared cache: status "
      "field `cache_blocks` x 4 KiB (module-wide, bounded by `cache_mb`). Then a prefill of %s MiB of unique data "
      "(16 pieces spread over the device, so the index and refcounts are not empty) and the raw jobs of "
      "the main table: seq write 128k QD 16, %s MiB, dedupe 0 and 50%% (working set 5%%), each with its "
      "flush; ratios are to the first size."
      % ((env.get("mem_total") or 0) // MiB, r0.get("metadata_cache_mb"), r0.get("cache_mb"),
         r0.get("prefill_mib"), r0.get("size_mib")))
    w("")
    w("| device | create (format) s | RAM after create, MiB | index RAM, MiB | RAM at end, MiB "
      "| metadata RAM at end, MiB | shared cache at end, MiB "
      "| slab + vmalloc at end, MiB | prefill MiB/s | seq write 128k dedupe 0%, MiB/s | dedupe 50%, MiB/s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    base = {}

    def mibs(r, k):
        d = r.get(k) or {}
        return d.get("mib_s")

    def rcell(r, k):
        v = mibs(r, k)
        if v is None:
            return "-"
        s = fmt(v)
        if k in base and base[k]:
            s += " (%.2fx)" % (v / base[k])
        else:
            base[k] = v
        if (r.get(k) or {}).get("capped"):
            s += " capped"
        return s

    def memd(r, a, b, k, sign=1):
        if not r.get(a) or not r.get(b):
            return None
        return sign * (r[b][k] - r[a][k]) / MiB
    for r in rows:
        slab = None
        if r.get("mem_end"):
            slab = (memd(r, "mem_before", "mem_end", "Slab") or 0) + \
                (memd(r, "mem_before", "mem_end", "VmallocUsed") or 0)
        pre = (r["prefill_bytes"] / MiB / r["prefill_s"]) if r.get("prefill_s") else None
        se = r.get("status_end") or {}
        w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
          % (r["size"], fmt(r.get("format_s"), 2),
             fmt(memd(r, "mem_before", "mem_created", "MemAvailable", -1)),
             fmt(r["index_ram_created"] / MiB) if r.get("index_ram_created", -1) >= 0 else "-",
             fmt(memd(r, "mem_before", "mem_end", "MemAvailable", -1)),
             fmt(int(se["metadata_ram"]) / MiB) if se.get("metadata_ram") else "-",
             fmt(int(se["cache_blocks"]) * 4096 / MiB) if se.get("cache_blocks") else "-",
             fmt(slab), fmt(pre),
             rcell(r, "dedupe0"), rcell(r, "dedupe50")))
    w("")
    last = rows[-1]
    if len(rows) > 1 and base.get("dedupe0") and mibs(last, "dedupe0"):
        x = mibs(last, "dedupe0") / base["dedupe0"]
        w("One measurement per size above, minutes apart: unique writes at %s / %s %.2fx "
          "(%s); the target is judged on the rounds below when there are any."
          % (last["size"], r0["size"], x, "at least 0.8x" if x >= 0.8 else "under 0.8x"))
        w("")
    scale_rounds_table(res, w)
    # where the guest CPU of the unique write goes at each size
    prof = [(r["size"], r["dedupe0"]) for r in rows
            if (r.get("dedupe0") or {}).get("tick_profile", {}).get("samples")]
    if prof:
        w("The seq write 128k dedupe 0% at each size (the table's first measurement): guest CPU s "
          "per GiB (`/proc/stat` busy) and the kernel stacks at the timer tick (as in the Profile "
          "sections):")
        w("")
        for size, d in prof:
            w("- **%s** (%s guest CPU s/GiB): %s"
              % (size, fmt(d.get("cpu_s_per_gib")), tick_line(d["tick_profile"], "unique write", True)))
        w("")


def core_scale_section(res, w):
    """The core benchmark at scale, metadata on a file (make bench-core-scale)."""
    runs = res.get("core_scale_runs") or []
    text = (res.get("bench_core_scale") or "").rstrip()
    if not runs and not text:
        return
    w("## Core at scale (`make bench-core-scale`: metadata on a sparse file)")
    w("")
    if runs:
        d = runs[0]
        w("Native, the host of this run; metadata on a sparse file on the host's disk "
          "(file backend: pread/pwrite, fdatasync per commit, one commit per %s operations besides "
          "the core's own; metadata cache limit %s clean pages); "
          "issue 12 targets at 100M blocks: at most 1 us per unique and 0.5 us per duplicate block. "
          "Two runs, each on a fresh file: **inline**, one thread that does every commit itself; "
          "**committer thread**, the target's model (dm-sis/pool.c: writers never commit unless "
          "they find the transaction full, the commit worker does, with the core lock dropped "
          "across its I/O): a second thread commits every few ms while the core holds changes. "
          "A third run repeats the committer-thread run on the file the second left, its "
          "blocks allocated by then, as on a block device: on a new sparse file at 100M "
          "blocks the host file system's allocation of scattered 4 KiB extents (ext4 "
          "mballoc) costs both threads a large share of their system time. "
          "CPU counts every thread of the process; the writer's system time is its "
          "metadata syscalls, its waiting the wall time it was off CPU (for a commit or "
          "checkpoint in its way, for its own metadata I/O). "
          "Each write's time includes the fingerprint "
          "(sis_fingerprint() of 4 KiB, alone: %s us/block) and the metadata I/O the writer did itself."
          % ("{:,}".format(d.get("commit_every", 4096)), "{:,}".format(d.get("cache_limit", 4096)),
             fmt(d.get("fp_us"), 2)))
        w("")
        w("| blocks | commits | unique, us/block (CPU) | dup, us/block (CPU) | lookup, us/block | "
          "metadata I/O us/block unique / dup (all threads) | the writer in unique writes, "
          "us/block: user / system CPU / waiting | RAM per million mapped blocks, MiB "
          "(peak RSS) | index RAM, MiB | metadata cache, MiB | file allocated, MiB |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")

        def us(d, k, target=None):
            v = d.get(k)
            if v is None:
                return "-"
            s = "%.2f (%s)" % (v, fmt(d.get(k.replace("_us", "_cpu_us")), 2))
            if target is not None:
                s += " %s" % ("ok" if v <= target else "**over %.1f**" % target)
            return s
        for d in runs:
            how = ("committer thread, every %d ms" % d["commit_thread_ms"]
                   if d.get("commit_thread_ms") else "inline")
            if d.get("file_reused"):
                how += ", on the file the run before left (its blocks allocated)"
            w("| %s | %s | %s | %s | %s | %s / %s | %s / %s | %s (%s) | %s | %s | %s |"
              % ("{:,}".format(d.get("blocks", 0)), how, us(d, "unique_us", 1.0),
                 us(d, "dup_us", 0.5), us(d, "lookup_us"),
                 fmt(d.get("unique_io_us"), 2), fmt(d.get("dup_io_us"), 2),
                 "%s / %s" % (fmt(d.get("unique_wuser_us"), 2), fmt(d.get("unique_wsys_us"), 2)),
                 fmt(d.get("unique_wait_us"), 2),
                 fmt(d.get("ram_per_m_mib"), 2), fmt(d.get("peak_per_m_mib"), 2),
                 fmt(d.get("index_ram_mib")), fmt(d.get("cache_mib")), fmt(d.get("file_mib"))))
        w("")
    w("```")
    w(text if text else "(no output)")
    w("```")
    w("")


# ---- plot ------------------------------------------------------------------

def plot(res, outdir, png):
    order, S = res["targets"], res["summary"]
    jobs = [("raw", j) for j in FIO_JOBS] + [("ext4", j) for j in FIO_JOBS + FS_JOBS]
    short = {"seqwrite_dedupe0": "seqW d0", "seqwrite_dedupe50": "seqW d50", "seqwrite_dedupe90": "seqW d90",
             "randwrite4k_qd32_dedupe50": "randW4k d50", "seqread": "seqR", "randread4k_qd32": "randR4k",
             "copies_write": "Kfiles W", "copies_read_cold": "Kfiles R", "containers_write": "trees W",
             "containers_read_cold": "trees R"}
    tp = os.path.join(outdir, "plot-throughput.dat")
    with open(tp, "w") as f:
        f.write("job " + " ".join(order) + "\n")
        for layer, j in jobs:
            key = "%s/%s" % (layer, j)
            if key not in S:
                continue
            vals = []
            for t in order:
                d = S[key].get(t)
                vals.append("%.3f" % d["mib_s"]["median"] if d and d.get("mib_s") else "0")
            f.write('"%s %s" %s\n' % (layer, short[j], " ".join(vals)))
    sp = os.path.join(outdir, "plot-space.dat")
    with open(sp, "w") as f:
        f.write("job " + " ".join(order) + "\n")
        for layer, j in jobs:
            key = "%s/%s" % (layer, j)
            if key not in S or "write" not in j:
                continue
            vals = []
            for t in order:
                d = S[key].get(t)
                ok = d and d.get("space_delta_mib") and d.get("io_mib") and d["io_mib"]["median"]
                vals.append("%.1f" % (100.0 * d["space_delta_mib"]["median"] / d["io_mib"]["median"])
                            if ok else "0")
            f.write('"%s %s" %s\n' % (layer, short[j], " ".join(vals)))
    n = len(order)
    if not n or os.path.getsize(tp) <= len("job ") + 40:
        return "no job figures to plot"
    cols = " ".join("'%s' using %d:xtic(1) title columnheader(%d)%s" %
                    ("DAT", i + 2, i + 2, "" if i == 0 else "") for i in range(n))
    plots_tp = ", ".join("'%s' using %d:xtic(1) title columnheader(%d)" % (tp, i + 2, i + 2) for i in range(n))
    plots_sp = ", ".join("'%s' using %d:xtic(1) title columnheader(%d)" % (sp, i + 2, i + 2) for i in range(n))
    del cols
    runs = res["env"].get("runs", 1)
    what = "median of %d runs" % runs if runs > 1 else "single run"
    gp = """
set terminal pngcairo size 1400,1000 font ',10'
set output '%s'
set multiplot layout 2,1 title 'dm-sis vs dm-linear / dm-thin / dm-vdo, %s, %s (%s)'
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top right
set xtics rotate by -30 scale 0
set logscale y
set ylabel 'MiB/s (log scale)'
set title 'Throughput per job'
plot %s
unset logscale y
set ylabel '%% of the bytes written'
set yrange [0:*]
set title 'Physical space taken by each write job, %% of the logical bytes written (target accounting; dm-linear = 100)'
plot %s
unset multiplot
""" % (png, res["env"].get("kernel", "?"), res["host"].get("date", "?"), what, plots_tp, plots_sp)
    gpf = os.path.join(outdir, "plot.gp")
    with open(gpf, "w") as f:
        f.write(gp)
    try:
        subprocess.run(["gnuplot", gpf], check=True, capture_output=True, text=True)
        return None
    except FileNotFoundError:
        return "gnuplot not installed (gnuplot-nox): no plot"
    except subprocess.CalledProcessError as e:
        return "gnuplot failed: %s" % e.stderr.strip()[-400:]


def write_page(res, docs):
    """Write docs/benchmarks.md for @res (a missing plot is said at the end)."""
    md = markdown(res)
    if res.get("plot_error"):
        md += "\n**Plot missing:** %s\n" % res["plot_error"]
    with open(os.path.join(docs, "benchmarks.md"), "w") as f:
        f.write(md)


def rerender(path, docs):
    """Write docs/benchmarks.md again from a run's JSON, which holds every figure."""
    try:
        with open(path) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        print("report: cannot read %s: %s" % (path, e), file=sys.stderr)
        return 1
    if not isinstance(res, dict) or "targets" not in res or "env" not in res:
        print("report: %s is not a benchmark report's JSON" % path, file=sys.stderr)
        return 1
    write_page(res, docs)
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", help="the guest console log of a run (required unless --from-json)")
    p.add_argument("--from-json", metavar="PATH",
                   help="render benchmarks.md again from a run's JSON (docs/benchmarks.json), "
                        "e.g. after editing targets-notes.md; the JSON and the plot are kept")
    p.add_argument("--host")
    p.add_argument("--core")
    p.add_argument("--core-scale")
    p.add_argument("--host-samples", help="tests/bench/host-sampler.py's output")
    p.add_argument("--json", default="build/bench/results.json")
    p.add_argument("--docs", default="docs")
    p.add_argument("--plot-dir", default="build/bench")
    a = p.parse_args()
    if a.from_json:
        return rerender(a.from_json, a.docs)
    if not a.log:
        p.error("--log is required (or --from-json)")
    recs, bad, splats = parse_log(a.log)
    host = parse_kv(a.host)
    core = open(a.core).read() if a.core and os.path.exists(a.core) else ""
    if not recs:
        print("report: no SISBENCH lines in %s" % a.log, file=sys.stderr)
    core_scale = open(a.core_scale).read() if a.core_scale and os.path.exists(a.core_scale) else ""
    res = build(recs, host, core, bad, splats, core_scale, parse_samples(a.host_samples))
    res["headline"] = headline(res)
    os.makedirs(a.docs, exist_ok=True)
    os.makedirs(a.plot_dir, exist_ok=True)
    png = os.path.join(a.docs, "benchmarks.png")
    err = plot(res, a.plot_dir, png) if res["targets"] else None
    if err:
        res["plot_error"] = err
        print("report: " + err, file=sys.stderr)
    write_page(res, a.docs)
    for path in (a.json, os.path.join(a.docs, "benchmarks.json")):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(res, f, indent=1, sort_keys=True)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
