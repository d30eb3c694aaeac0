#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 64M --mem 2048 --timeout 2400
#
# make test-long: tests/guest/rel-corrupt.sh with every block type (both
# superblock copies singly, every live journal block kind).
exec env SIS_TEST_LONG=1 "${SIS_TESTS:-$(dirname "$0")/../..}/guest/rel-corrupt.sh" "$@"
