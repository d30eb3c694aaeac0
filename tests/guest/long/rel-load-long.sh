#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 1G --disk 1G --mem 2048 --timeout 2400
#
# make test-long: tests/guest/rel-load.sh with SIS_TEST_LONG=1 (10 minutes of load).
# vm-run passes no host environment into the guest, so it is set here.
exec env SIS_TEST_LONG=1 "${SIS_TESTS:-$(dirname "$0")/../..}/guest/rel-load.sh" "$@"
