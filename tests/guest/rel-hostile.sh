#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 256M --disk 256M --mem 2048 --timeout 900
#
# Hostile input (item 5 of issue 7): several hundred random and malformed
# table lines (argument counts, numbers out of range, negative, overflow,
# unknown features, wrong and too-small devices, a foreign file system, a
# 4 KiB-sector device), random messages and status/table/info calls under
# I/O, and the same backing device used twice (a second mapped device; two
# targets of one table).  Each table is checked against a model of the
# grammar (tests/reliability/hostile.py); an accepted table must then write
# and read back a block; nothing may oops (vm-run fails the run on any
# kernel splat).
#
# What it catches: a constructor that accepts a bad line (e.g. a wrong
# feature count, commit_interval 0, a length that is not a multiple of
# 4 KiB), one that refuses a good line, a crash or WARN on odd input, a
# message that is silently accepted, a status line with a missing field, and
# two views of one backing device that are not coherent (silent wrong data).
# Deliberate check of the checker: the model is also run on a line known to
# be bad ("0 12 sis DEV": 12 sectors) and must expect a rejection.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"
REL=${SIS_TESTS:-$(dirname "$0")/..}/reliability
D1=$(disk 1) D2=$(disk 2)
SEED=${1:-$(( $(date +%s) % 100000 ))}
COUNT=${COUNT:-$([ -n "${SIS_TEST_LONG:-}" ] && echo 2000 || echo 120)}
log "seed $SEED, $COUNT tables (reproduce: rel-hostile.sh $SEED)"
sis_load

# small and odd devices (slices of D2's tail so D2's head stays blank)
dmsetup create tiny1 --table "0 8 linear $D2 $((400 * 1024))"
dmsetup create tiny2 --table "0 16 linear $D2 $((401 * 1024))"
dmsetup create small3 --table "0 6144 linear $D2 $((402 * 1024))"
dmsetup create small4 --table "0 8192 linear $D2 $((410 * 1024))"
dmsetup create foreign --table "0 131072 linear $D2 $((300 * 1024))"
dmsetup mknodes
mkfs.ext4 -q -F /dev/mapper/foreign </dev/null
modprobe loop 2>/dev/null || true
truncate -s 64M /tmp/big.img
BIG=$(losetup --show -f -b 4096 /tmp/big.img)
log "4 KiB-sector device $BIG: $(blockdev --getss "$BIG")"

python3 "$REL/hostile.py" --seed "$SEED" --count "$COUNT" --dev "$D1" \
	--small /dev/mapper/tiny1 /dev/mapper/tiny2 /dev/mapper/small3 /dev/mapper/small4 \
	--foreign /dev/mapper/foreign --bigsector "$BIG" >/tmp/hostile.out 2>&1 || {
	grep MISMATCH /tmp/hostile.out
	GRAMMAR="table lines not handled as the grammar says"
	log "FAIL: $GRAMMAR"
}
tail -n 1 /tmp/hostile.out
check_dmesg

# ---- read_only on a blank device must not write (dm-thin does not format a
# read-only pool) ---------------------------------------------------------------
dmsetup create roblank --table "0 131072 linear $D2 0"
dmsetup mknodes roblank
if dmsetup create ro --table "0 131072 sis /dev/mapper/roblank 1 read_only" 2>/dev/null; then
	sis_remove ro
	if cmp -s <(dd if=/dev/mapper/roblank bs=4096 count=2 iflag=direct status=none) <(head -c 8192 /dev/zero); then
		log "read_only table on a blank device: accepted, nothing written"
	else
		ROFMT="a read_only table on a blank device was accepted and formatted it (wrote superblocks)"
		log "FAIL: $ROFMT"
	fi
else
	log "read_only table on a blank device: refused"
fi
dd if=/dev/zero of=/dev/mapper/roblank bs=1M count=1 oflag=direct status=none
sis_remove roblank

# ---- messages and status under I/O ----------------------------------------
L=$((1 << 20))
dmsetup create mm --table "0 $L sis $D2 2 commit_interval 2"
dmsetup mknodes mm
( while :; do dd if=/dev/urandom of=/dev/mapper/mm bs=64k count=4 seek=$((RANDOM % 512)) \
	oflag=direct status=none 2>/dev/null || true; sleep 0.2; done ) &
