#!/bin/bash
# vm-run self-test: kernel-report words printed by the script itself (not by the
# kernel) do not fail the run.
# vm-run: --timeout 60
# expect: pass
echo "WARNING: CPU: 0 PID: 1 at fake.c:1"
echo "BUG: not a real one"
echo "Kernel panic - not really"
exit 0
