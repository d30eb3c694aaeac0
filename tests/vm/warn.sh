#!/bin/bash
# vm-run self-test: a kernel WARNING fails the run even though the script passes.
# The module is tests/vm/warn-module, built by scripts/run-tests for the 6.12 guest.
# vm-run: --timeout 60
# expect: fail
set -e
ko=/sis/tests/vm/warn-module/sis_warn_test.ko
[ -f "$ko" ] || { echo "missing $ko (not built?)"; exit 0; }
insmod "$ko"
# The script's own output must not count as a kernel report:
echo "this line says WARNING: CPU: 0 but is not from the kernel"
exit 0