IOPID=$!
good=(reset_stats drop_cache commit RESET_STATS Commit Drop_Cache)
badm=(foo "commit now" "reset_stats 1" 1 -1 "" "read_only x" "$(head -c 3000 /dev/zero | tr '\0' x)"
	$'commit\x01' "commit;" "drop cache" "%s%s%n")
RANDOM=$SEED
nm=0
NMSG=${NMSG:-$([ -n "${SIS_TEST_LONG:-}" ] && echo 600 || echo 30)}
for i in $(seq 1 "$NMSG"); do
	if [ $((RANDOM % 2)) = 0 ]; then
		m=${good[$((RANDOM % ${#good[@]}))]}
		# shellcheck disable=SC2086
		dmsetup message mm 0 $m >/dev/null 2>&1 || die "valid message '$m' rejected"
	else
		m=${badm[$((RANDOM % ${#badm[@]}))]}
		# shellcheck disable=SC2086
		if dmsetup message mm 0 $m >/dev/null 2>&1; then
			die "bad message '${m:0:40}' accepted"
		fi
	fi
	nm=$((nm + 1))
	st=$(dmsetup status mm)
	nf=$(echo "$st" | wc -w)
	# <start> <len> sis, then one word per field (tests/guest/lib.sh SIS_FIELDS)
	[ "$nf" = $((3 + ${#SIS_FIELDS[@]})) ] || die "status has $nf words: $st"
	case $(echo "$st" | awk '{print $4}') in write | read-only | out-of-space | fail) ;;
	*) die "bad mode in status: $st" ;; esac
	if [ $((i % 5)) = 0 ]; then
		dmsetup table mm >/dev/null
		dmsetup info mm >/dev/null
		dmsetup status --target sis >/dev/null
		dmsetup ls --tree >/dev/null
		dmsetup measure mm >/dev/null 2>&1 || true
	fi
done
# messages to sectors outside the device must be refused by dm itself
dmsetup message mm $((L + 8)) commit 2>/dev/null && die "message beyond the device accepted"
kill "$IOPID"
wait "$IOPID" 2>/dev/null || true
log "$nm messages and status rounds under I/O: ok"

# ---- the same backing device twice -------------------------------------------
blk=$(mktemp)
head -c 4096 /dev/urandom >"$blk"
dd if="$blk" of=/dev/mapper/mm bs=4096 seek=7 oflag=direct status=none
if dmsetup create mm2 --table "0 $L sis $D2" 2>/tmp/err2; then
	dmsetup mknodes mm2
	cmp <(dd if=/dev/mapper/mm2 bs=4096 skip=7 count=1 iflag=direct status=none) "$blk" ||
		die "second device on the same backing device sees other data than the first"
	log "a second device on the same backing device: accepted, coherent"
	sis_remove mm2
else
	log "a second device on the same backing device: refused ($(tail -n1 /tmp/err2))"
fi
sis_remove mm
if dmsetup create dup --table "0 $L sis $D2
$L $L sis $D2" 2>/tmp/err3; then
	dmsetup mknodes dup
	head -c 4096 /dev/urandom >/tmp/b2
	dd if="$blk" of=/dev/mapper/dup bs=4096 seek=0 oflag=direct status=none
	dd if=/tmp/b2 of=/dev/mapper/dup bs=512 seek=$L oflag=direct status=none
	if cmp -s <(dd if=/dev/mapper/dup bs=4096 count=1 iflag=direct status=none) "$blk"; then
		log "two targets of one table on one backing device: accepted, not aliased"
	else
		ALIAS="two targets of one table on one backing device alias each other: writing sector $L changed sector 0 (silent wrong data)"
		log "FAIL: $ALIAS"
	fi
	sis_remove dup
else
	log "two targets of one table on one backing device: refused ($(tail -n1 /tmp/err3))"
fi

# the checker checks: a line known to be bad must be rejected by the kernel
dmsetup create bad --table "0 12 sis $D2" 2>/dev/null && die "12-sector table accepted"
dmsetup remove small3 2>/dev/null || true
for d in tiny1 tiny2 small4 foreign; do sis_remove $d; done
losetup -d "$BIG"
check_dmesg
[ -z "${GRAMMAR:-}${ALIAS:-}${ROFMT:-}" ] || die "${GRAMMAR:-} ${ALIAS:-} ${ROFMT:-}"
sis_pass "$(tail -n 1 /tmp/hostile.out); $nm messages"
