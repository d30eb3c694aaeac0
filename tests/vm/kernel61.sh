#!/bin/bash
# vm-run self-test: --kernel 6.1 boots Debian's 6.1 cloud kernel.
# vm-run: --kernel 6.1 --disk 64M --timeout 120
# expect: pass
set -euo pipefail
uname -r
case $(uname -r) in 6.1.*) ;; *) echo "not a 6.1 kernel"; exit 1 ;; esac
modprobe dm-mod
dmsetup create lin --table "0 $((64 << 11)) linear /dev/vdb 0"
[ -b /dev/mapper/lin ]
dmsetup remove lin
