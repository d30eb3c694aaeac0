#!/bin/bash
# Smoke test on the 6.1 cloud kernel: dm-sis.ko (built by vm-run for 6.1) loads
# and registers the "sis" target.
# vm-run: --kernel 6.1 --timeout 120
# expect: pass
exec /sis/tests/vm/dm-sis-modprobe.sh
