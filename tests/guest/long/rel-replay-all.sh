#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 512M --disk 2G --disk 512M --disk 1G --mem 2048 --timeout 6000
#
# make test-long: tests/guest/rel-replay.sh at EVERY flush/FUA point and
# every ack mark of a longer workload (16 rounds).  vm-run passes no host
# environment into the guest, so the long mode is selected here.
exec env SIS_TEST_LONG=1 "${SIS_TESTS:-$(dirname "$0")/../..}/guest/rel-replay.sh" all "$@"
