#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 64M --mem 2048 --timeout 1500
#
# Corrupted metadata (item 4 of issue 7).  For each metadata block type the
# device is formatted, filled (unique data in two far-apart logical regions
# so the map has interior nodes and several leaves, plus duplicates),
# deactivated, and one block of that type damaged (8 bytes flipped: the
# checksum no longer matches; tests/reliability/sisblocks.py finds the
# blocks by their headers):
#
#   sb0, sb1           one superblock copy (the other is valid)
#   sb0+sb1            both copies
#   rc                 a refcount page (format v2 has no index on disk)
#   map_node, map_leaf an interior block-map page, a leaf
#   jdesc, jimage, jcommit   a block of the FIRST of three live journal
#                      transactions of a crashed device (made by switching
#                      the disk to dm-flakey drop_writes before removal):
#                      the later, intact transactions are evidence that
#                      this is damage, not the torn end of the journal
#
# make test runs every block type: all of these but sb1 alone (the same
# type as sb0), 9 cases with "clean"; a journal case is cheap (activation
# is refused: 6-12 s each under TCG, against 20-50 s for a case that
# activates).  SIS_TEST_LONG=1 (tests/guest/long/rel-corrupt-all.sh) adds
# sb1 and a second block of some types (KIND:N = the N-th block of KIND,
# from 0): the second transaction's descriptor and commit block, another
# refcount page and map leaf (14 cases).
#
# Then: `sis check` must notice (exit != 0; for a single superblock copy
# exit 1 or more) and dm-sis activation must be refused with a message, or
# succeed; then every block read back must be right or fail with an error,
# and if anything was wrong or failed the device must say so (read-only or
# fail mode, or needs_check); a device that reads back wrong data, or loses
# committed journal transactions, in write mode without needs_check is
# "silent wrong data" and fails the test.  A write attempt follows (it may
# be what finds a damaged refcount page), with the same
# rules.  Nothing may oops.
#
# What it catches: a missing checksum check on any block type, recovery
# that silently stops at a damaged transaction and drops later committed
# ones, activation that ignores a damaged superblock, and crashes on
# damaged input.  Negative control: the "clean" case (no damage) must
# check clean, activate in write mode and verify.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
REL=${SIS_TESTS:-$(dirname "$0")/..}/reliability
D=$(disk 1)
P="python3 $REL/blkpat.py"
B="python3 $REL/sisblocks.py"
S=/dev/mapper/s
L=$((2048 * 2048)) # 2 GiB logical: a 3-level map
SZ=$(blockdev --getsz "$D")
sis_load
modprobe dm-flakey
FAILS=()
SUMMARY=()
CRASH=0

# make_base crash(0/1) IMG: format, fill, deactivate (cleanly, or after a
# crash), save the disk to IMG (tmpfs) so every case starts from a copy.
make_base() {
	blkdiscard -z "$D" 2>/dev/null || dd if=/dev/zero of="$D" bs=1M status=none oflag=direct || true
	dmsetup create lin --table "0 $SZ linear $D 0"
	dmsetup mknodes lin
	sis_create s /dev/mapper/lin $L
	$P write $S 0 200 21 >/dev/null
	dmsetup message s 0 commit
	$P write $S 200 200 22 --dup --chunk 8 >/dev/null
	dmsetup message s 0 commit
	$P write $S 300000 100 23 >/dev/null
	dmsetup message s 0 commit
	if [ "$1" = 1 ]; then
		# clean close (checkpoint), then three small committed transactions
		sis_remove s
		sis_create s /dev/mapper/lin $L
		$P write $S 500 8 25 >/dev/null
		dmsetup message s 0 commit
		$P write $S 600 8 26 >/dev/null
		dmsetup message s 0 commit
		$P write $S 700 8 27 >/dev/null
		dmsetup message s 0 commit
		# crash: from now on every write is dropped (acknowledged, not stored)
		dmsetup suspend lin
		dmsetup load lin --table "0 $SZ flakey $D 0 0 3600 1 drop_writes"
		dmsetup resume lin
	fi
	sis_remove s
	sis_remove lin
	dd if="$D" of="$2" bs=1M iflag=direct status=none
	$B list "$2" >"$2.list"
	log "base $2: $(head -n 1 "$2.list"); $(awk 'NR > 1 {print $2 "/" $4}' "$2.list" | sort | uniq -c | tr -s ' \n' ' ')"
}

# verify_all TAG: rc 0 = all right, 1 = errors/wrong data (details in $VOUT)
verify_all() {
	VOUT=""
	local o r=0
	local specs=("0 200 21" "200 200 22 --dup" "300000 100 23")
	[ "$CRASH" = 1 ] && specs+=("500 8 25" "600 8 26" "700 8 27")
	for spec in "${specs[@]}"; do
		# shellcheck disable=SC2086
		o=$($P verify $S $spec --errors-ok 2>&1) || r=1
		VOUT+="$o "
		echo "$o" | grep -q 'errors [1-9]' && r=1
	done
	return $r
}

