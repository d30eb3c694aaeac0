#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 2G --mem 2048 --timeout 900
#
# A pool of volumes through the kernel target (issue 13, items 1-3):
#  - table lines of volumes: `volume <id>`, refused for a volume that does
#    not exist, for one already open on another device, with pool features
#    that differ, or on a blank device; `dmsetup table` prints the volume;
#  - clones by message: two clones of volume 0 read back the origin byte
#    for byte; a different write to each changes only that clone; the clone
#    takes no space and the writes take only what they changed;
#  - K=4 clones read cold: the backing disk reads about one copy, not K;
#  - the same data written to a new empty volume takes no new data block;
#  - delete_volume is refused while a device has the volume open, and of a
#    closed clone frees exactly the data blocks count_exclusive reported;
#  - bad volume messages are refused with their error in dmesg and change
#    nothing; the volume table holds 40 volumes and refuses the 41st;
#  - set_volume_size and a reload grow a volume; a reload of volume 0 works;
#  - an event of the pool (the read-only switch) is raised on every resumed
#    device of the pool, none on a suspended one;
#  - `sis check` of the pool is clean after the devices are removed.
# The 2 GiB disk gives the default journal (1/256) the ~1100 blocks a
# clone needs.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
SZ=$((1 << 21))			# 1 GiB in sectors
BLOCKS=$((SZ / 8))
MB=$((1 << 20))
sis_load

used() { sis_field "$1" used_total | cut -d/ -f1; }
msg() { dmsetup message v0 0 "$@"; }
commit() { msg commit; }

# pool_state: what a refused message must not change
pool_state() {
	echo "$(sis_field v0 volumes) $(sis_field v0 pool_mapped) $(sis_field v0 data_blocks) $(sis_field v0 mapped)"
}

# expect_bad_msg "error" message...: refused, logged, nothing changed
expect_bad_msg() {
	local err=$1 before
	shift
	before=$(pool_state)
	dmesg -C
	if msg "$@" 2>/dev/null; then
		die "accepted bad message: $*"
	fi
	dmesg | grep -qF "$err" || { dmesg | tail -5; die "no '$err' for: $*"; }
	assert_eq "$(pool_state)" "$before" "pool changed by refused message '$*'"
	log "refused: $* -> $(dmesg | grep -o 'sis: .*' | tail -1)"
}

# ---- a blank device: only volume 0 formats it ----------------------------
dd if=/dev/zero of="$D" bs=1M count=1 oflag=direct status=none
expect_bad "0 $SZ sis $D 2 volume 1" "device is not formatted for dm-sis"
[ -z "$(head -c 8192 "$D" | tr -d '\0')" ] || die "a table of volume 1 wrote to a blank disk"

sis_create v0 "$D" $SZ
assert_eq "$(sis_field v0 volume)" 0 "volume of v0"
assert_eq "$(sis_field v0 exclusive)" - "exclusive before count_exclusive"
assert_eq "$(sis_field v0 volumes)" 1 "volumes after format"
dmsetup table v0 | grep -q "volume" && die "table of volume 0 prints a volume"

# ---- table lines of volumes ----------------------------------------------
expect_bad "0 $SZ sis $D 2 volume 99" "Volume does not exist"
expect_bad "0 $SZ sis $D 2 volume x" "Invalid volume id"
expect_bad "0 $SZ sis $D 2 volume 16777216" "Invalid volume id"
expect_bad "0 $SZ sis $D 1 volume" "volume needs a volume id"
expect_bad "0 $SZ sis $D" "Volume is already in use by another device"
expect_bad "0 $SZ sis $D 2 volume 0" "Volume is already in use by another device"

# ---- data on volume 0, two clones ----------------------------------------
head -c $((32 * MB)) /dev/urandom >/tmp/base
dd if=/tmp/base of=/dev/mapper/v0 bs=1M oflag=direct status=none
commit
u0=$(used v0)
d0=$(sis_field v0 data_blocks)
m0=$(sis_field v0 mapped)
assert_eq "$m0" 8192 "mapped blocks of volume 0"

