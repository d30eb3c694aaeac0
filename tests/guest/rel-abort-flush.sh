#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 512M --mem 1024 --timeout 600
#
# After an aborted metadata transaction every FLUSH fails until reload
# (issue 10, item 1).  dm-sis runs over a dm table that can be switched to
# dm-flakey.  An ext4 file is overwritten with O_DIRECT (acknowledged, not
# yet committed: commit_interval 3600); then one metadata read fails during
# a READ of another region (the map page is not cached: drop_cache), which
# aborts the open transaction and loses the overwrite.  fdatasync() of the
# file must now fail (it is only a flush: the data was written with
# O_DIRECT), and so must every later flush, until the device is reloaded.
# After reload the file holds its old contents, which is what the failed
# fdatasync told the application.
#
# Checked on 0209ebd (before the fix): fdatasync returned 0 after the abort
# ("FAIL: fdatasync succeeded after an aborted transaction").
#
# ext4 is mounted with commit=3600,noinit_itable for the overwrite, and the
# pool's commit count must not move between it and the fault: jbd2's
# periodic commit (5 s) and the lazy inode table init send flushes, and on
# a slow host one committed the overwrite, which then rightly survived
# ("file is neither old").
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
REL=${SIS_TESTS:-$(dirname "$0")/..}/reliability
D=$(disk 1)
SZ=$(blockdev --getsz "$D")
L=$((480 * 2048))
S=/dev/mapper/s
sis_load
modprobe dm-flakey

dmsetup create fl --table "0 $SZ linear $D 0"
sis_create s /dev/mapper/fl $L commit_interval 3600

# a committed raw region far from the filesystem: its map pages are the
# ones the faulted read needs
dd if=/dev/urandom of=/tmp/far bs=1M count=4 status=none
dd if=/tmp/far of=$S bs=1M seek=400 oflag=direct status=none
DS=$(python3 "$REL/sisblocks.py" list /dev/mapper/fl | awk 'NR == 1 {print $NF}')
[ -n "$DS" ] && [ "$DS" -gt 2 ] || die "cannot read the data area start from the superblock"
MS=$((DS * 8))
mkfs.ext4 -q -F -b 4096 $S 256M </dev/null
mkdir -p /mnt/s
mount $S /mnt/s
dd if=/dev/urandom of=/mnt/s/b bs=1M count=1 status=none
sync
cp /mnt/s/b /tmp/b.old
umount /mnt/s
# reopen: recovery checkpoints, so every map page is clean and can be dropped
sis_remove s
sis_create s /dev/mapper/fl $L commit_interval 3600
# no flush from ext4 but fdatasync's: jbd2's periodic commit and the lazy
# inode table init each send one, which would commit the overwrite below
# (then the new contents are what survives, rightly)
mount -o commit=3600,noinit_itable $S /mnt/s

# overwrite in place with O_DIRECT: acknowledged by dm-sis, not committed
dd if=/dev/urandom of=/tmp/b.new bs=1M count=1 status=none
commits=$(sis_field s commits)
dd if=/tmp/b.new of=/mnt/s/b bs=1M oflag=direct conv=notrunc status=none
[ "$(sis_field s mode)" = write ] || die "not in write mode before the fault"

# one failed metadata read during a read: abort
dmsetup message s 0 drop_cache
[ "$(sis_field s commits)" = "$commits" ] ||
	die "a commit ran between the overwrite and the fault: nothing left to lose"
dmsetup suspend --nolockfs --noflush fl
# only the data area (map pages live there), so the rollback itself can
# read the superblock and journal: read-only with needs_check, not fail mode
dmsetup load fl --table "0 $MS linear $D 0
$MS $((SZ - MS)) flakey $D $MS 0 3600 1 error_reads"
dmsetup resume fl
if dd if=$S of=/dev/null bs=4k count=1 skip=$((400 * 256)) iflag=direct status=none 2>/dev/null; then
	die "the read through a failing map page succeeded"
fi
dmsetup suspend --nolockfs --noflush fl
dmsetup load fl --table "0 $SZ linear $D 0"
dmsetup resume fl
log "status after the fault: $(sis_status s)"
[ "$(sis_field s needs_check)" = needs_check ] || die "no needs_check after a metadata read error"
[ "$(sis_field s mode)" = read-only ] || die "mode $(sis_field s mode) after the abort, expected read-only"

# fdatasync of the overwritten file is a flush: it must fail now
python3 - <<'PY' || die "fdatasync succeeded after an aborted transaction"
import os, sys
fd = os.open("/mnt/s/b", os.O_RDONLY)
try:
    os.fdatasync(fd)
except OSError as e:
    print("fdatasync failed as it must:", e)
    sys.exit(0)
sys.exit(1)
PY
# and so does every later flush of the device
for i in 1 2; do
	if blockdev --flushbufs $S 2>/dev/null && python3 -c "
import os; fd = os.open('$S', os.O_WRONLY); os.fsync(fd)" 2>/dev/null; then
		die "flush $i of the device succeeded after the abort"
	fi
done
log "every flush fails after the abort"
umount /mnt/s 2>/dev/null || umount -l /mnt/s || true
sis_remove s

# reload (with repair, as the message says): the overwrite is gone, the old
# contents are there, and flushes work again
sis repair /dev/mapper/fl >/tmp/check.log 2>&1 ||
	{ cat /tmp/check.log; die "repair failed"; }
sis_create s /dev/mapper/fl $L
[ "$(sis_field s mode)" = write ] || die "not writable after repair and reload"
mount $S /mnt/s
if ! cmp -s /mnt/s/b /tmp/b.old; then
	cmp -s /mnt/s/b /tmp/b.new && die "file holds the uncommitted overwrite after the abort"
	die "file is neither old: the failed fdatasync lied"
fi
python3 -c "import os; fd = os.open('/mnt/s/b', os.O_RDWR); os.fsync(fd)" || die "fsync fails after reload"
cmp <(dd if=$S bs=1M skip=400 count=4 iflag=direct status=none) /tmp/far || die "far region damaged"
umount /mnt/s
sis_remove s
check_dmesg
sis_pass "flushes fail after an abort until reload; data as the flush said"
