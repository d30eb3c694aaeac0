#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/reliability/powercut-host.sh [CYCLES] [SEED]: real power cuts (item 2
# of issue 7, long test; run on the host, not in make test).
#
# Boots a guest (scripts/vm-run) that formats dm-sis + ext4 on a persistent
# data disk and runs the verified, dedup-heavy workload of
# tests/reliability/fsload.py (plus an unverified fio dedupe load), then
# kills QEMU with SIGKILL at a random moment (8-25 s after the workload
# started), boots again on the same disk images: `sis check` of the crashed
# state, activation (recovery; the time is printed), clean removal, `sis
# check`, ext4 journal recovery, e2fsck -fn, every file acknowledged by a
# completed fsync verified (tests/reliability/powercut-lib.sh), then the
# workload again and the next kill; a final boot only recovers and verifies.
#
# Disk persistence: vm-run --disk-file (existing raw images, kept).  The
# console is watched in vm-run's own work directory (its tee'd console.log is
# unbuffered), found under a private TMPDIR.
#
# What it catches: the same as rel-powercut.sh, with a real crash: in-flight
# bios, the guest's page cache and dm-sis's RAM state all vanish at once.
# Exit 0 only if every boot after a kill recovered and verified.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CYCLES=${1:-5}
SEED=${2:-$(( $(date +%s) % 100000 ))}
W=$(mktemp -d "${TMPDIR:-/tmp}/powercut.XXXXXX")
trap 'rm -rf "$W"' EXIT
truncate -s 512M "$W/data.img"
truncate -s 64M "$W/events.img"
GUEST=$REPO/tests/reliability/powercut-guest.sh
echo "powercut-host: seed $SEED, $CYCLES kills, images in $W"

boot() { # mode log: run vm-run in the background, pid in VPID, console in CONS
	rm -rf "$W/tmp" && mkdir -p "$W/tmp"
	TMPDIR=$W/tmp "$REPO/scripts/vm-run" --disk-file "$W/data.img" --disk-file "$W/events.img" \
		--timeout 900 "$GUEST" "$1" "$SEED" >"$2" 2>&1 &
	VPID=$!
	CONS=
	local i d
	for i in $(seq 1 600); do
		for d in "$W"/tmp/vm-run.*; do
			[ -d "$d" ] && { CONS=$d/console.log; return 0; }
		done
		kill -0 "$VPID" 2>/dev/null || return 0
		sleep 1
	done
}
qemu_of() { # vm-run pid -> pid of the QEMU process below it (any depth)
	local q
	q=$(pstree -p "$1" | grep -o 'qemu-system-x86([0-9]*)' | head -n 1 | sed 's/.*(\([0-9]*\))/\1/')
	[ -n "$q" ] && echo "$q"
}
RANDOM=$SEED
fail=0
for c in $(seq 1 "$CYCLES"); do
	logf=$W/boot$c.log
	boot "$([ "$c" = 1 ] && echo first || echo next)" "$logf"
	while ! grep -q POWERCUT-WORKLOAD-RUNNING "$CONS" 2>/dev/null; do
		if ! kill -0 "$VPID" 2>/dev/null; then
			wait "$VPID" || true
			grep -E '^\[|RECOVERY|POWERCUT|FAIL' "$logf" | tr -d '\r' || true
			echo "powercut-host: FAIL: boot $c ended before the workload started"
			cp "$logf" "${TMPDIR:-/tmp}/powercut-fail-$SEED-$c.log"
			exit 1
		fi
		sleep 1
	done
	grep -E 'RECOVERY-TIME|POWERCUT-VERIFIED|events durable' "$CONS" | tr -d '\r' | sed "s/^/boot $c: /" || true
	w=$((8 + RANDOM % 18))
	sleep "$w"
	q=$(qemu_of "$VPID") || { echo "powercut-host: no QEMU under vm-run $VPID"; exit 1; }
	kill -9 "$q"
	wait "$VPID" 2>/dev/null || true
	echo "powercut-host: kill $c: QEMU $q killed ${w}s into the workload"
done
logf=$W/final.log
boot final "$logf"
rc=0
wait "$VPID" || rc=$?
grep -E 'RECOVERY-TIME|POWERCUT-VERIFIED|PASS|FAIL' "$logf" | tr -d '\r' | sed 's/^/final: /' || true
if [ "$rc" != 0 ]; then
	cp "$logf" "${TMPDIR:-/tmp}/powercut-fail-$SEED-final.log"
	echo "powercut-host: FAIL (log: ${TMPDIR:-/tmp}/powercut-fail-$SEED-final.log)"
	exit 1
fi
echo "powercut-host: PASS: $CYCLES kills, every boot recovered and verified"
