#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/reliability/powercut-host.sh [KILLS] [SEED]: real power cuts (item 2
# of issue 7).  Runs on the host and drives QEMU itself: `make test` runs it
# as host/powercut with 2 kills, `make test-long` with 8 (scripts/run-tests);
# by hand the default is 5 kills and a time-based seed.
#
# Boots a guest (scripts/vm-run) that formats dm-sis + ext4 on a persistent
# data disk and runs the verified, dedup-heavy workload of
# tests/reliability/fsload.py (plus an unverified fio dedupe load), then
# kills QEMU with SIGKILL at a random moment (8-25 s after the workload has
# made its first records durable), boots again on the same disk images:
# `sis check` of the crashed state, activation (recovery; the time is
# printed as "boot N: RECOVERY-TIME: ..."), clean removal, `sis check`, ext4
# journal recovery, e2fsck -fn, every file acknowledged by a completed fsync
# verified (tests/reliability/powercut-lib.sh pc_recover), no kernel splat,
# then the workload again and the next kill; a final boot only recovers and
# verifies.  The host also requires the number of durable workload records
# to grow from kill to kill (the workload really ran) and greps the console
# of every killed boot for kernel splats (vm-run cannot: it is killed too).
#
# Disk persistence: vm-run --disk-file (existing raw images, kept).  The
# console is watched in vm-run's own work directory (its tee'd console.log is
# unbuffered), found under a private TMPDIR.  The QEMU to kill is found
# through /proc as a descendant of that vm-run (never another run's QEMU).
#
# What it catches: the same as rel-powercut.sh, with a real crash: in-flight
# bios, the guest's page cache and dm-sis's RAM state all vanish at once.
# Exit 0 only if every boot after a kill recovered and verified.  Limit:
# vm-run's disks are cache=unsafe, so writes QEMU completed survive the kill
# even without a flush (no volatile write cache is lost); flush ordering is
# tested by rel-powercut.sh (dm-flakey) and rel-replay.sh (dm-log-writes).
#
# Negative control: POWERCUT_NEGATIVE=corrupt tests/reliability/powercut-host.sh 1
# makes the guest flip one byte of one acknowledged file right before the
# first verification (PC_NEGATIVE=corrupt through vm-run --env); the run
# must then FAIL at boot 2 ("acknowledged data lost or corrupt").
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CYCLES=${1:-5}
SEED=${2:-$(( $(date +%s) % 100000 ))}
NEG=${POWERCUT_NEGATIVE:-}
W=$(mktemp -d "${TMPDIR:-/tmp}/powercut.XXXXXX")
VPID=
cleanup() {
	[ -n "$VPID" ] && kill "$VPID" 2>/dev/null && wait "$VPID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
truncate -s 512M "$W/data.img"
truncate -s 64M "$W/events.img"
GUEST=$REPO/tests/reliability/powercut-guest.sh
ENVS=()
[ -n "$NEG" ] && ENVS=(--env "PC_NEGATIVE=$NEG")
echo "powercut-host: seed $SEED, $CYCLES kills${NEG:+, negative control $NEG}" \
	"(reproduce: tests/reliability/powercut-host.sh $CYCLES $SEED)"
# vm-run's list of kernel splats (scripts/vm-run SPLAT)
SPLAT='(^|\] )WARNING: |detected stalls? |self-detected stall|BUG:|Oops|Kernel panic|UBSAN:|KASAN:|kernel BUG at|possible circular locking|possible recursive locking|inconsistent lock state|INFO: task .* blocked for more than|general protection fault|list_(add|del) corruption'

boot() { # mode log: run vm-run in the background, pid in VPID, console in CONS
	rm -rf "$W/tmp" && mkdir -p "$W/tmp"
	TMPDIR=$W/tmp "$REPO/scripts/vm-run" --disk-file "$W/data.img" --disk-file "$W/events.img" \
		"${ENVS[@]}" --timeout 900 "$GUEST" "$1" "$SEED" >"$2" 2>&1 &
	VPID=$!
	CONS=
	local d
	for _ in $(seq 1 600); do
		for d in "$W"/tmp/vm-run.*; do
			[ -d "$d" ] && { CONS=$d/console.log; return 0; }
		done
		kill -0 "$VPID" 2>/dev/null || return 0
		sleep 1
	done
}
ppid_of() { # pid -> parent pid (from /proc/PID/stat; comm may hold spaces)
	local s f
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	read -r -a f <<<"${s##*) }"
	echo "${f[1]}"
}
qemu_of() { # vm-run pid -> pid of the QEMU process below it (any depth)
	local f p q
	for f in /proc/[0-9]*/comm; do
		[ "$(cat "$f" 2>/dev/null)" = qemu-system-x86 ] || continue
		q=${f#/proc/}
		q=${q%/comm}
		p=$q
		while [ -n "$p" ] && [ "$p" -gt 1 ]; do
			[ "$p" = "$1" ] && { echo "$q"; return 0; }
			p=$(ppid_of "$p") || break
		done
	done
	return 1
}
fail() { # message log
	echo "powercut-host: FAIL: $1"
	if [ -f "$2" ]; then
		echo "---- last lines of the boot's console (vm-run's dmesg dump left out) ----"
		tr -d '\r' <"$2" | grep -v '^dmesg|' | tail -n 40
		echo "----"
		cp "$2" "${TMPDIR:-/tmp}/powercut-fail-$SEED-$(basename "$2")"
		echo "powercut-host: full log: ${TMPDIR:-/tmp}/powercut-fail-$SEED-$(basename "$2")"
	fi
	echo "powercut-host: reproduce: tests/reliability/powercut-host.sh $CYCLES $SEED"
	exit 1
}
durable() { # log -> events durable before the kill, as the guest counted them
	tr -d '\r' <"$1" | sed -n 's/.*events durable before the kill: \([0-9]*\).*/\1/p' | tail -n 1
}
RANDOM=$SEED
last=0
for c in $(seq 1 "$CYCLES"); do
	logf=$W/boot$c.log
	tb=$SECONDS
	boot "$([ "$c" = 1 ] && echo first || echo next)" "$logf"
	while ! grep -q POWERCUT-WORKLOAD-RUNNING "$CONS" 2>/dev/null; do
		if ! kill -0 "$VPID" 2>/dev/null; then
			wait "$VPID" || true
			VPID=
			tr -d '\r' <"$logf" | grep -E 'RECOVERY|POWERCUT|FAIL|BAD|events durable' | sed "s/^/boot $c: /" || true
			fail "boot $c ended before the workload started" "$logf"
		fi
		sleep 1
	done
	tr -d '\r' <"$CONS" | grep -E 'RECOVERY-TIME|POWERCUT-VERIFIED|POWERCUT-NEGATIVE|events durable' |
		sed "s/^/boot $c: /" || true
	if [ "$c" -gt 1 ]; then
		n=$(durable "$CONS")
		if [ -z "$n" ] || [ "$n" -le "$last" ]; then
			fail "boot $c: ${n:-no} durable records after kill $((c - 1)), $last before: the workload did not run" "$CONS"
		fi
		last=$n
	fi
	w=$((8 + RANDOM % 18))
	sleep "$w"
	q=$(qemu_of "$VPID") || fail "no QEMU under vm-run $VPID (boot $c)" "$logf"
	kill -9 "$q"
	wait "$VPID" 2>/dev/null || true
	VPID=
	if tr -d '\r' <"$logf" | grep -E "$SPLAT"; then
		fail "kernel splat on the console of boot $c" "$logf"
	fi
	echo "powercut-host: kill $c: QEMU $q killed ${w}s into the workload (boot $c took $((SECONDS - tb)) s)"
done
logf=$W/final.log
boot final "$logf"
rc=0
wait "$VPID" || rc=$?
VPID=
tr -d '\r' <"$logf" | grep -E 'RECOVERY-TIME|POWERCUT-VERIFIED|POWERCUT-NEGATIVE|events durable|PASS|FAIL|BAD' |
	sed 's/^/final: /' || true
[ "$rc" = 0 ] || fail "final boot: vm-run exit $rc" "$logf"
n=$(durable "$logf")
if [ -z "$n" ] || [ "$n" -le "$last" ]; then
	fail "final boot: ${n:-no} durable records after kill $CYCLES, $last before: the workload did not run" "$logf"
fi
echo "powercut-host: PASS: $CYCLES kills, every boot recovered and verified"
