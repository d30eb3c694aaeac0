#!/bin/bash
# vm-run self-test: the guest has what the contract promises and a passing
# script passes: disks at /dev/vdb, /dev/vdc in order, tests/ at /sis/tests,
# device-mapper with /dev/mapper nodes (no udev), the filesystem tools, fio.
# vm-run: --disk 256M --disk 64M --timeout 120
# expect: pass
set -euo pipefail
[ "$(blockdev --getsize64 /dev/vdb)" = $((256 << 20)) ]
[ "$(blockdev --getsize64 /dev/vdc)" = $((64 << 20)) ]
[ "$SIS_DISKS" = "/dev/vdb /dev/vdc" ]
[ -d /sis/tests/vm ]
[ "$(id -u)" = 0 ]
for t in dmsetup fio blktrace blkparse mkfs.ext4 fsck.ext4 mkfs.xfs xfs_repair mkfs.btrfs \
	btrfs thin_check vdoformat vdostats modprobe depmod python3; do
	command -v "$t" >/dev/null || { echo "missing tool: $t"; exit 1; }
done
modprobe dm-mod
modprobe dm-bufio
modprobe dm-thin-pool
dmsetup create lin --table "0 $((256 << 11)) linear /dev/vdb 0"
[ -b /dev/mapper/lin ] || { echo "/dev/mapper/lin missing"; exit 1; }
mkfs.ext4 -q /dev/mapper/lin
mkdir -p /mnt/t
mount /dev/mapper/lin /mnt/t
fio --name=w --filename=/mnt/t/f --size=16M --bs=64k --rw=write --ioengine=psync \
	--verify=crc32c --output=/dev/null
umount /mnt/t
dmsetup remove lin
echo "guest test bed OK"
