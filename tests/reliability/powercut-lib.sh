# SPDX-License-Identifier: GPL-2.0
# tests/reliability/powercut-lib.sh: the recovery check and the workload of
# the power-cut tests (sourced after tests/guest/lib.sh by
# tests/guest/rel-powercut.sh and tests/reliability/powercut-guest.sh).
#
# Layout: ext4 on dm-sis "pcs" (logical $PC_L sectors) on $PC_DATA; the
# workload's durable event records (tests/reliability/fsload.py
# --events-dev) on $PC_EV.

PC_L=${PC_L:-$((1 << 21))}
REL=${REL:-${SIS_TESTS:-$(dirname "$0")/..}/reliability}

# pc_recover: after a power cut: sis check of the crashed state, activation
# (journal recovery, timed), clean removal, sis check, activation, ext4
# journal recovery (mount/umount), e2fsck -fn, mount, verify every
# acknowledged file.  Leaves the file system mounted on /mnt/pc.
# Negative control: PC_NEGATIVE=corrupt (vm-run --env) flips one byte of one
# acknowledged file just before the verification, which must then fail.
pc_recover() {
	local rc t0 t1 out
	rc=0
	sis check -q "$PC_DATA" >/tmp/pc-check0 2>&1 || rc=$?
	[ "$rc" = 0 ] || { cat /tmp/pc-check0; die "sis check of the crashed device: exit $rc"; }
	t0=$(date +%s.%N)
	dmsetup create pcs --table "0 $PC_L sis $PC_DATA" || die "activation after the power cut refused"
	t1=$(date +%s.%N)
	dmsetup mknodes pcs
	echo "RECOVERY-TIME: $(echo "$t1 - $t0" | bc) s ($(dmesg | grep -o 'sis: .*recovered [0-9]* journal transactions' | tail -n 1))"
	[ "$(sis_field pcs mode)" = write ] || die "mode after recovery: $(sis_status pcs)"
	[ "$(sis_field pcs needs_check)" = - ] || die "needs_check after recovery: $(sis_status pcs)"
	sis_remove pcs
	rc=0
	sis check -q "$PC_DATA" >/tmp/pc-check1 2>&1 || rc=$?
	[ "$rc" = 0 ] || { cat /tmp/pc-check1; die "sis check after recovery: exit $rc"; }
	sis_create pcs "$PC_DATA" "$PC_L"
	mkdir -p /mnt/pc
	mount /dev/mapper/pcs /mnt/pc || die "mount after the power cut failed"
	umount /mnt/pc
	rc=0
	e2fsck -fn /dev/mapper/pcs >/tmp/pc-fsck 2>&1 || rc=$?
	[ "$rc" = 0 ] || { tail -n 20 /tmp/pc-fsck; die "e2fsck after the power cut: exit $rc"; }
	mount /dev/mapper/pcs /mnt/pc
	if [ "${PC_NEGATIVE:-}" = corrupt ]; then
		echo "POWERCUT-NEGATIVE-CONTROL: $(python3 "$REL/fsload.py" damage --root /mnt/pc \
			--events-dev "$PC_EV")"
	fi
	out=$(python3 "$REL/fsload.py" verify --root /mnt/pc --events-dev "$PC_EV" --seed "$PC_SEED") ||
		{ echo "$out"; die "acknowledged data lost or corrupt after the power cut"; }
	echo "POWERCUT-VERIFIED: $out"
}

# pc_format: first boot: dm-sis + ext4 on blank disks.
pc_format() {
	sis_create pcs "$PC_DATA" "$PC_L"
	mkfs.ext4 -q -F -E nodiscard /dev/mapper/pcs </dev/null
	mkdir -p /mnt/pc
	mount /dev/mapper/pcs /mnt/pc
}

# pc_workload: start the verified workload and an unverified dedup fio load
# in the background, each in its own process group (PC_PIDS: the group ids;
# pc_kill kills everything in them, fio children included).
pc_workload() {
	rm -f /mnt/pc/load.fio
	setsid python3 "$REL/fsload.py" run --root /mnt/pc --events-dev "$PC_EV" --seed "$PC_SEED" \
		--forever --fio-mb 4 >/tmp/pc-load.out 2>&1 &
	PC_PIDS="$!"
	setsid fio --name=load --filename=/mnt/pc/load.fio --rw=randwrite --bs=16k --size=48M \
		--dedupe_percentage=70 --ioengine=libaio --iodepth=8 --direct=1 --time_based \
		--runtime=3600 --fsync=16 --thread --output=/dev/null >/dev/null 2>&1 &
	PC_PIDS+=" $!"
}

# pc_stop: freeze the workload (SIGSTOP to its process groups) before a cut.
# A cut takes two device reloads (the event device, then the data device);
# a workload still running between them could record nothing (its intent
# record dropped by the cut event device) yet change the data disk (not
# cut yet), e.g. delete a file it had acknowledged, and the verifier would
# report that acknowledged file lost.  A stopped process starts no new
# operation; a system call in progress when it stops had its intent
# recorded (written O_DSYNC) before it began.
pc_stop() {
	local p
	for p in $PC_PIDS; do kill -STOP -- "-$p" 2>/dev/null || true; done
}

pc_kill() {
	local p
	for p in $PC_PIDS; do kill -9 -- "-$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}

# pc_events: event records on $PC_EV so far.
pc_events() {
	python3 -c "import sys; sys.path.insert(0, '$REL'); import fsload
print(len(fsload.EventLog(None, '$PC_EV').read()))"
}

# pc_wait_events N: wait (at most 90 s) until the workload has added N records.
pc_wait_events() {
	local n0 i
	n0=$(pc_events)
	for i in $(seq 1 45); do
		[ "$(pc_events)" -ge $((n0 + $1)) ] && return 0
		sleep 2
	done
}
