#!/bin/bash
# vm-run self-test: a script asks for a reboot by exiting with status 100;
# vm-run powers the guest off, boots it again on the same disks and runs the
# script again with SIS_BOOT=2, then 3 (SIS_BOOTS=3 from --boots 3).  Random
# data written to the blank --disk in boot 1 must read back identical in boots
# 2 and 3, each boot appends its number and boot_id to a log on the disk, and
# the last boot checks the log reads "1 2" with three different boot_ids (a
# real new kernel each time, not the same one running the script again).
# vm-run: --disk 64M --boots 3 --timeout 300
# expect: pass
set -euo pipefail
D=/dev/vdb
LOGOFF=$((32 << 20)) # the boot log lives at 32 MiB, the data at 1 MiB
id=$(cat /proc/sys/kernel/random/boot_id)
echo "boot ${SIS_BOOT:-unset} of at most ${SIS_BOOTS:-unset}, boot_id $id"
[ "${SIS_BOOTS:-}" = 3 ] || { echo "SIS_BOOTS is '${SIS_BOOTS:-}', not 3"; exit 1; }
readlog() { dd if=$D bs=4096 skip=$((LOGOFF / 4096)) count=1 status=none | tr -d '\0'; }
case ${SIS_BOOT:-} in
1)
	[ -z "$(readlog)" ] || { echo "the --disk is not blank in boot 1"; exit 1; }
	head -c $((4 << 20)) /dev/urandom >/tmp/data
	dd if=/tmp/data of=$D bs=1M seek=1 conv=fsync status=none
	# The data's checksum goes to sector 0, to be compared in later boots.
	md5sum </tmp/data | cut -d' ' -f1 | dd of=$D conv=fsync status=none
	;;
2 | 3)
	want=$(head -n1 $D | cut -c1-32)
	got=$(dd if=$D bs=1M skip=1 count=4 status=none | md5sum | cut -d' ' -f1)
	[ "$want" = "$got" ] || { echo "boot $SIS_BOOT: data written in boot 1 changed: $got, wanted $want"; exit 1; }
	echo "boot $SIS_BOOT: 4 MiB written in boot 1 read back intact"
	;;
*) echo "SIS_BOOT is '${SIS_BOOT:-}'"; exit 1 ;;
esac
log=$(readlog)
echo "boot log on the disk: ${log:-(empty)}"
if [ "$SIS_BOOT" = 3 ]; then
	[ "$(echo "$log" | awk '{printf "%s ", $1}')" = "1 2 " ] || { echo "wrong boot log"; exit 1; }
	[ "$( { echo "$log"; echo "3 $id"; } | awk '{print $2}' | sort -u | wc -l)" = 3 ] ||
		{ echo "boot_ids repeat: not three real boots"; exit 1; }
	echo "three boots, data kept"
	exit 0
fi
{ [ -z "$log" ] || echo "$log"; echo "$SIS_BOOT $id"; } |
	dd of=$D bs=4096 seek=$((LOGOFF / 4096)) conv=fsync,sync status=none
exit 100 # reboot, please
