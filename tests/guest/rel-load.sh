#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --disk 1G --mem 2048 --timeout 1200
#
# Concurrency and load (item 6 of issue 7), for $RUNTIME seconds (75; 600
# with SIS_TEST_LONG=1), all at once on one dm-sis device (2 GiB logical on
# 1 GiB):
#   A  fio randrw, numjobs=4, iodepth=32, verify=pattern with one shared
#      pattern (every block dedupes against every other, across jobs),
#      online verification (verify_backlog);
#   T  trims mixed in (tests/reliability/blkpat.py churn; fio 3.33 asserts
#      on trim_percentage with randrw): random discards, writes of A's
#      pattern block (sharing A's physical block while A runs), unique
#      writes and reads checked online against a model of every block;
#   B  fio randwrite, numjobs=4, iodepth=32, dedupe_percentage=60
#      (working_set), fixed seeds: the same jobs written to a plain reference
#      disk first, then compared byte for byte, with random discards applied
#      to both (zeroout on the reference);
#   C  suspend/resume, table reloads that change features
#      (commit_interval, skip_zero_detection, no_discard_passdown), commit
#      and drop_cache messages, in a loop.
# Then B is compared with the reference, the device removed, `sis check`
# must be clean, the device created again and B compared once more.
#
# What it catches: a lost or misdirected write under concurrency (a block
# mapped to another block's data: B's comparison; A's pattern check cannot
# see that, all its blocks are equal), a duplicate of in-flight data mapped
# before its data is written, a discard racing a write, a reload or suspend
# that drops queued bios or skips a commit, refcount leaks or
# under-counts (sis check).  Deliberate-fault check of the comparison: one
# byte of the reference is changed after the run and cmp must notice.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
D=$(disk 1) REF=$(disk 2)
RUNTIME=${RUNTIME:-$([ -n "${SIS_TEST_LONG:-}" ] && echo 600 || echo 45)}
SEED=${1:-$(( $(date +%s) % 100000 ))}
L=$((4096 * 1024)) # 2 GiB
BOFF=$((512 << 20)) BJOB=$((24 << 20))
log "runtime ${RUNTIME}s seed $SEED"
sis_load

fio_b() { # filename
	fio --name=b --filename="$1" --rw=randwrite --bsrange=4k-64k \
		--numjobs=4 --iodepth=32 --ioengine=libaio --direct=1 --size=$BJOB \
		--offset=$BOFF --offset_increment=$BJOB --dedupe_percentage=60 \
		--dedupe_mode=working_set --dedupe_working_set_percentage=30 \
		--randseed="$SEED" --group_reporting --eta=never --output=/tmp/fio-b.out
}
fio_b "$REF" || die "fio B on the reference disk"

sis_create s "$D" $L
S=/dev/mapper/s
fio --name=a --filename=$S --rw=randrw --rwmixread=40 --bs=4k --numjobs=4 --iodepth=32 \
	--ioengine=libaio --direct=1 --size=48M --offset_increment=64M --time_based \
	--runtime="$RUNTIME" --verify=pattern --verify_pattern=0x5a17c3e1 --verify_backlog=256 \
	--verify_fatal=1 --group_reporting --eta=never --output=/tmp/fio-a.out &
APID=$!
( sleep 5; fio_b $S ) &
BPID=$!
python3 "${SIS_TESTS:-$(dirname "$0")/..}/reliability/blkpat.py" churn $S $((320 * 256)) 16384 "$SEED" \
	--seconds $((RUNTIME - 5)) --pattern 5a17c3e1 >/tmp/churn.out 2>&1 &
TPID=$!

# C: control-plane churn until A ends
feats=("" "2 commit_interval 3" "1 skip_zero_detection" "1 no_discard_passdown"
	"3 no_discard_passdown commit_interval 1")
i=0
nsus=0 nrel=0
while kill -0 $APID 2>/dev/null; do
	i=$((i + 1))
	case $((i % 4)) in
	0 | 2)
		dmsetup suspend s && dmsetup resume s || die "suspend/resume $i"
		nsus=$((nsus + 1))
		;;
	1)
		f=${feats[$((i % ${#feats[@]}))]}
		dmsetup load s --table "0 $L sis $D${f:+ $f}" || die "reload '$f' refused"
		dmsetup suspend s && dmsetup resume s || die "resume after reload '$f'"
		nrel=$((nrel + 1))
		;;
	3)
		dmsetup message s 0 commit || die "commit message"
		dmsetup message s 0 drop_cache
		;;
	esac
	[ "$(sis_field s mode)" = write ] || die "mode $(sis_status s)"
	sleep 0.5
done
rc=0
wait $APID || rc=$?
[ "$rc" = 0 ] || { cat /tmp/fio-a.out; die "fio A (pattern verify) failed: $rc"; }
wait $BPID || die "fio B failed"
wait $TPID || { cat /tmp/churn.out; die "trim/write churn: data differs from the model"; }
cat /tmp/churn.out
grep -E 'err=|verify|READ:|WRITE:|TRIM' /tmp/fio-a.out | sed 's/^/[fio A] /' | head -n 8
log "control loop: $nsus suspend/resume, $nrel reloads; $(sis_status s)"

# random discards on B's region: discard on dm-sis, zeroout on the reference
RANDOM=$SEED
for j in $(seq 1 20); do
	off=$((BOFF + (RANDOM % (4 * BJOB / 65536)) * 65536))
	len=$(((1 + RANDOM % 16) * 4096))
	blkdiscard -o $off -l $len $S
	blkdiscard -z -o $off -l $len "$REF"
done
cmp_b() {
	cmp <(dd if=$S bs=1M skip=$((BOFF >> 20)) count=$((4 * BJOB >> 20)) iflag=direct status=none) \
		<(dd if="$REF" bs=1M skip=$((BOFF >> 20)) count=$((4 * BJOB >> 20)) iflag=direct status=none)
}
cmp_b || die "B differs from the reference after the load"
sis_remove s
rc=0
sis check "$D" || rc=$?
[ "$rc" = 0 ] || die "sis check after the load: exit $rc"
sis_create s "$D" $L
drop_caches
cmp_b || die "B differs from the reference after remove/create"
# the comparison can fail: change one byte of the reference
python3 -c "
import os; fd = os.open('$REF', os.O_RDWR); o = $BOFF + 12345
b = os.pread(fd, 1, o); os.pwrite(fd, bytes([b[0] ^ 0xff]), o); os.fsync(fd)"
blockdev --flushbufs "$REF"
if cmp_b >/dev/null 2>&1; then die "negative control: cmp missed a changed byte"; fi
sis_remove s
check_dmesg
sis_pass "${RUNTIME}s: A pattern verified, trim churn matches its model, B identical to reference, $nsus suspends, $nrel reloads"
