#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 256M --mem 2048 --timeout 900
#
# I/O errors under dm-sis (item 3 of issue 7).  dm-sis sits on a dm table
# over the disk whose pieces are swapped at run time (suspend, load,
# resume) between dm-linear and dm-flakey (always "down"):
#
#   meta-write   superblocks/journal region: writes fail
#   meta-read    that region: reads fail (after drop_cache)
#   data-write   data area (data, map and refcount pages): writes fail
#   data-read    data area: reads fail (after drop_cache)
#   all          the whole disk: reads and writes fail
#
# In each phase: data acknowledged before the fault (unique and duplicate
# blocks, committed) is written, the fault switched on, new writes, reads
# and a commit attempted.  The user must see errors (a failed write, read
# or commit), a metadata error must put the device in read-only or fail mode
# (dmsetup status) with a clear kernel message, nothing may oops (vm-run
# checks dmesg).  Then the fault is removed, the device removed,
# `sis check` run (exit 1 for needs_check is followed by `sis repair`, then
# it must be 0), the device created again: mode write, and all data
# acknowledged before the fault must read back exactly.
#
# Negative control (proves the verification sees corruption): a phase with
# dm-flakey corrupt_bio_byte on reads; reading the acknowledged data must
# then NOT verify cleanly (wrong bytes or an error); after the fault is gone
# everything verifies again.
# What it catches: errors swallowed (a failed data or journal write
# reported as success), a device that keeps writing after a metadata error,
# acknowledged data damaged by error handling or by the abort/reload of the
# open transaction, and crashes in error paths.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
REL=${SIS_TESTS:-$(dirname "$0")/..}/reliability
D=$(disk 1)
P="python3 $REL/blkpat.py"
S=/dev/mapper/s
L=$((512 * 2048))
SZ=$(blockdev --getsz "$D")
sis_load
modprobe dm-flakey

# the layout: metadata region = blocks before the data area
dmsetup create s --table "0 $L sis $D"
dmsetup remove s
DS=$(python3 "$REL/sisblocks.py" list "$D" | awk 'NR == 1 {print $NF}')
[ -n "$DS" ] && [ "$DS" -gt 2 ] || die "cannot read the data area start from the superblock"
MS=$((DS * 8))
log "metadata region: sectors 0..$((MS - 1)); data area from block $DS"

lin() { echo "$1 $2 linear $D $1"; }
flk() { echo "$1 $2 flakey $D $1 0 3600 $3"; }
fl_table() { # table text
	dmsetup suspend fl
	dmsetup load fl --table "$1"
	dmsetup resume fl
}
HEALTHY="$(lin 0 "$SZ")"
dmsetup create fl --table "$HEALTHY"
dmsetup mknodes fl

