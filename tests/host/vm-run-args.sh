#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run rejects a bad --disk-throttle with a specific message and status 2,
# before anything is booted.
set -uo pipefail
cd "$(dirname "$0")/../.."
fails=0
script=tests/vm/pass.sh
check() { # expected-message args...
	local want=$1 out rc
	shift
	out=$(scripts/vm-run --no-header "$@" "$script" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" = 2 ] && grep -qF -- "$want" <<<"$out"; then
		echo "ok: $* -> $want"
	else
		echo "FAIL: $*: status $rc, output: $out"
		fails=$((fails + 1))
	fi
}
check "--disk-throttle follows the --disk or --disk-file it limits" --disk-throttle 8 --disk 1G
check "--disk-throttle wants MiB/s from 1 to 999999, got '0'" --disk 1G --disk-throttle 0
check "--disk-throttle wants MiB/s from 1 to 999999, got '8M'" --disk 1G --disk-throttle 8M
check "--disk-throttle wants MiB/s from 1 to 999999, got '1000000'" --disk 1G --disk-throttle=1000000
check "--disk-throttle given twice for one disk" --disk 1G --disk-throttle 8 --disk-throttle 9
[ "$fails" = 0 ]
