#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1536M --disk 1G --disk 1536M --disk 384M --mem 2048 --timeout 1500
#
# Crash replay at every flush through a workload that clones and deletes
# volumes while writing to them (issue 13 item 4).
#
#   volumes of one dm-sis pool -> dm-log-writes (data /dev/vdb, log /dev/vdc)
#
# Each round k: write a seeded range to volume 0 and flush ("w<k>"); clone
# volume 0 as volume k ("c<k>": the message commits); write a range of the
# clone's own and flush ("x<k>"); delete clone k-1 ("d<k-1>").  Every
# operation logs a mark after it returned.  The log is replayed onto a fresh
# disk; at each mark and at a spread of FLUSH/FUA entries (every one with
# SIS_TEST_LONG=1), a throw-away
# snapshot of the replayed disk must: activate (journal recovery) with
# needs_check clear; hold every volume whose clone was acknowledged and not
# deleted, and none whose delete was acknowledged (an operation under way
# may show either state); read back every acknowledged range byte for byte
# on every volume (a clone holds its origin's data as of the clone, never
# its origin's later writes, and its own writes never show in the origin);
# and pass `sis check` after the devices are removed.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
REL=${SIS_TESTS:-$(dirname "$0")/..}/reliability
BLK="python3 $REL/blkpat.py"

SRC=$(disk 1) LOG=$(disk 2) REP=$(disk 3) COW=$(disk 4)
ROUNDS=${ROUNDS:-5}
MAXPTS=${MAXPTS:-12}
[ -n "${SIS_TEST_LONG:-}" ] && MAXPTS=1000000	# make test-long: every flush
L=$((1 << 18))		# 128 MiB logical per volume
N=256			# blocks per range
OWN=$((ROUNDS * N + N)) # first block of the clones' own ranges

sis_load
modprobe dm-log-writes
modprobe dm-snapshot
SZ=$(blockdev --getsz "$SRC")
[ "$(blockdev --getsz "$REP")" -ge "$SZ" ] || die "replay disk smaller than source"

mark() { dmsetup message lw 0 mark "$1"; }
flush() { python3 -c 'import os, sys; os.fsync(os.open(sys.argv[1], os.O_RDONLY))' "$1"; }
vol_table() { echo "0 $L sis $1 2 volume $2"; }

# ---- record ------------------------------------------------------------
dmsetup create lw --table "0 $SZ log-writes $SRC $LOG"
dmsetup mknodes lw
sis_create v0 /dev/mapper/lw $L
flush /dev/mapper/v0
mark start
for k in $(seq 1 "$ROUNDS"); do
	$BLK write /dev/mapper/v0 $((k * N)) $N "$k" >/dev/null || die "write round $k"
	flush /dev/mapper/v0
	mark "w$k"
	dmsetup message v0 0 clone_volume "$k" 0 "c$k" || die "clone_volume $k"
	mark "c$k"
	dmsetup create "v$k" --table "$(vol_table /dev/mapper/lw "$k")" || die "activate clone $k"
	dmsetup mknodes "v$k"
	$BLK write "/dev/mapper/v$k" $((OWN + k * N)) $N $((1000 + k)) >/dev/null ||
		die "write clone $k"
	flush "/dev/mapper/v$k"
	mark "x$k"
	if [ "$k" -ge 2 ]; then
		sis_remove "v$((k - 1))"
		dmsetup message v0 0 delete_volume $((k - 1)) || die "delete_volume $((k - 1))"
		mark "d$((k - 1))"
	fi
done
log "workload done: $(sis_status v0)"
sis_remove "v$ROUNDS"
sis_remove v0
sis_remove lw

replay-log points "$LOG" >/tmp/points
replay-log marks "$LOG" >/tmp/marks
NENT=$(replay-log info "$LOG" | awk '$1 == "entries" {print $2}')
START=$(replay-log find "$LOG" start)

