# SPDX-License-Identifier: GPL-2.0
# tests/guest/lib.sh: helpers sourced by the dm-sis guest tests (not a test).
#
# Every helper fails the test (exit 1) with a message on error; a test
# script sets `set -euo pipefail`, sources this file, and calls sis_pass at
# the end.  Status fields are read by name (sis_field NAME FIELD) in the order
# fixed by include/sis-target.h.

SIS_TEST=${SIS_TEST:-$(basename "$0" .sh)}
SIS_FIELDS=(mode mapped used_total written new_data ratio zero_blocks cache_hits
	cache_misses cache_blocks commits needs_check data_blocks dedup_hits fast_reads index_ram
	volume exclusive volumes pool_mapped fast_writes metadata_ram)

log() { echo "[$SIS_TEST] $*"; }
die() {
	echo "[$SIS_TEST] FAIL: $*" >&2
	dmesg | tail -n 30 >&2 || true
	exit 1
}
sis_pass() { echo "[$SIS_TEST] PASS${1:+: $1}"; exit 0; }

# disk N: the Nth test disk (1 = /dev/vdb).
disk() { echo "${SIS_DISKS:-/dev/vdb}" | tr ' ,' '\n\n' | sed -n "${1}p"; }

sis_load() {
	modprobe dm-sis || die "modprobe dm-sis failed"
	dmsetup targets | grep -q '^sis ' || die "target sis not registered"
}

# sis_create NAME DEV SECTORS [FEATURE...]: create and make the node.
sis_create() {
	local name=$1 dev=$2 sectors=$3 feat=""
	shift 3
	[ $# -gt 0 ] && feat=" $# $*"
	dmsetup create "$name" --table "0 $sectors sis $dev$feat" ||
		die "dmsetup create $name failed: 0 $sectors sis $dev$feat"
	dmsetup mknodes "$name" 2>/dev/null || true
	[ -b "/dev/mapper/$name" ] || die "/dev/mapper/$name missing"
}

sis_remove() {
	local i
	for i in 1 2 3 4 5; do
		dmsetup remove "$1" 2>/dev/null && return 0
		sleep 1
	done
	die "dmsetup remove $1 failed"
}

# sis_field NAME FIELD: one field of the status line.
sis_field() {
	local st i
	st=$(dmsetup status "$1" | cut -d' ' -f4-)
	for i in "${!SIS_FIELDS[@]}"; do
		if [ "${SIS_FIELDS[$i]}" = "$2" ]; then
			echo "$st" | awk -v n=$((i + 1)) '{print $n}'
			return 0
		fi
	done
	die "unknown status field $2"
}

sis_status() { dmsetup status "$1"; }

# read_sectors DEV: sectors read so far from a whole disk (/sys/block/X/stat).
read_sectors() { awk '{print $3}' "/sys/block/$(basename "$1")/stat"; }
read_ios() { awk '{print $1}' "/sys/block/$(basename "$1")/stat"; }
write_sectors() { awk '{print $7}' "/sys/block/$(basename "$1")/stat"; }

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# assert_eq A B MSG
assert_eq() { [ "$1" = "$2" ] || die "$3: expected '$2', got '$1'"; }

# expect_bad "TABLE" "ERROR": `dmsetup create` of TABLE is refused, and the
# kernel logs "sis: ERROR" (the ti->error).
expect_bad() {
	dmesg -C
	if dmsetup create bad --table "$1" 2>/dev/null; then
		dmsetup remove bad
		die "accepted bad table: $1"
	fi
	dmsetup remove bad 2>/dev/null || true
	dmesg | grep -qF "sis: $2" || { dmesg | tail -5; die "no '$2' for: $1"; }
	log "rejected: $1 -> $2"
}

# check_dmesg: no kernel splat so far.
check_dmesg() {
	if dmesg | grep -E 'BUG:|Oops|WARNING: CPU|general protection|KASAN|UBSAN'; then
		die "kernel splat in dmesg"
	fi
}

# Reboots (scripts/vm-run --boots N): the script runs again in each boot with
# SIS_BOOT=1, 2, ... and the same disks.  sis_reboot ends this boot asking for
# the next one (exit status 100; the run fails if that is beyond --boots).
SIS_REBOOT_RC=100
sis_reboot() {
	log "reboot requested at the end of boot ${SIS_BOOT:-1}"
	sync
	exit "$SIS_REBOOT_RC"
}

# sis_state_save DEV DIR / sis_state_load DEV DIR: keep the files of DIR across
# a reboot as a tar written raw on DEV (a small spare --disk).
sis_state_save() {
	tar -C "$2" -cf - . | dd of="$1" bs=64k conv=fsync status=none || die "saving state to $1"
}
sis_state_load() {
	mkdir -p "$2" && tar -C "$2" -xf "$1" || die "no state on $1 (was it saved before the reboot?)"
}
