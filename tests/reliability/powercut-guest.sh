#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of tests/reliability/powercut-host.sh (not a test by itself).
#   powercut-guest.sh first SEED   format, start the workload, wait to be killed
#   powercut-guest.sh next SEED    recover + check + verify, then the workload
#   powercut-guest.sh final SEED   recover + check + verify, exit 0
# Disks: /dev/vdb data (dm-sis + ext4), /dev/vdc event records; both are
# image files that persist across boots.  PC_NEGATIVE=corrupt (vm-run --env):
# the negative control of tests/reliability/powercut-lib.sh pc_recover.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
REL=${SIS_TESTS:-$(dirname "$0")/..}/reliability
. "$REL/powercut-lib.sh"
MODE=$1
PC_SEED=$2
PC_DATA=$(disk 1) PC_EV=$(disk 2)
sis_load
case $MODE in
first) pc_format ;;
next | final)
	log "events durable before the kill: $(python3 -c "
import sys; sys.path.insert(0, '$REL'); import fsload
print(len(fsload.EventLog(None, '$PC_EV').read()))")"
	pc_recover
	check_dmesg
	echo "POWERCUT-RECOVERED"
	;;
*) die "mode $MODE" ;;
esac
if [ "$MODE" = final ]; then
	umount /mnt/pc
	sis_remove pcs
	check_dmesg
	sis_pass "recovered and verified"
fi
n0=$(pc_events)
pc_workload
pc_wait_events 3
if grep -q Traceback /tmp/pc-load.out || [ "$(pc_events)" -le "$n0" ]; then
	tail -n 5 /tmp/pc-load.out
	die "the workload records no events (it failed or is stuck)"
fi
echo "POWERCUT-WORKLOAD-RUNNING"
sleep 100000
