#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 256M --mem 1024 --timeout 600
#
# Out of space, then grow the backing device (issue 10, item 8).  dm-sis
# (256 MiB logical) sits on a 24 MiB dm-linear piece of the disk, without
# error_if_no_space, so a write that finds no space waits for it.  Such a
# write is in flight when the device is suspended with --noflush to grow the
# backing device: the suspend must not wait for it (dm-thin's behaviour: the
# bio is requeued and retried after resume), and after the dm-linear grows
# and dm-sis resumes, the waiting write completes successfully and its data
# reads back.  All data acknowledged before reads back too, and `sis check`
# is clean.
#
# Checked on 0209ebd (before the fix): the suspend waited for the write's
# 60-second space timeout and the write then failed with ENOSPC ("FAIL:
# suspend took 58 s" / "the waiting write failed").
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
REL=${SIS_TESTS:-$(dirname "$0")/..}/reliability
D=$(disk 1)
P="python3 $REL/blkpat.py"
S=/dev/mapper/s
L=$((256 * 2048))
sis_load
dmsetup create lin --table "0 $((24 * 2048)) linear $D 0"
sis_create s /dev/mapper/lin $L

# fill with unique data in 1 MiB direct writes until one waits for space
$P write $S 0 256 1 >/dev/null || die "first region"
python3 - "$S" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
import mmap
buf = mmap.mmap(-1, 1 << 20)
off = 1 << 20
n = 0
while off < (200 << 20):
    buf.seek(0); buf.write(os.urandom(1 << 20))
    os.pwrite(fd, buf, off)
    off += 1 << 20
    n += 1
    open("/tmp/filled", "w").write(str(n))
PY
FILL=$!
# wait until the filler is stuck (the out-of-space mode shows)
for i in $(seq 1 120); do
	[ "$(sis_field s mode)" = out-of-space ] && break
	kill -0 $FILL 2>/dev/null || die "filler ended before the device was full"
	sleep 0.5
done
[ "$(sis_field s mode)" = out-of-space ] || die "device never ran out of space"
sleep 1
kill -0 $FILL 2>/dev/null || die "filler failed instead of waiting for space"
log "full after $(cat /tmp/filled) MiB; a write waits for space: $(sis_status s)"

# suspend (noflush) must not wait for the write that waits for space
t0=$(date +%s)
dmsetup suspend --noflush s
t1=$(date +%s)
log "suspend took $((t1 - t0)) s"
[ $((t1 - t0)) -lt 20 ] || die "suspend took $((t1 - t0)) s"
dmsetup suspend lin
dmsetup load lin --table "0 $((240 * 2048)) linear $D 0"
dmsetup resume lin
dmsetup resume s
wait $FILL || die "the waiting write failed after the backing device grew"
log "filler completed $(cat /tmp/filled) MiB after the grow: $(sis_status s)"
[ "$(cat /tmp/filled)" = 199 ] || die "filler wrote $(cat /tmp/filled) of 199 MiB"
[ "$(sis_field s mode)" = write ] || die "mode $(sis_field s mode) after the grow"
$P verify $S 0 256 1 >/dev/null || die "first region after the grow"
dmsetup message s 0 commit
sis_remove s
sis check /dev/mapper/lin >/tmp/check.log 2>&1 || { cat /tmp/check.log; die "sis check after the grow"; }
dmsetup remove lin
check_dmesg
sis_pass "a write waiting for space survived a noflush suspend and completed after the grow"
