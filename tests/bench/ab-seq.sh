#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# One-off A/B of tests/bench/targets-notes.md (not run by make bench or make test):
#   scripts/vm-run --mem 4096 --disk 10G --disk 8G --timeout 1500 tests/bench/ab-seq.sh
# once per build (SIS_BUILD_DIR and a checkout of the other commit for the other side).
# A/B: seq 128k QD16 writes with 0/90/50% working-set dedupe and the read-back
# of the unique region, dm-linear (disk 1) vs dm-sis (disk 2), interleaved.
set -uo pipefail
. /sis/tests/guest/lib.sh
D=$(disk 1)
D2=$(disk 2)
sis_load
SZ=$((1024 << 20))
L=$(( 12 * 1024 * 1024 * 2 ))
dmsetup create lin --table "0 $((9 * 1024 * 1024 * 2)) linear $D 0"
dmsetup create sis --table "0 $L sis $D2"
dmsetup mknodes
run() { # dev off dd seed rw
cat > /tmp/j.fio <<EOT
[global]
ioengine=libaio
direct=1
refill_buffers=1
rw=$5
bs=128k
iodepth=16
dedupe_percentage=$3
dedupe_mode=working_set
dedupe_working_set_percentage=5
randseed=$4
[j]
filename=$1
offset=$2
size=$SZ
EOT
fio --output-format=json /tmp/j.fio > /tmp/o.json 2>/dev/null
python3 -c "
import json; j=json.load(open('/tmp/o.json'))['jobs'][0]
d=j['write'] if j['write']['io_bytes'] else j['read']
print('%.0f MiB/s usr %.0f sys %.0f' % (d['bw_bytes']/1048576, j['usr_cpu'], j['sys_cpu']))"
}
k=0
for pair in 1 2 3; do
  for dd in 0 90 50; do
    off=$(( k * SZ )); k=$((k + 1))
    echo "pair $pair dd $dd linear: $(run /dev/mapper/lin $off $dd $((pair * 100 + dd)) write)"
    echo "pair $pair dd $dd sis: $(run /dev/mapper/sis $off $dd $((pair * 100 + dd)) write)"
    if [ $dd = 0 ]; then
      sync; echo 3 > /proc/sys/vm/drop_caches
      echo "pair $pair read linear: $(run /dev/mapper/lin $off 0 1 read)"
      echo "pair $pair read sis: $(run /dev/mapper/sis $off 0 1 read)"
    fi
  done
done
dmsetup status sis
dmsetup remove sis
