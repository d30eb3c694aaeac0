#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 512M --disk 64M --mem 2048 --timeout 3000
#
# make test-long: tests/guest/rel-powercut.sh with SIS_TEST_LONG=1 (10 power cuts).
# vm-run passes no host environment into the guest, so it is set here.
exec env SIS_TEST_LONG=1 "${SIS_TESTS:-$(dirname "$0")/../..}/guest/rel-powercut.sh" "$@"