onecase() { # name crash(0/1) kinds (KIND or KIND:N)...
	local name=$1 crash=$2 rc act mode nc vr wr msg k blk t0=$SECONDS
	shift 2
	CRASH=$crash
	base=/tmp/base$crash.img
	dd if=$base of="$D" bs=1M oflag=direct status=none
	for k in "$@"; do
		# shellcheck disable=SC2046
		blk=$($B pick $base $(echo "$k" | tr : ' ')) || { FAILS+=("$name: no $k block found"); return; }
		$B smash "$D" "$blk"
		name+=" @$blk"
	done
	log "case $name"
	rc=0
	sis check -q "$D" >/tmp/check.out 2>&1 || rc=$?
	[ "$rc" = 0 ] || log "$name: sis check exit $rc: $(grep -v '^summary' /tmp/check.out | head -n 3 | tr '\n' ' ')$(grep '^summary' /tmp/check.out)"
	dmesg -C
	if ! dmsetup create s --table "0 $L sis $D" 2>/tmp/create.err; then
		msg=$(dmesg | grep -i 'sis\|device-mapper: table' | tail -n 1)
		SUMMARY+=("$name: check exit $rc; activation refused: ${msg:-?}")
		[ "$rc" != 0 ] || [ "$name" = clean ] || FAILS+=("$name: sis check exit 0 on damaged metadata")
		[ "$name" != clean ] || FAILS+=("clean: activation refused")
		return
	fi
	dmsetup mknodes s
	act="activated $(sis_field s mode)/$(sis_field s needs_check)"
	vr=0
	verify_all || vr=1
	mode=$(sis_field s mode)
	nc=$(sis_field s needs_check)
	if [ "$vr" = 1 ] && [ "$mode" = write ] && [ "$nc" = - ]; then
		FAILS+=("$name: silent wrong data or errors in write mode without needs_check: $VOUT")
	fi
	# a write may be what finds a damaged bucket / refcount page
	wr=ok
	$P write $S 1000 64 24 >/dev/null 2>&1 || wr=error
	$P write $S 2000 64 22 --dup >/dev/null 2>&1 || wr=error
	dmsetup message s 0 commit 2>/dev/null || wr="$wr/commit-error"
	verify_all || vr=1
	mode=$(sis_field s mode)
	nc=$(sis_field s needs_check)
	if [ "$vr" = 1 ] && [ "$mode" = write ] && [ "$nc" = - ]; then
		FAILS+=("$name: after a write: wrong data or errors in write mode without needs_check: $VOUT")
	fi
	if [ "$wr" != ok ] && [ "$mode" = write ] && [ "$nc" = - ]; then
		FAILS+=("$name: a write or commit failed but the device stays in write mode without needs_check")
	fi
	SUMMARY+=("$name: check exit $rc; $act; reads $([ $vr = 0 ] && echo right || echo 'errors/flagged'); write $wr; now $mode/$nc ($((SECONDS - t0)) s)")
	case $name in
	clean*) [ "$rc" = 0 ] && [ "$vr" = 0 ] && [ "$mode" = write ] || FAILS+=("clean: check $rc verify $vr mode $mode") ;;
	*) [ "$rc" != 0 ] || FAILS+=("$name: sis check exit 0 on damaged metadata") ;;
	esac
	sis_remove s
	check_dmesg
}

make_base 0 /tmp/base0.img
make_base 1 /tmp/base1.img
# make test: every block type (9 cases); SIS_TEST_LONG
# (tests/guest/long/rel-corrupt-all.sh): 5 more (sb1, a second block of a type)
LONG=${SIS_TEST_LONG:-}
onecase clean 0
onecase sb0 0 sb0
[ -z "$LONG" ] || onecase sb1 0 sb1
onecase sb0+sb1 0 sb0 sb1
onecase rc 0 rc
onecase map_node 0 map_node
onecase map_leaf 0 map_leaf
onecase jdesc 1 jdesc
onecase jimage 1 jimage
onecase jcommit 1 jcommit
if [ -n "$LONG" ]; then
	onecase rc:1 0 rc:1
	onecase map_leaf:1 0 map_leaf:1
	onecase jdesc:1 1 jdesc:1
	onecase jcommit:1 1 jcommit:1
fi
for x in "${SUMMARY[@]}"; do log "$x"; done
check_dmesg
if [ "${#FAILS[@]}" -gt 0 ]; then
	for x in "${FAILS[@]}"; do log "FAIL: $x"; done
	die "${#FAILS[@]} case(s) failed"
fi
sis_pass "${#SUMMARY[@]} cases"
