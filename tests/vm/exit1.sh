#!/bin/bash
# vm-run self-test: a guest script that exits 1 makes vm-run exit 1.
# vm-run: --timeout 60
# expect: exit=1
echo "exiting with status 1 on purpose"
exit 1
