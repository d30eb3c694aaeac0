#!/bin/bash
# vm-run self-test: --disk-throttle N limits the disk before it to N MiB/s
# (the benchmark's disk-bound pairs rely on it) and leaves the others alone.
# 24 MiB through an 8 MiB/s disk cannot take less than 24/8 s, less QEMU's
# burst of one second's worth; the same write to the unthrottled disk must
# not be held like that.
# vm-run: --disk 64M --disk 64M --disk-throttle 8 --timeout 180
# expect: pass
set -euo pipefail
secs() { # dev: seconds to write 24 MiB to it, direct, then to read them back
	local t0 t1
	t0=$(date +%s.%N)
	dd if=/dev/zero of="$1" bs=1M count=24 oflag=direct status=none
	dd if="$1" of=/dev/null bs=1M count=24 iflag=direct status=none
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }'
}
free=$(secs /dev/vdb)
held=$(secs /dev/vdc)
echo "48 MiB moved: unthrottled /dev/vdb ${free} s, /dev/vdc at 8 MiB/s ${held} s"
# 48 MiB at 8 MiB/s: 6 s; allow the burst (QEMU's default is 1/10 of a second's worth) and rounding
awk -v h="$held" 'BEGIN { exit !(h >= 5.0) }' || { echo "FAIL: the throttled disk moved 48 MiB in ${held} s"; exit 1; }
awk -v f="$free" -v h="$held" 'BEGIN { exit !(f < h / 2) }' ||
	{ echo "FAIL: the unthrottled disk was as slow (${free} s)"; exit 1; }
echo "throttle OK"
