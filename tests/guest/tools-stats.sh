#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --timeout 600
#
# `sis stats` against the live target: every number it prints is the one
# `dmsetup status` gives (read by position from the order fixed in
# include/sis-target.h, independently of the tool), on a node path and a
# name, in the table, --verbose and --bytes forms; `sis create` feature
# options reach the table line; a repair needs the device inactive.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
command -v sis >/dev/null || die "sis is not installed in the guest"
sis_load

sis create st "$D" --logical-size 2G --no-discard-passdown --error-if-no-space
[ -b /dev/mapper/st ] || dmsetup mknodes st
dmsetup table st | grep -qE "^0 4194304 sis [^ ]+ 2 (no_discard_passdown error_if_no_space|error_if_no_space no_discard_passdown)$" ||
	die "table: $(dmsetup table st)"

# Data with known sharing: 32 MiB of one block, 8 MiB random, 4 MiB zeros.
head -c 4096 /dev/urandom >/tmp/b
for i in $(seq 1 13); do cat /tmp/b /tmp/b >/tmp/x && mv /tmp/x /tmp/b; done
dd if=/tmp/b of=/dev/mapper/st bs=1M oflag=direct status=none
dd if=/dev/urandom of=/dev/mapper/st bs=1M seek=32 count=8 oflag=direct status=none
dd if=/dev/zero of=/dev/mapper/st bs=1M seek=40 count=4 oflag=direct status=none
sync
echo 3 >/proc/sys/vm/drop_caches
dd if=/dev/mapper/st of=/dev/null bs=1M count=40 iflag=direct status=none
dmsetup message st 0 commit

# compare: one snapshot of status, one of sis stats --verbose; retried when
# a background commit changed the counters in between.
compare() {
	local dev=$1 try st v
	for try in 1 2 3; do
		st=$(dmsetup status st)
		v=$(sis stats --verbose "$dev")
		[ "$st" = "$(dmsetup status st)" ] && break
	done
	echo "$st"
	echo "$v"
	# shellcheck disable=SC2086
	set -- $st
	shift 3
	local mode=$1 mapped=$2 used=${3%/*} total=${3#*/} written=$4 new=$5 ratio=$6
	local zero=$7 hits=$8 misses=$9 cblocks=${10} commits=${11} nc=${12} data=${13} dhits=${14}
	local iram=${16} mram=${22}
	f() { echo "$v" | sed -n "s/^$1  *//p"; }
	assert_eq "$(f mode)" "$mode" "mode"
	assert_eq "$(f 'mapped blocks')" "$mapped" "mapped"
	assert_eq "$(f 'physical used' | cut -d' ' -f1)" "$used" "used"
	assert_eq "$(f 'physical total' | cut -d' ' -f1)" "$total" "total"
	assert_eq "$(f 'bytes written')" "$written" "written"
	assert_eq "$(f 'bytes needing new data')" "$new" "new data"
	assert_eq "$(f 'dedup ratio')" "$ratio" "ratio"
	assert_eq "$(f 'zero blocks')" "$zero" "zero blocks"
	assert_eq "$(f 'cache hits')" "$hits" "cache hits"
	assert_eq "$(f 'cache misses')" "$misses" "cache misses"
	assert_eq "$(f 'cache blocks (module)')" "$cblocks" "cache blocks"
	assert_eq "$(f commits)" "$commits" "commits"
	assert_eq "$(f 'data blocks')" "$data" "data blocks"
	assert_eq "$(f 'dedup hits')" "$dhits" "dedup hits"
	assert_eq "$(f 'index RAM')" "$iram bytes" "index RAM"
	assert_eq "$(f 'metadata RAM')" "$mram bytes" "metadata RAM"
	case $nc in
	needs_check) assert_eq "$(f needs_check)" yes "needs_check" ;;
	*) assert_eq "$(f needs_check)" no "needs_check" ;;
	esac
	# Saving% in the table row is 1 - data/mapped, as documented.
	want=$(awk -v d="$data" -v m="$mapped" 'BEGIN { if (m) printf "%.0f%%", 100 * (1 - d / m); else print "-" }')
	sis stats "$dev" | tail -n1 | grep -q " $want " || die "saving% $want not in: $(sis stats "$dev" | tail -n1)"
	sis stats --bytes "$dev" | tail -n1 | grep -q " $((total * 4096)) " || die "--bytes size"
}
compare st
compare /dev/mapper/st
# Any node of the device, found through /sys/dev/block/MAJ:MIN/dm/name.
mm=$(dmsetup info -c --noheadings -o major,minor --separator : st | tr -d ' ')
rm -f /tmp/dm-node
mknod /tmp/dm-node b "${mm%:*}" "${mm#*:}"
compare /tmp/dm-node

# metadata_ram (field 22): the metadata cache's pages (with the commit
# buffer and the free-space summary).  One new 4 KiB block in each 2 MiB
# of the logical device gives every one of its 1024 map leaves a page;
# the journal of this 1 GiB disk (1024 blocks) checkpoints them home
# whenever a commit leaves it more than half full, so after the last
# commit at most 512 of them still wait for a checkpoint (pinned) and
# drop_cache gives back at least the other 512.
m0=$(sis_field st metadata_ram)
fio --name=leaves --filename=/dev/mapper/st --rw=write:2044k --bs=4k --number_ios=1024 \
	--direct=1 --ioengine=psync --refill_buffers --randseed=7 --output=/dev/null
dmsetup message st 0 commit
m1=$(sis_field st metadata_ram)
dmsetup message st 0 drop_cache
m2=$(sis_field st metadata_ram)
log "metadata_ram: $m0 before, $m1 after 1024 leaves, $m2 after drop_cache"
[ $((m1 - m0)) -ge $((1000 * 4096)) ] || die "metadata_ram grew by $((m1 - m0)) for 1024 new map leaves"
[ "$m2" -gt 0 ] && [ "$m2" -le $((m1 - 500 * 4096)) ] ||
	die "metadata_ram $m2 after drop_cache ($m1 before)"
sis stats --json st >/tmp/j
grep -q '"mapped_blocks": ' /tmp/j || die "json"
sis stats nosuchdevice 2>/dev/null && die "stats of a missing device accepted"
sis stats "$D" 2>/dev/null && die "stats of a non-dm device accepted"
sis repair "$D" 2>/dev/null && die "repair of an active device accepted"
sis_remove st
sis check "$D" || die "sis check after stats test"
check_dmesg
sis_pass
