#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-run: --disk 2G --mem 2048 --timeout 3600
#
# make test-long: tests/guest/fs.sh with SIS_TEST_LONG=1 (1 GiB file systems).
# vm-run passes no host environment into the guest, so it is set here.
exec env SIS_TEST_LONG=1 "${SIS_TESTS:-$(dirname "$0")/../..}/guest/fs.sh" "$@"