dmsetup suspend v0
msg clone_volume 1 0 c1
msg clone_volume 2 0
dmsetup resume v0
commit
u1=$(used v0)
log "used: $u0 before the clones, $u1 after"
[ $((u1 - u0)) -le 4 ] || die "clones took space: used $u0 -> $u1"
assert_eq "$(sis_field v0 data_blocks)" "$d0" "data blocks after clone"
assert_eq "$(sis_field v0 volumes)" 3 "volumes after two clones"

expect_bad "0 $SZ sis $D 4 volume 1 commit_interval 5" "Pool features differ from the open pool's"
sis_create c1 "$D" $SZ volume 1
sis_create c2 "$D" $SZ volume 2
dmsetup table c2 | grep -q " 2 volume 2$" || die "table of c2: $(dmsetup table c2)"
assert_eq "$(sis_field c1 volume)" 1 "volume of c1"
assert_eq "$(sis_field c1 mapped)" "$m0" "mapped blocks of the clone"
assert_eq "$(sis_field c1 pool_mapped)" $((3 * m0)) "pool mapped"
expect_bad "0 $SZ sis $D 2 volume 2" "Volume is already in use by another device"

for c in c1 c2; do
	cmp <(dd if=/dev/mapper/$c bs=1M count=32 iflag=direct status=none) /tmp/base ||
		die "$c does not read the origin's data"
done

# ---- a different write to each clone -------------------------------------
head -c $((4 * MB)) /dev/urandom >/tmp/w1
head -c $((4 * MB)) /dev/urandom >/tmp/w2
cp /tmp/base /tmp/e1
cp /tmp/base /tmp/e2
dd if=/tmp/w1 of=/tmp/e1 bs=1M seek=4 conv=notrunc status=none
dd if=/tmp/w2 of=/tmp/e2 bs=1M seek=8 conv=notrunc status=none
dd if=/tmp/w1 of=/dev/mapper/c1 bs=1M seek=4 oflag=direct status=none
dd if=/tmp/w2 of=/dev/mapper/c2 bs=1M seek=8 oflag=direct status=none
commit
cmp <(dd if=/dev/mapper/v0 bs=1M count=32 iflag=direct status=none) /tmp/base ||
	die "the origin changed"
cmp <(dd if=/dev/mapper/c1 bs=1M count=32 iflag=direct status=none) /tmp/e1 ||
	die "c1 does not hold its write"
cmp <(dd if=/dev/mapper/c2 bs=1M count=32 iflag=direct status=none) /tmp/e2 ||
	die "c2 does not hold its write"
u2=$(used v0)
assert_eq "$(sis_field v0 data_blocks)" $((d0 + 2048)) "data blocks after the clones' writes"
log "used after the writes: $u2 (+$((u2 - u1)) for 2048 new blocks)"
[ $((u2 - u1)) -ge 2048 ] && [ $((u2 - u1)) -le $((2048 + 64)) ] ||
	die "the writes took $((u2 - u1)) blocks, expected 2048 + map pages"

# sis stats: the saving is the pool's (pool_mapped / data_blocks), not the
# volume's mapped blocks against the pool's data blocks (negative here)
sis stats --json c2 >/tmp/j
sp=$(sed -n 's/.*"saving_percent": *\([-0-9.]*\).*/\1/p' /tmp/j)
log "sis stats c2: saving $sp%"
awk -v s="$sp" 'BEGIN { exit !(s > 50) }' || { cat /tmp/j; die "sis stats saving of c2: '$sp'"; }

# ---- K clones read cold: one copy of disk reads --------------------------
msg clone_volume 3 0
msg clone_volume 4 0
sis_create c3 "$D" $SZ volume 3
sis_create c4 "$D" $SZ volume 4
sync
commit
msg drop_cache
echo 3 >/proc/sys/vm/drop_caches
r0=$(read_sectors "$D")
for c in c1 c2 c3 c4; do
	cmp <(dd if=/dev/mapper/$c bs=1M skip=16 count=16 iflag=direct status=none) \
		<(dd if=/tmp/base bs=1M skip=16 count=16 status=none) ||
		die "$c: cold read of the shared 16 MiB"
