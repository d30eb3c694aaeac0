#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 2G --mem 2048 --timeout 1800
#
# `make demo`: the end-to-end story in the guest.  For fio workloads with
# dedupe_percentage 0, 50 and 90: dm-sis over a blank disk, mkfs.ext4,
# mount, fio writes a file, read it back cold; the same on dm-linear over the
# same disk as the baseline.  Prints a table: logical written, physical
# data written, dedup ratio, savings against what fio intended, write and
# read throughput against dm-linear, shared-cache hit rate.
# DEMO_MB (default 256) sets the file size.
# Then clones (a pool of volumes): an ext4 volume holding a copy of the
# guest's /usr/lib, K (DEMO_CLONES, default 4) instant clones as their own
# devices, the same files read cold through every clone (disk reads: one
# copy), a different small file written to each (space: base + changes),
# and one clone deleted (frees only what it alone held).
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")}/guest/lib.sh"

D=$(disk 1)
MB=${DEMO_MB:-256}
M=/mnt/demo
SECT=$((2 << 21)) # 2 GiB
mkdir -p $M
sis_load

fio_bw() { # rw pct file -> KiB/s
	fio --name=demo --filename="$3" --rw="$1" --bs=128k --size=${MB}M \
		--ioengine=libaio --direct=1 --iodepth=16 --dedupe_percentage="$2" \
		--randseed=$((4242 + $2)) --buffer_compress_percentage=0 \
		--output-format=terse --terse-version=3 >/tmp/demo.fio 2>&1 ||
		{ cat /tmp/demo.fio >&2; die "fio $1 $2 failed"; }
	if [ "$1" = read ]; then
		cut -d';' -f7 /tmp/demo.fio | tail -n1
	else
		cut -d';' -f48 /tmp/demo.fio | tail -n1
	fi
}

run_on() { # dev pct -> "wbw rbw"
	mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 "$1" </dev/null
	mount "$1" $M
	local w r
	w=$(fio_bw write "$2" $M/data)
	sync
	echo 3 >/proc/sys/vm/drop_caches
	r=$(fio_bw read "$2" $M/data)
	umount $M
	echo "$w $r"
}

rows=()
for pct in 0 50 90; do
	log "dedupe_percentage=$pct: dm-linear"
	dd if=/dev/zero of="$D" bs=1M count=8 oflag=direct status=none
	dmsetup create demolin --table "0 $SECT linear $D 0"
	dmsetup mknodes demolin
	read -r lw lr < <(run_on /dev/mapper/demolin $pct)
	dmsetup remove demolin

	log "dedupe_percentage=$pct: dm-sis"
	dd if=/dev/zero of="$D" bs=1M count=8 oflag=direct status=none
	sis_create demo "$D" $SECT
	mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/demo </dev/null
	mount /dev/mapper/demo $M
	dmsetup message demo 0 reset_stats
	sw=$(fio_bw write $pct $M/data)
	sync
	dmsetup message demo 0 commit
	written=$(sis_field demo written)
	new=$(sis_field demo new_data)
	ratio=$(sis_field demo ratio)
	echo 3 >/proc/sys/vm/drop_caches
	dmsetup message demo 0 drop_cache
	dmsetup message demo 0 reset_stats
	sr=$(fio_bw read $pct $M/data)
	hits=$(sis_field demo cache_hits)
	miss=$(sis_field demo cache_misses)
	umount $M
	sis_remove demo
	rows+=("$(awk -v p=$pct -v w="$written" -v n="$new" -v r="$ratio" \
		-v sw="$sw" -v lw="$lw" -v sr="$sr" -v lr="$lr" -v h="$hits" -v m="$miss" 'BEGIN {
		sav = w ? 100 * (1 - n / w) : 0
		printf "%5d%%  %9.1f  %9.1f  %6s  %6.1f%%  %7.1f  %6.2fx  %7.1f  %6.2fx  %5.1f%%",
			p, w / 1048576, n / 1048576, r, sav, sw / 1024, lw ? sw / lw : 0,
			sr / 1024, lr ? sr / lr : 0, (h + m) ? 100 * h / (h + m) : 0 }')")
done

