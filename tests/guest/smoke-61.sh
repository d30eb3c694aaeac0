#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --kernel 6.1 --disk 1G --mem 2048 --timeout 600
#
# The smoke test (tests/guest/smoke.sh) on Debian's 6.1 cloud kernel: the
# module built for 6.1 creates a device, dedupes, reads back byte for byte,
# survives remove/create and reports its status there too.
exec "${SIS_TESTS:-$(dirname "$0")/..}/guest/smoke.sh" "$@"
