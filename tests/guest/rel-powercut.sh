#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 512M --disk 64M --mem 2048 --timeout 900
#
# Power cut inside one guest (item 2 of issue 7, the `make test` share; the
# real thing, killing QEMU, is tests/reliability/powercut-host.sh).
#
# ext4 -> dm-sis -> dm-linear "pc" -> /dev/vdb; the workload's durable event
# records on dm-linear "ev" -> /dev/vdc.  The workload (fsload.py: creates
# with dedup content, atomic replaces, in-place 4 KiB overwrites, deletes,
# fio dedupe files, fstrim; every operation bracketed by an intent record
# before it and an ack record after its fsync returned) plus an unverified
# fio randwrite dedupe load run for a random 6-16 s; then, in one step, both
# linear devices are reloaded as dm-flakey drop_writes (the fstests
# "godown"/flakey method: every later write is acknowledged and lost, as in
# a power cut; the event device first, so nothing recorded after the cut can
# claim data the disk lost); the workload is killed, the file system and
# dm-sis torn down (their final writes are lost too), the disks restored.
# Then: `sis check` of the crashed state, activation (recovery; time
# printed), clean removal, `sis check`, ext4 journal recovery, e2fsck -fn,
# and every acknowledged file verified.  $CYCLES cuts per run (2; 10 with
# SIS_TEST_LONG=1).
#
# What it catches: acknowledged fsyncs whose data or mapping was not durable
# (the dm-sis commit acknowledged a flush too early), recovery that loses or
# misapplies committed transactions, a crash state that sis check or
# e2fsck finds inconsistent.  Negative control (checked: the run fails with
# "acknowledged data lost or corrupt after the power cut"):
# `scripts/vm-run --env PC_NEGATIVE=corrupt tests/guest/rel-powercut.sh`
# flips one byte of one fsync-acknowledged file before the verification
# (tests/reliability/powercut-lib.sh).  Also, the first cut's verifier is
# run with --pretend-acked on the events recorded up to the cut; an
# operation pending at the cut that the disk did not complete makes it fail
# (reported, not required: the cut may fall between operations).
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
REL=${SIS_TESTS:-$(dirname "$0")/..}/reliability
. "$REL/powercut-lib.sh"
D1=$(disk 1) D2=$(disk 2)
PC_SEED=${1:-$(( $(date +%s) % 100000 ))}
CYCLES=${CYCLES:-$([ -n "${SIS_TEST_LONG:-}" ] && echo 10 || echo 1)}
log "seed $PC_SEED, $CYCLES power cuts (reproduce: rel-powercut.sh $PC_SEED)"
sis_load
modprobe dm-flakey
S1=$(blockdev --getsz "$D1") S2=$(blockdev --getsz "$D2")
dmsetup create pc --table "0 $S1 linear $D1 0"
dmsetup create ev --table "0 $S2 linear $D2 0"
dmsetup mknodes
PC_DATA=/dev/mapper/pc PC_EV=/dev/mapper/ev
RANDOM=$PC_SEED

pc_cut() { # dev size disk
	dmsetup suspend --noflush "$1"
	dmsetup load "$1" --table "0 $2 flakey $3 0 0 3600 1 drop_writes"
	dmsetup resume "$1"
}
pc_restore() {
	dmsetup suspend "$1"
	dmsetup load "$1" --table "0 $2 linear $3 0"
	dmsetup resume "$1"
}

pc_format
NEG=""
for c in $(seq 1 "$CYCLES"); do
	pc_workload
	# the cut falls 6-16 s after the workload has recorded its first events
	pc_wait_events 3
	w=$((6 + RANDOM % 11))
	sleep "$w"
	pc_stop
	pc_cut ev "$S2" "$D2"
	pc_cut pc "$S1" "$D1"
	pc_kill
	n=$(pc_events)
	umount /mnt/pc || umount -l /mnt/pc
	sis_remove pcs
	pc_restore ev "$S2" "$D2"
	pc_restore pc "$S1" "$D1"
	echo 3 >/proc/sys/vm/drop_caches
	log "cut $c after ${w}s: $n events durable"
	if grep -q Traceback /tmp/pc-load.out; then
		tail -n 5 /tmp/pc-load.out
		die "the workload failed before the cut"
	fi
	pc_recover
	if [ "$c" = 1 ]; then
		if python3 "$REL/fsload.py" verify --root /mnt/pc --events-dev "$PC_EV" --seed "$PC_SEED" \
			--pretend-acked >/tmp/neg.out 2>&1; then
			NEG="negative control: nothing pending at the cut"
		else
			NEG="negative control: pending operation flagged ($(grep BAD /tmp/neg.out | head -n 1))"
		fi
		log "$NEG"
	fi
done
umount /mnt/pc
sis_remove pcs
sis_remove pc
sis_remove ev
check_dmesg
sis_pass "$CYCLES power cuts recovered and verified"
