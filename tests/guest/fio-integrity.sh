#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 2G --disk 1G --mem 2048 --timeout 1500
#
# Data integrity under dedup with fio (issue 4), every job iodepth=32,
# numjobs=4, sequential and random:
#  1. verify=pattern with one fixed pattern: every block is the same, so the
#     whole device must share one data block; verified after write and again
#     after remove/create (--verify_only).
#  2. verify=pattern with %o and bs=4k: every block unique (fio repeats the
#     offset of the I/O unit through the unit, so bs must be the block size;
#     the block at offset 0 is all zeros); same checks.
#  3. dedupe_percentage 50 and 90 with a fixed randseed, written to dm-sis and
#     by the same job to a plain reference disk; compared byte for byte after
#     remove/create; the savings in `dmsetup status` match fio-dedupe's figure
#     on the same data within 2 percentage points.
#  4. unaligned 512-byte and 1536-byte random writes (read-modify-write) on
#     top of existing data, compared with the reference.
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D=$(disk 1)
R=$(disk 2)
S=/dev/mapper/fi
MB=256 # the region every job writes (4 jobs x 128 MiB)
SECT=$((MB * 2048))
sis_load

fio_run() { # fio args...: fails the test when fio reports an error
	fio --output-format=terse --terse-version=3 --group_reporting \
		--ioengine=libaio --direct=1 --iodepth=32 --numjobs=4 \
		--offset_increment=$((MB / 4))M --size=$((MB / 4))M "$@" >/tmp/fio.out 2>&1 ||
		{ cat /tmp/fio.out; die "fio $* failed"; }
}

recreate() {
	sis_remove fi
	sis_create fi "$D" "$SECT"
}

savings_pct() { # mapped data -> savings in tenths of a percent
	awk -v m="$1" -v d="$2" 'BEGIN { if (m == 0) print 0; else printf "%d\n", (1 - d / m) * 1000 + 0.5 }'
}

# ---- 1. one fixed pattern ----------------------------------------------
sis_create fi "$D" "$SECT"
for rw in write randwrite; do
	fio_run --name=fixed-$rw --filename=$S --rw=$rw --bs=64k \
		--verify=pattern --verify_pattern=0x5a17c0de --do_verify=1 --randseed=7
	sis_status fi
	assert_eq "$(sis_field fi mapped)" $((SECT / 8)) "fixed pattern ($rw): mapped"
	assert_eq "$(sis_field fi data_blocks)" 1 "fixed pattern ($rw): data blocks"
done
recreate
fio_run --name=fixed-reread --filename=$S --rw=read --bs=64k \
	--verify=pattern --verify_pattern=0x5a17c0de --verify_only=1
log "fixed pattern: ok"

# ---- 2. %o: every block unique ----------------------------------------
for rw in write randwrite; do
	fio_run --name=offs-$rw --filename=$S --rw=$rw --bs=4k \
		--verify=pattern --verify_pattern=%o --do_verify=1 --randseed=8
	sis_status fi
	d=$(sis_field fi data_blocks)
	[ "$d" -ge $((SECT / 8 - 16)) ] || die "%o pattern ($rw): only $d data blocks"
done
recreate
fio_run --name=offs-reread --filename=$S --rw=read --bs=4k \
	--verify=pattern --verify_pattern=%o --verify_only=1
log "offset pattern: ok"

# ---- 3. dedupe_percentage with a reference copy ------------------------
for pct in 50 90; do
	for rw in write randwrite; do
		sis_remove fi
		dd if=/dev/zero of="$D" bs=1M count=4 oflag=direct status=none # reformat
		sis_create fi "$D" "$SECT"
		for dev in $S $R; do
			fio_run --name=dd$pct-$rw --filename=$dev --rw=$rw --bs=128k \
				--dedupe_percentage=$pct --randseed=$((1000 + pct)) \
				--buffer_compress_percentage=0
		done
		recreate
		sis_status fi
		cmp <(head -c $((MB << 20)) $R) $S || die "dedupe $pct $rw: differs from reference"
		m=$(sis_field fi mapped)
		d=$(sis_field fi data_blocks)
		ours=$(savings_pct "$m" "$d")
		theirs=$(fio-dedupe -b 4096 -o 1 $S 2>&1 | sed -n 's/.*dedupe_percentage=\([0-9.]*\).*/\1/p')
		[ -n "$theirs" ] || die "fio-dedupe printed no figure"
		theirs=$(awk -v t="$theirs" 'BEGIN { printf "%d\n", t * 10 + 0.5 }')
		log "dedupe $pct $rw: sis savings $((ours / 10)).$((ours % 10))%, fio-dedupe $((theirs / 10)).$((theirs % 10))%"
		diff=$((ours - theirs))
		[ ${diff#-} -le 20 ] || die "dedupe $pct $rw: savings differ by more than 2 points"
	done
done

# ---- 4. unaligned writes on top (read-modify-write) ---------------------
for bs in 512 1536; do
	for dev in $S $R; do
		fio_run --name=unal$bs --filename=$dev --rw=randwrite --bs=$bs \
			--size=4M --offset_increment=$((MB / 4))M --randseed=$((77 + bs)) --refill_buffers
	done
done
recreate
cmp <(head -c $((MB << 20)) $R) $S || die "unaligned writes: differs from reference"
log "unaligned: ok"
sis_status fi
sis_remove fi
check_dmesg
sis_pass