done
r1=$(read_sectors "$D")
copy=$((16 * MB / 512))
log "4 clones read cold: $((r1 - r0)) sectors from disk (one copy: $copy)"
[ $((r1 - r0)) -lt $((copy * 3 / 2)) ] ||
	die "4 clones read $((r1 - r0)) sectors, more than 1.5 copies ($copy each)"
[ $((r1 - r0)) -ge $((copy / 2)) ] || die "cold read did not reach the disk"
sis_remove c3
sis_remove c4

# ---- dedup across volumes ------------------------------------------------
msg create_volume 5 $BLOCKS empty
sis_create v5 "$D" $SZ volume 5
assert_eq "$(sis_field v5 mapped)" 0 "mapped blocks of a new volume"
d1=$(sis_field v0 data_blocks)
u3=$(used v0)
dd if=/tmp/base of=/dev/mapper/v5 bs=1M count=16 oflag=direct status=none
commit
assert_eq "$(sis_field v5 data_blocks)" "$d1" "data blocks after writing known data to volume 5"
assert_eq "$(sis_field v5 mapped)" 4096 "mapped blocks of volume 5"
[ $(($(used v5) - u3)) -le 16 ] || die "known data on volume 5 took $(($(used v5) - u3)) blocks"
cmp <(dd if=/dev/mapper/v5 bs=1M count=16 iflag=direct status=none) \
	<(head -c $((16 * MB)) /tmp/base) || die "volume 5 data"

# grow volume 5 by message, then its device by a reload
msg set_volume_size 5 $((2 * BLOCKS))
expect_bad "0 $SZ sis $D 2 volume 5" "Volume is already in use by another device"
dmsetup reload v5 --table "0 $((2 * SZ)) sis $D 2 volume 5"
dmsetup resume v5
assert_eq "$(blockdev --getsz /dev/mapper/v5)" $((2 * SZ)) "size of v5 after the reload"
head -c $((4 * MB)) /dev/urandom >/tmp/w5
dd if=/tmp/w5 of=/dev/mapper/v5 bs=1M seek=$((SZ / 2048 + 1)) oflag=direct status=none
cmp <(dd if=/dev/mapper/v5 bs=1M skip=$((SZ / 2048 + 1)) count=4 iflag=direct status=none) \
	/tmp/w5 || die "data beyond the old size of volume 5"

# ---- delete ---------------------------------------------------------------
before=$(pool_state)
dmesg -C
msg delete_volume 1 2>/dev/null && die "deleted volume 1 while c1 has it open"
dmesg | grep -q "volume 1 is in use by device c1" || { dmesg | tail -5; die "no message for the refused delete"; }
assert_eq "$(pool_state)" "$before" "pool changed by the refused delete"
cmp <(dd if=/dev/mapper/c1 bs=1M count=32 iflag=direct status=none) /tmp/e1 ||
	die "c1 changed by the refused delete"

# count_exclusive shows in the volume's status
x2=$(msg count_exclusive 2)
assert_eq "$(sis_field c2 exclusive)" "$x2" "exclusive field of c2"
assert_eq "$x2" 1024 "exclusive blocks of c2 (its 4 MiB write)"

sis_remove c1
x1=$(msg count_exclusive 1)
assert_eq "$x1" 1024 "exclusive blocks of volume 1"
commit
u4=$(used v0)
d4=$(sis_field v0 data_blocks)
msg delete_volume 1
commit
u5=$(used v0)
log "delete_volume 1: used $u4 -> $u5, count_exclusive said $x1 data blocks"
assert_eq "$(sis_field v0 data_blocks)" $((d4 - x1)) "data blocks after delete"
[ $((u4 - u5)) -ge "$x1" ] && [ $((u4 - u5)) -le $((x1 + 64)) ] ||
	die "delete freed $((u4 - u5)) blocks, count_exclusive said $x1 (+ map pages)"
cmp <(dd if=/dev/mapper/c2 bs=1M count=32 iflag=direct status=none) /tmp/e2 ||
	die "c2 changed by deleting volume 1"
cmp <(dd if=/dev/mapper/v0 bs=1M count=32 iflag=direct status=none) /tmp/base ||
	die "the origin changed by deleting volume 1"
