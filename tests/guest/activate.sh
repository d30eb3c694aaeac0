#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 128M --disk 128M --disk 64M --timeout 300
#
# Activation at boot without systemd: /etc/sistab names devices by dm-sis
# UUID and by path, `sis activate --all` creates every entry except noauto
# ones (logical size from the metadata, options from the entry), again is a
# no-op, `sis deactivate --all` removes them, data survives the cycle; `sis
# probe` finds the superblocks and their UUID (the one `sis dump` prints).
set -euo pipefail
. "${SIS_TESTS:-$(dirname "$0")/..}/guest/lib.sh"

D1=$(disk 1) D2=$(disk 2) D3=$(disk 3)
command -v sis >/dev/null || die "sis is not installed in the guest"
sis_load

sis format "$D1" --logical-size 512M >/dev/null
sis format "$D2" --logical-size 256M >/dev/null
sis format "$D3" >/dev/null
U1=$(sis dump "$D1" | awk '$1 == "uuid" {print $2}')
[ -n "$U1" ] || die "sis dump prints no uuid"
sis probe "$D1" | grep -qx "$D1 UUID=$U1" || die "probe $D1: $(sis probe "$D1")"
[ "$(sis probe --uuid "$U1")" = "$D1" ] || die "probe --uuid: $(sis probe --uuid "$U1")"
[ "$(sis probe | wc -l)" = 3 ] || die "probe of all devices: $(sis probe)"
sis probe /dev/vda >/dev/null && die "probe found dm-sis on the root disk"

cat >/etc/sistab <<TAB
# test table
s0   UUID=$U1   commit_interval=5,low_water_mark=100
s1   $D2        defaults   # by path
s2   $D3        noauto,read_only
TAB

sis activate --all
dmsetup table s0 | grep -qE "^0 1048576 sis [0-9:]+ 4 commit_interval 5 low_water_mark 100$" ||
	die "s0 table: $(dmsetup table s0)"
dmsetup table s1 | grep -qE "^0 524288 sis [0-9:]+$" || die "s1 table: $(dmsetup table s1)"
dmsetup info s2 >/dev/null 2>&1 && die "noauto entry s2 was activated"
[ -b /dev/mapper/s0 ] && [ -b /dev/mapper/s1 ] || die "no /dev/mapper nodes"

# Again: nothing to do, exit 0.
out=$(sis activate --all) || die "second activate failed"
grep -q "s0: already active" <<<"$out" || die "second activate: $out"

head -c 1M /dev/urandom >/tmp/data
dd if=/tmp/data of=/dev/mapper/s0 bs=1M oflag=direct status=none
dd if=/tmp/data of=/dev/mapper/s1 bs=1M seek=3 oflag=direct status=none

# Named activation of the noauto entry.
sis activate s2
dmsetup table s2 | grep -qE " 1 read_only$" || die "s2 table: $(dmsetup table s2)"

sis deactivate --all
for n in s0 s1 s2; do
	dmsetup info "$n" >/dev/null 2>&1 && die "$n still active after deactivate --all"
done
sis deactivate --all || die "deactivate with nothing active"

sis activate --all
cmp -n 1048576 /tmp/data /dev/mapper/s0 || die "s0 data lost across deactivate/activate"
cmp -n 1048576 /tmp/data <(dd if=/dev/mapper/s1 bs=1M skip=3 count=1 status=none) ||
	die "s1 data lost"

# A bad entry fails (exit 1) without stopping the good ones; usage errors exit 2.
sis deactivate --all
printf 's0 UUID=%s\nbad UUID=00000000-0000-0000-0000-000000000000\ns1 %s bogus\n' "$U1" "$D2" >/etc/sistab
rc=0; sis activate --all || rc=$?
[ "$rc" = 1 ] || die "activate with bad entries: exit $rc"
dmsetup info s0 >/dev/null || die "good entry not activated next to bad ones"
dmsetup info s1 >/dev/null 2>&1 && die "entry with an unknown option activated"
rc=0; sis activate >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || die "activate without --all or NAME: exit $rc"
sis deactivate --all
sis_pass "sistab by UUID and path, noauto, idempotent, data kept"
