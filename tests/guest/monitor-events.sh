#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 64M --timeout 300
#
# Monitoring: the target raises a dm event (what `dmsetup wait` and
# dmeventd-style monitors wait for) once when free space crosses the
# low_water_mark feature argument, when the device runs out of space and
# when it goes read-only; low_water_mark survives a reload and is printed
# back by `dmsetup table`; `sis stats --json` reports the new state.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
sis_load
SECTORS=$((256 << 11))	# 256 MiB logical on a 64 MiB disk: it can fill up

events() { dmsetup info -c --noheadings -o events "$1" | tr -d ' '; }
# wait_bg NAME: start `dmsetup wait NAME <current event nr>` in the background
wait_bg() {
	WAIT_FROM=$(events "$1")
	timeout 60 dmsetup wait "$1" "$WAIT_FROM" &
	WAIT_PID=$!
	sleep 1
	kill -0 "$WAIT_PID" 2>/dev/null || die "dmsetup wait returned before any event"
}
# wait_done WHAT: the background dmsetup wait must return 0 within 30 s
wait_done() {
	local i
	for i in $(seq 1 30); do
		kill -0 "$WAIT_PID" 2>/dev/null || break
		sleep 1
	done
	kill -0 "$WAIT_PID" 2>/dev/null && die "no dm event for $1 (dmsetup wait still blocked)"
	wait "$WAIT_PID" || die "dmsetup wait failed for $1"
	log "event for $1: event_nr $WAIT_FROM -> $(events m)"
}
free_blocks() {
	local ut
	ut=$(sis_field m used_total)
	echo $((${ut#*/} - ${ut%/*}))
}

sis_create m "$D" "$SECTORS" error_if_no_space
FREE=$(free_blocks)
MARK=$((FREE - 256))
log "free $FREE blocks, low_water_mark $MARK"

# Reload with the mark; the table prints it back.
dmsetup reload m --table "0 $SECTORS sis $D 3 error_if_no_space low_water_mark $MARK"
dmsetup suspend m
dmsetup resume m
dmsetup table m | grep -qE " sis [0-9]+:[0-9]+ 3 error_if_no_space low_water_mark $MARK\$" ||
	die "table: $(dmsetup table m)"
t=$(dmsetup table m)
dmsetup reload m --table "$t" || die "the printed table does not reload: $t"
dmsetup resume m

# Bad values are refused.
for bad in "2 low_water_mark" "2 low_water_mark x" "2 low_water_mark -1"; do
	dmsetup reload m --table "0 $SECTORS sis $D $bad" 2>/dev/null &&
		die "table with '$bad' accepted"
done
dmsetup clear m 2>/dev/null || true

# 512 KiB of new data: still above the mark, no event.
wait_bg m
dd if=/dev/urandom of=/dev/mapper/m bs=64K count=8 oflag=direct status=none
sleep 2
kill -0 "$WAIT_PID" 2>/dev/null || die "event raised above the low-water mark"
# 2 MiB more: below the mark, one event.
dd if=/dev/urandom of=/dev/mapper/m bs=64K count=32 seek=8 oflag=direct status=none
wait_done low_water_mark
dmesg | grep -q "low water mark reached" || die "no low water mark message"
[ "$(free_blocks)" -lt "$MARK" ] || die "free $(free_blocks) not below $MARK"

# Further writes below the mark raise no new event (once per crossing).
n=$(events m)
dd if=/dev/urandom of=/dev/mapper/m bs=64K count=16 seek=40 oflag=direct status=none
sleep 2
[ "$(events m)" = "$n" ] || die "second low-water event: $n -> $(events m)"

# Fill it: out of space raises an event, mode out-of-space.
wait_bg m
dd if=/dev/urandom of=/dev/mapper/m bs=1M seek=4 oflag=direct status=none 2>/dev/null &&
	die "filling 256 MiB of random data on a 64 MiB disk succeeded"
wait_done out-of-space
[ "$(sis_field m mode)" = out-of-space ] || die "mode $(sis_field m mode), expected out-of-space"
sis stats --json m | grep -q '"mode": *"out-of-space"' || die "sis stats --json: $(sis stats --json m)"

# Read-only raises an event.
wait_bg m
dmsetup message m 0 read_only
wait_done read-only
[ "$(sis_field m mode)" = read-only ] || die "mode $(sis_field m mode), expected read-only"

sis_remove m
sis_pass "low-water, out-of-space and read-only events seen by dmsetup wait"