seed=10
FAILS=()
bad() { log "FAILED: $*"; FAILS+=("$*"); }
phase() { # name table-when-faulty
	local name=$1 faulty=$2 werr=0 rerr=0 cerr=0 mode mode2 rc out e
	seed=$((seed + 1))
	sis_create s /dev/mapper/fl $L
	$P write $S 0 256 $seed >/dev/null || die "$name: write before the fault"
	$P write $S 256 256 $seed --dup --chunk 16 >/dev/null || die "$name: dup write before the fault"
	dmsetup message s 0 commit || die "$name: commit before the fault"
	dmesg -C
	fl_table "$faulty"
	dmsetup message s 0 drop_cache
	# new unique data, a duplicate of acknowledged data, a commit, reads
	read -r _ k _ e < <($P write $S 4000 256 $((seed + 100)) --until-error)
	[ "$e" = 0 ] || werr=1
	read -r _ k2 _ e2 < <($P write $S 5000 64 $seed --dup --until-error)
	[ "$e2" = 0 ] || werr=1
	dmsetup message s 0 commit 2>/dev/null || cerr=1
	out=$($P verify $S 0 256 $seed 2>&1) || rerr=1
	mode=$(sis_field s mode)
	log "$name: new writes $k/256 ($e), dup writes $k2/64 ($e2), commit error $cerr, read/verify error $rerr, mode $mode"
	# a second commit after the error must not write on
	dmsetup message s 0 commit 2>/dev/null || true
	mode2=$(sis_field s mode)
	case $name in
	meta-write | all)
		[ "$cerr" = 1 ] || bad "$name: commit succeeded although journal writes fail"
		[ "$mode" = read-only ] || [ "$mode" = fail ] || bad "$name: mode '$mode' after a metadata write error"
		dmesg | grep -q 'sis.*metadata error' || bad "$name: no 'metadata error' kernel message"
		;;
	data-write)
		[ "$werr" = 1 ] || [ "$cerr" = 1 ] || bad "$name: writes of new data succeeded although data writes fail"
		;;
	data-read)
		[ "$rerr" = 1 ] || bad "$name: reads succeeded although data reads fail"
		;;
	meta-read)
		# docs/design.md: any metadata I/O error -> read-only (the region
		# holds only superblocks and journal)
		if [ "$werr" = 1 ] || [ "$cerr" = 1 ] || [ "$rerr" = 1 ]; then
			[ "$mode" != write ] || bad "$name: a metadata read error failed user I/O but the device stays in write mode ($(sis_status s))"
		else
			log "$name: no error visible (all needed metadata cached?)"
		fi
		;;
	corrupt)
		[ "$rerr" = 1 ] || bad "negative control: reads through corrupt_bio_byte verified clean (verification blind?)"
		log "negative control: corruption detected: $(echo "$out" | head -n 1)"
		# docs/format.md: a checksum mismatch (-EILSEQ) sets needs_check and
		# puts the device in read-only mode
		if [ "$e" = EILSEQ ] || [ "$e2" = EILSEQ ] || echo "$out" | grep -q 'Errno 84'; then
			[ "$mode" != write ] || bad "$name: metadata checksum errors (EILSEQ) but the device stays in write mode ($(sis_status s))"
		fi
		;;
	esac
	[ "$mode2" = "$mode" ] || [ "$mode2" = fail ] || [ "$mode" = write ] ||
		bad "$name: mode went from $mode back to $mode2 while the fault persists"
	dmesg | grep -E 'sis' | tail -n 3 | sed "s/^/[$name dmesg] /" || true
	fl_table "$HEALTHY"
	sis_remove s
	rc=0
	sis check -q /dev/mapper/fl >/tmp/check.out 2>&1 || rc=$?
	if [ "$rc" = 1 ]; then
		log "$name: sis check exit 1 ($(tail -n 1 /tmp/check.out)); running sis repair"
		sis repair /dev/mapper/fl >/tmp/repair.out 2>&1 || { cat /tmp/repair.out; die "$name: sis repair failed"; }
		rc=0
		sis check -q /dev/mapper/fl >/tmp/check.out 2>&1 || rc=$?
	fi
	[ "$rc" = 0 ] || { cat /tmp/check.out; die "$name: sis check exit $rc after the fault"; }
	sis_create s /dev/mapper/fl $L
	mode=$(sis_field s mode)
	[ "$mode" = write ] || bad "$name: reactivated in mode $mode"
	$P verify $S 0 256 $seed --quiet || bad "$name: data acknowledged before the fault lost"
	$P verify $S 256 256 $seed --dup --quiet || bad "$name: duplicates acknowledged before the fault lost"
	$P write $S 6000 16 $((seed + 200)) >/dev/null || die "$name: cannot write after recovery"
	sis_remove s
	check_dmesg
}

phase meta-write "$(flk 0 $MS "1 error_writes")
$(lin $MS $((SZ - MS)))"
phase meta-read "$(flk 0 $MS "1 error_reads")
$(lin $MS $((SZ - MS)))"
phase data-write "$(lin 0 $MS)
$(flk $MS $((SZ - MS)) "1 error_writes")"
phase data-read "$(lin 0 $MS)
$(flk $MS $((SZ - MS)) "1 error_reads")"
phase all "$(flk 0 "$SZ" "0")"
phase corrupt "$(lin 0 $MS)
$(flk $MS $((SZ - MS)) "5 corrupt_bio_byte 100 r 255 0")"
sis_remove fl
check_dmesg
if [ "${#FAILS[@]}" -gt 0 ]; then
	printf '[%s] FAIL: %s\n' "$SIS_TEST" "${FAILS[@]}"
	die "${#FAILS[@]} rule(s) broken"
fi
sis_pass "6 fault phases"