expect_bad "0 $SZ sis $D 2 volume 1" "Volume does not exist"

# ---- bad messages ----------------------------------------------------------
expect_bad_msg "usage: create_volume" create_volume
expect_bad_msg "usage: create_volume" create_volume 7 100 a b
expect_bad_msg "invalid volume id" create_volume x 100
expect_bad_msg "invalid volume id" create_volume 16777216 100
expect_bad_msg "invalid volume id" clone_volume 7 x
expect_bad_msg "invalid size" create_volume 7 0
expect_bad_msg "invalid size" create_volume 7 abc
expect_bad_msg "name longer than 31 bytes" create_volume 7 100 abcdefghijklmnopqrstuvwxyz0123456
expect_bad_msg "the volume id is taken" create_volume 2 100
expect_bad_msg "the volume id is taken" clone_volume 2 0
expect_bad_msg "no such volume" clone_volume 7 99
expect_bad_msg "no such volume" delete_volume 99
expect_bad_msg "no such volume" set_volume_size 99 100
expect_bad_msg "no such volume" count_exclusive 99
expect_bad_msg "cannot shrink a volume" set_volume_size 2 1
expect_bad_msg "usage: delete_volume" delete_volume
expect_bad_msg "unknown message" no_such_message

# the volume table holds 40 volumes
n=$(sis_field v0 volumes)
for i in $(seq 100 $((100 + 40 - n - 1))); do
	msg create_volume "$i" 1000
done
assert_eq "$(sis_field v0 volumes)" 40 "volumes in a full table"
expect_bad_msg "the volume table is full (40 volumes)" create_volume 200 1000
expect_bad_msg "the volume table is full (40 volumes)" clone_volume 200 0
for i in $(seq 100 $((100 + 40 - n - 1))); do
	msg delete_volume "$i"
done
assert_eq "$(sis_field v0 volumes)" "$n" "volumes after deleting the extra ones"

# ---- reload of volume 0 ----------------------------------------------------
dmsetup reload v0 --table "0 $((SZ + 2048)) sis $D"
dmsetup resume v0
assert_eq "$(blockdev --getsz /dev/mapper/v0)" $((SZ + 2048)) "size of v0 after the reload"
cmp <(dd if=/dev/mapper/v0 bs=1M count=32 iflag=direct status=none) /tmp/base ||
	die "volume 0 data after the reload"
assert_eq "$(sis_field v0 volume)" 0 "volume of v0 after the reload"

# ---- everything persists; the pool checks clean ----------------------------
sis_remove c2
sis_remove v5
sis_remove v0
sis check "$D" >/tmp/check.log 2>&1 || { cat /tmp/check.log; die "sis check"; }
sis_create v0 "$D" $((SZ + 2048))
sis_create c2 "$D" $SZ volume 2
assert_eq "$(sis_field v0 volumes)" "$n" "volumes after reopening"
cmp <(dd if=/dev/mapper/c2 bs=1M count=32 iflag=direct status=none) /tmp/e2 ||
	die "c2 after reopening"
cmp <(dd if=/dev/mapper/v0 bs=1M count=32 iflag=direct status=none) /tmp/base ||
	die "v0 after reopening"

# ---- a pool event reaches every resumed device of the pool -------------------
events() { dmsetup info -c --noheadings -o events "$1" | tr -d ' '; }
sis_create v5 "$D" $((2 * SZ)) volume 5
e0=$(events v0)
e2=$(events c2)
e5=$(events v5)
dmsetup suspend v5
msg read_only
sleep 2
[ "$(events v0)" -gt "$e0" ] || die "no event on v0 for the read-only switch"
[ "$(events c2)" -gt "$e2" ] || die "no event on c2 for the read-only switch"
assert_eq "$(events v5)" "$e5" "events of the suspended v5"
assert_eq "$(sis_field c2 mode)" read-only "mode of c2 after read_only to v0"
dmsetup resume v5
sis_remove v5
sis_remove c2
sis_remove v0
check_dmesg
sis_pass "clones share data and space, K clones read one copy, delete frees the exclusive blocks"
