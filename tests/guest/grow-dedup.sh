#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --mem 1024 --timeout 600
#
# Growth keeps dedup (issue 12 item 3).  dm-sis sits on a 192 MiB dm-linear
# piece of the disk with the smallest metadata cache (metadata_cache_mb=1:
# 256 pages, so the record index C holds 64 refcount pages, about 63 MiB of
# data).  48 MiB of data A is written, then 100 MiB of other data F, so A's
# refcount pages have left C and A can only be found through the hook table
# H.  The backing device then grows 4x (noflush suspend, reload of the
# linear, resume: dm-sis grows its refcounts, free-space summary and H).
# Afterwards a copy of A must take (almost) no new data blocks, new data B
# and a copy of it must take one copy's worth, and everything reads back;
# `sis check` is clean.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1)
S=/dev/mapper/s
MIB=256 # 4 KiB blocks per MiB

rmmod dm-sis 2>/dev/null || true
modprobe dm-sis metadata_cache_mb=1 || die "modprobe dm-sis metadata_cache_mb=1"
dmsetup create lin --table "0 $((192 * 2048)) linear $D 0"
sis_create s /dev/mapper/lin $((1024 * 2048))

head -c 48M /dev/urandom >/tmp/a
head -c 100M /dev/urandom >/tmp/f
head -c 48M /dev/urandom >/tmp/b
put() { dd if="$1" of=$S bs=1M seek="$2" oflag=direct conv=notrunc status=none || die "write $1 at $2 MiB"; }
data() { sis_field s data_blocks; }

put /tmp/a 0
put /tmp/f 64
sync
total0=$(sis_field s used_total | cut -d/ -f2)
d0=$(data)
log "before the grow: $(sis_status s)"

dmsetup suspend --noflush s
dmsetup suspend lin
dmsetup load lin --table "0 $((768 * 2048)) linear $D 0"
dmsetup resume lin
dmsetup resume s
total1=$(sis_field s used_total | cut -d/ -f2)
log "after the grow: $(sis_status s)"
[ "$total1" -gt $((total0 * 3)) ] || die "total blocks $total0 -> $total1: the device did not grow"

put /tmp/a 256
sync
d1=$(data)
log "copy of A after the grow: data blocks $d0 -> $d1"
[ $((d1 - d0)) -le $((48 * MIB / 20)) ] ||
	die "a copy of old data took $((d1 - d0)) new blocks of $((48 * MIB)) (more than 5%)"

put /tmp/b 320
put /tmp/b 384
sync
d2=$(data)
log "B and a copy of B: data blocks $d1 -> $d2"
[ $((d2 - d1)) -ge $((48 * MIB)) ] || die "B took $((d2 - d1)) blocks, less than its size"
[ $((d2 - d1)) -le $((48 * MIB + 48 * MIB / 20)) ] ||
	die "B and its copy took $((d2 - d1)) new blocks (one copy is $((48 * MIB)))"

for x in "a 0" "f 64" "a 256" "b 320" "b 384"; do
	set -- $x
	n=$(stat -c %s "/tmp/$1")
	cmp -n "$n" "/tmp/$1" <(dd if=$S bs=1M skip="$2" count=$((n >> 20)) iflag=direct status=none) ||
		die "data $1 at $2 MiB does not read back"
done
sis_remove s
sis check /dev/mapper/lin >/tmp/check.log 2>&1 || { cat /tmp/check.log; die "sis check after the grow"; }
dmsetup remove lin
sis_pass "after a 4x grow, old data is still found (copy took $((d1 - d0)) blocks of $((48 * MIB))) and new data dedups"
