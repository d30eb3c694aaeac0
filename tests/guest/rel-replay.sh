#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 512M --disk 1G --disk 512M --disk 384M --mem 2048 --timeout 1500
#
# Crash replay at every flush (fstests generic/455 / 482 method), item 1 of
# issue 7.
#
#   ext4 -> dm-sis -> dm-log-writes (data /dev/vdb, log /dev/vdc)
#
# The workload (tests/reliability/fsload.py: creates, dedup-heavy content,
# atomic replaces, in-place 4 KiB overwrites, deletes, fio with
# dedupe_percentage, fstrim) marks the log before every operation ("intent")
# and after its fsync returned ("ack").  The log is then replayed onto a
# fresh disk (/dev/vdd, userspace/replay-log) and at each check point (every
# FLUSH/FUA entry and every ack mark; a bounded, evenly spread subset in
# `make test`, all of them with SIS_TEST_LONG=1 or `rel-replay.sh all`):
#   a throw-away dm-snapshot of the replayed disk (COW on /dev/vde) gets
#   dm-sis activated on it (journal recovery), removed again (clean close),
#   `sis check` must exit 0; dm-sis is activated again, ext4 mounted (its
#   journal replayed), every file whose last event before the point is an
#   ack must read back exactly, pending operations may only show the old or
#   the new state; umount, `e2fsck -fn` must be clean.
#
# What it catches: a dm-sis that acknowledges a flush before its commit is
# durable, maps a block before its data write is durable, loses or
# misorders a journal transaction, frees or reuses a still-referenced block
# across a crash, or replays a torn commit: the replayed state then lacks an
# acked file or its content (verify fails), or the metadata is inconsistent
# (sis check, activation or e2fsck fail).
# Negative control (run every time): at the last flush point *before* the
# final flush of a file's fsync (the state a dm-sis that skipped that flush
# would leave), verifying the file as if it were acked must FAIL for at
# least one such file: the verifier really detects lost data.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
REL=${SIS_TESTS:-$(dirname "$0")/..}/reliability

SRC=$(disk 1) LOG=$(disk 2) REP=$(disk 3) COW=$(disk 4)
SEED=${2:-$(( $(date +%s) % 100000 ))}
MODE=${1:-${SIS_TEST_LONG:+all}}
MODE=${MODE:-bounded}
MAXPTS=${MAXPTS:-10}
ROUNDS=${ROUNDS:-4}
[ "$MODE" = all ] && ROUNDS=${ROUNDS_LONG:-16}
L=$((1 << 21)) # 1 GiB logical on 512 MiB physical
log "seed $SEED mode $MODE rounds $ROUNDS (reproduce: rel-replay.sh $MODE $SEED)"

sis_load
modprobe dm-log-writes
modprobe dm-snapshot
SZ=$(blockdev --getsz "$SRC")
[ "$(blockdev --getsz "$REP")" -ge "$SZ" ] || die "replay disk smaller than source"

# ---- record ------------------------------------------------------------
dmsetup create lw --table "0 $SZ log-writes $SRC $LOG"
dmsetup mknodes lw
sis_create s /dev/mapper/lw $L
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard /dev/mapper/s </dev/null
python3 -c 'import os; os.fsync(os.open("/dev/mapper/s", os.O_RDONLY))'
dmsetup message lw 0 mark mkfs
mkdir -p /mnt/rec /mnt/chk
mount /dev/mapper/s /mnt/rec
t0=$SECONDS
python3 "$REL/fsload.py" run --root /mnt/rec --events /tmp/ev --seed "$SEED" \
	--rounds "$ROUNDS" --fio-mb 4 --mark-cmd "dmsetup message lw 0 mark" ||
	die "workload failed"
log "workload: $((SECONDS - t0)) s; $(wc -l </tmp/ev) events; $(sis_status s)"
umount /mnt/rec
sis_remove s
sis_remove lw

replay-log info "$LOG"
replay-log points "$LOG" >/tmp/points
replay-log marks "$LOG" >/tmp/marks
MKFS=$(replay-log find "$LOG" mkfs)
NENT=$(replay-log info "$LOG" | awk '$1 == "entries" {print $2}')