echo
echo "dm-sis demo: ext4 on dm-sis, fio ${MB} MiB file, bs 128k, iodepth 16 ($(uname -r))"
echo " fio     logical   physical   ratio  savings  write    vs      read     vs      cache"
echo " dedupe  MiB       new MiB    (dev)  (fio)    MiB/s    linear  MiB/s    linear  hits"
for r in "${rows[@]}"; do echo " $r"; done
echo "(savings = 1 - new data / logical written during the fio run, to compare with fio's"
echo " dedupe_percentage; ratio = mapped / data blocks of the whole device, ext4 metadata included;"
echo " cache hits = shared-cache hit rate of the cold read-back)"

# ---- clones -------------------------------------------------------------
K=${DEMO_CLONES:-4}
log "clones: base volume with /usr/lib, $K clones"
dd if=/dev/zero of="$D" bs=1M count=8 oflag=direct status=none
LS=$((1 << 21))	# 1 GiB per volume
sis_create base "$D" $LS
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/base </dev/null
mount /dev/mapper/base $M
cp -a /usr/lib $M/lib 2>/dev/null || true
tree_mb=$(du -sm $M/lib | cut -f1)
umount $M
dmsetup message base 0 commit
used0=$(sis_field base used_total | cut -d/ -f1)
dmsetup suspend base
t0=$(date +%s%N)
for i in $(seq 1 "$K"); do
	dmsetup message base 0 clone_volume "$i" 0 "clone$i"
done
t1=$(date +%s%N)
dmsetup resume base
used1=$(sis_field base used_total | cut -d/ -f1)
for i in $(seq 1 "$K"); do
	dmsetup create "clone$i" --table "0 $LS sis $D 2 volume $i"
	dmsetup mknodes "clone$i"
	mkdir -p "$M$i"
	mount -o ro,noload "/dev/mapper/clone$i" "$M$i"
done
echo 3 >/proc/sys/vm/drop_caches
dmsetup message base 0 drop_cache
r0=$(read_sectors "$D")
t2=$(date +%s%N)
for i in $(seq 1 "$K"); do
	find "$M$i/lib" -type f -size -4M -print0 | xargs -0 cat >/dev/null 2>&1 || true
done
t3=$(date +%s%N)
read_mb=$(( ($(read_sectors "$D") - r0) / 2048 ))
pc=$(sis_field base cache_blocks)
for i in $(seq 1 "$K"); do
	umount "$M$i"
	mount "/dev/mapper/clone$i" "$M$i"
	head -c 1M /dev/urandom >"$M$i/change-$i"
	umount "$M$i"
done
dmsetup message base 0 commit
used2=$(sis_field base used_total | cut -d/ -f1)
dmsetup message base 0 count_exclusive "$K"
excl=$(dmsetup status "clone$K" | awk '{print $(4 + 18)}')
sis_remove "clone$K"
dmsetup message base 0 delete_volume "$K"
used3=$(sis_field base used_total | cut -d/ -f1)
for i in $(seq 1 $((K - 1))); do sis_remove "clone$i"; done
sis_remove base
echo
echo "dm-sis clones: ext4 volume with /usr/lib ($tree_mb MiB of files), $K clones, one pool"
awk -v u0="$used0" -v u1="$used1" -v u2="$used2" -v u3="$used3" -v k="$K" \
	-v tc="$(( (t1 - t0) / 1000000 ))" -v tr="$(( (t3 - t2) / 1000000 ))" \
	-v rm="$read_mb" -v tm="$tree_mb" -v pc="$pc" -v ex="$excl" 'BEGIN {
	printf " clone %d volumes:               %d ms (no data copied: used %.1f -> %.1f MiB)\n",
		k, tc, u0 / 256, u1 / 256
	printf " cold read of the tree, %d clones: %d ms, %d MiB read from disk for %d x %d MiB of files\n",
		k, tr, rm, k, tm
	printf " shared cache after the reads:     %.1f MiB (one copy for all clones)\n", pc / 256
	printf " after 1 MiB written to each:      used %.1f MiB (+%.1f MiB)\n", u2 / 256, (u2 - u1) / 256
	printf " clone %d held exclusively:        %d blocks; after deleting it used %.1f MiB\n",
		k, ex, u3 / 256 }'
check_dmesg
