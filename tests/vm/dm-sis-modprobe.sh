#!/bin/bash
# Smoke test: the freshly built dm-sis.ko loads with its dependencies and
# registers the "sis" target.  Fails (never skips silently) when vm-run could
# not build dm-sis.ko.
# vm-run: --timeout 120
# expect: pass
set -euo pipefail
if ! modinfo dm-sis >/dev/null 2>&1; then
	echo "SKIP-AS-FAIL: dm-sis.ko is not installed in the guest (does 'make' build it?)"
	exit 1
fi
modprobe dm-sis
dmsetup targets
dmsetup targets | grep -q '^sis ' || { echo "target 'sis' not registered"; exit 1; }
rmmod dm-sis