# ---- choose check points -------------------------------------------------
# Check points: FLUSH/FUA entries after the mkfs mark and the ack marks (the
# durable state at the moment an fsync returned).  Before mkfs only dm-sis
# itself is checked, at a few flush points.
python3 - "$MODE" "$MAXPTS" "$MKFS" /tmp/points /tmp/marks /tmp/ev >/tmp/plan <<'EOF'
import json, sys
mode, maxpts, mkfs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
points = [int(x) for x in open(sys.argv[4]).read().split()]
marks = dict((l.split()[1], int(l.split()[0])) for l in open(sys.argv[5]) if l.strip())
acks = [marks["e%d" % e["n"]] for e in map(json.loads, open(sys.argv[6])) if e["t"] == "ack"]
pre = [p for p in points if p < mkfs]
post = [p for p in points if p > mkfs]
def spread(xs, n):
    if n >= len(xs):
        return list(xs)
    return sorted(set(xs[(i * (len(xs) - 1)) // max(1, n - 1)] for i in range(n)))
if mode == "all":
    sel_pre, sel = pre, sorted(set(post) | set(acks))
else:
    sel_pre = spread(pre, 3)
    sel = sorted(set(spread(post, maxpts // 2)) | set(spread(acks, maxpts - maxpts // 2)))
for p in sel_pre:
    print(p, "sis")
print(mkfs, "fs")
for p in sel:
    print(p, "fs")
EOF
# Negative control: for create acks, the flush point before the last flush
# point preceding the ack mark.
python3 - /tmp/points /tmp/marks /tmp/ev >/tmp/neg <<'EOF'
import bisect, json, sys
points = [int(x) for x in open(sys.argv[1]).read().split()]
marks = dict((l.split()[1], int(l.split()[0])) for l in open(sys.argv[2]) if l.strip())
evs = [json.loads(l) for l in open(sys.argv[3])]
intent = {}
for e in evs:
    if e["t"] == "intent":
        intent[e["p"]] = e
    elif "specs" in e and intent.get(e["p"], {}).get("op") == "create" and len(e["specs"]) > 2:
        a = marks["e%d" % e["n"]]
        i = bisect.bisect_left(points, a) - 2
        if i >= 0 and points[i] > marks["e%d" % intent[e["p"]]["n"]]:
            print(points[i], e["n"])
EOF
NPLAN=$(wc -l </tmp/plan)
log "$NENT log entries, $(wc -l </tmp/points) flush/FUA points, $(grep -c . /tmp/marks) marks; checking $NPLAN points"

# ---- replay and check ------------------------------------------------------
LAST=-1
advance() { # replay up to entry $1
	if [ "$1" -gt "$LAST" ]; then
		replay-log replay "$LOG" "$REP" --from $((LAST + 1)) --to "$1" 2>/dev/null ||
			die "replay to $1 failed"
		LAST=$1
	fi
}
snap_up() {
	dmsetup create snap --table "0 $SZ snapshot $REP $COW N 8" || die "snapshot at $1"
	dmsetup mknodes snap
}
snap_down() { sis_remove snap; }

check_point() { # entry kind
	local p=$1 kind=$2 rc mode nc
	advance "$p"
	snap_up "$p"
	dmsetup create rs --table "0 $L sis /dev/mapper/snap" ||
		die "point $p: dm-sis activation (recovery) refused"
	dmsetup mknodes rs
	mode=$(sis_field rs mode)
	nc=$(sis_field rs needs_check)
	[ "$mode" = write ] && [ "$nc" = - ] || die "point $p: after recovery mode=$mode needs_check=$nc"
	sis_remove rs
	rc=0
	sis check -q /dev/mapper/snap >/tmp/check.out 2>&1 || rc=$?
	[ "$rc" = 0 ] || { cat /tmp/check.out; die "point $p: sis check exit $rc"; }
	if [ "$kind" = fs ]; then
		dmsetup create rs --table "0 $L sis /dev/mapper/snap" || die "point $p: reactivation"
		dmsetup mknodes rs
		mount /dev/mapper/rs /mnt/chk || die "point $p: mount failed"
		awk -v p="$p" '$1 <= p {print $2}' /tmp/marks >/tmp/happened
		python3 "$REL/fsload.py" verify --root /mnt/chk --events /tmp/ev --seed "$SEED" \
			--happened /tmp/happened >/tmp/verify.out ||
			{ cat /tmp/verify.out; die "point $p: acknowledged data lost or corrupt"; }
		umount /mnt/chk
		rc=0
		e2fsck -fn /dev/mapper/rs >/tmp/fsck.out 2>&1 || rc=$?
		[ "$rc" = 0 ] || { tail -n 20 /tmp/fsck.out; die "point $p: e2fsck exit $rc"; }
		sis_remove rs
	fi
	snap_down
}

# negative controls first (replay is forward-only: interleave with the plan)
sort -n -k1,1 /tmp/neg | head -n 3 >/tmp/neg3
t0=$SECONDS
n=0
NEG_CAUGHT=0
NEG_TRIED=0
while read -r p kind <&3; do
	# any negative-control point before p: run it now
	while read -r np ev <&4; do
		[ "$np" -le "$p" ] && [ "$np" -gt "$LAST" ] || continue
		advance "$np"
		snap_up "$np"
		dmsetup create rs --table "0 $L sis /dev/mapper/snap" || die "neg $np: activation"
		dmsetup mknodes rs
		mount /dev/mapper/rs /mnt/chk || die "neg $np: mount"
		awk -v p="$np" '$1 <= p {print $2}' /tmp/marks >/tmp/happened
		echo "e$ev" >>/tmp/happened
		NEG_TRIED=$((NEG_TRIED + 1))
		if python3 "$REL/fsload.py" verify --root /mnt/chk --events /tmp/ev --seed "$SEED" \
			--happened /tmp/happened --pretend-acked >/tmp/verify.out; then
			log "negative control at $np (event e$ev): data already complete (inconclusive)"
		else
			NEG_CAUGHT=$((NEG_CAUGHT + 1))
			log "negative control at $np: verifier flags: $(grep BAD /tmp/verify.out | head -n 1)"
		fi
		umount /mnt/chk
		sis_remove rs
		snap_down
	done 4</tmp/neg3
	check_point "$p" "$kind"
	n=$((n + 1))
	[ $((n % 10)) = 0 ] && log "checked $n/$NPLAN points (entry $p), $((SECONDS - t0)) s"
done 3</tmp/plan
log "checked $n points in $((SECONDS - t0)) s"
[ "$NEG_TRIED" -gt 0 ] || die "no negative control point found"
[ "$NEG_CAUGHT" -gt 0 ] || die "negative control: the verifier never noticed missing data"
check_dmesg
sis_pass "$n check points, $NENT log entries, negative control $NEG_CAUGHT/$NEG_TRIED"