# Check points: every mark, and flush points spread over the workload.
python3 - "$MAXPTS" "$START" /tmp/points /tmp/marks >/tmp/plan <<'EOF'
import sys
maxpts, start = int(sys.argv[1]), int(sys.argv[2])
points = [int(x) for x in open(sys.argv[3]).read().split() if int(x) > start]
marks = [int(l.split()[0]) for l in open(sys.argv[4]) if l.strip()]
step = max(1, len(points) // maxpts)
for p in sorted(set(points[::step]) | set(m for m in marks if m >= start)):
    print(p)
EOF
log "$NENT log entries, $(wc -l </tmp/points) flush points; checking $(wc -l </tmp/plan) points"

# ---- the expected state at a point ------------------------------------------
# done NAME P: the mark NAME is at or before entry P.
done_at() { awk -v n="$1" -v p="$2" '$2 == n && $1 <= p {f = 1} END {exit !f}' /tmp/marks; }
# began NAME P: the operation NAME had begun by entry P (the mark before it
# is at or before P): "either state" until its own mark.
prev_mark() { awk -v n="$1" '$2 == n {print prev; exit} {prev = $2}' /tmp/marks; }
began() { local pm; pm=$(prev_mark "$1"); [ -n "$pm" ] && done_at "$pm" "$2"; }

LAST=-1
advance() {
	if [ "$1" -gt "$LAST" ]; then
		replay-log replay "$LOG" "$REP" --from $((LAST + 1)) --to "$1" 2>/dev/null ||
			die "replay to $1 failed"
		LAST=$1
	fi
}

check_point() {
	local p=$1 k j nc mode want have
	advance "$p"
	dmsetup create snap --table "0 $SZ snapshot $REP $COW N 8" || die "snapshot at $p"
	dmsetup mknodes snap
	dmsetup create r0 --table "0 $L sis /dev/mapper/snap" || die "point $p: recovery refused"
	dmsetup mknodes r0
	mode=$(sis_field r0 mode)
	nc=$(sis_field r0 needs_check)
	[ "$mode" = write ] && [ "$nc" = - ] || die "point $p: mode=$mode needs_check=$nc"
	for j in $(seq 1 "$ROUNDS"); do
		if done_at "w$j" "$p"; then
			$BLK verify /dev/mapper/r0 $((j * N)) $N "$j" --quiet ||
				die "point $p: volume 0 lost acknowledged round $j"
		fi
		# the clones' own writes never show in the origin
		$BLK verify /dev/mapper/r0 $((OWN + j * N)) $N 0 --zero --quiet ||
			die "point $p: a clone's write shows in volume 0"
	done
	for k in $(seq 1 "$ROUNDS"); do
		if done_at "d$k" "$p"; then
			want=no
		elif done_at "c$k" "$p" && ! began "d$k" "$p"; then
			want=yes
		elif began "c$k" "$p"; then
			want=either
		else
			want=no
		fi
		have=no
		if dmsetup create "r$k" --table "$(vol_table /dev/mapper/snap "$k")" 2>/dev/null; then
			have=yes
			dmsetup mknodes "r$k"
		fi
		[ "$want" = either ] || [ "$want" = "$have" ] ||
			die "point $p: volume $k exists=$have, expected $want"
		[ "$have" = yes ] || continue
		for j in $(seq 1 "$k"); do	# the origin's data at clone time
			$BLK verify "/dev/mapper/r$k" $((j * N)) $N "$j" --quiet ||
				die "point $p: clone $k lost round $j of its origin"
		done
		for j in $(seq $((k + 1)) "$ROUNDS"); do	# and nothing later
			$BLK verify "/dev/mapper/r$k" $((j * N)) $N 0 --zero --quiet ||
				die "point $p: clone $k sees its origin's later round $j"
		done
		if done_at "x$k" "$p"; then
			$BLK verify "/dev/mapper/r$k" $((OWN + k * N)) $N $((1000 + k)) --quiet ||
				die "point $p: clone $k lost its acknowledged write"
		fi
		sis_remove "r$k"
	done
	sis_remove r0
	sis check -q /dev/mapper/snap >/tmp/check.out 2>&1 ||
		{ cat /tmp/check.out; die "point $p: sis check failed"; }
	sis_remove snap
}

t0=$SECONDS
n=0
while read -r p <&3; do
	check_point "$p"
	n=$((n + 1))
done 3</tmp/plan
log "checked $n points in $((SECONDS - t0)) s"
check_dmesg
sis_pass "$n check points over $ROUNDS clone/write/delete rounds, $NENT log entries"
