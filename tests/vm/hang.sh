#!/bin/bash
# vm-run self-test: a guest that hangs is killed at --timeout and the run fails.
# vm-run: --timeout 30
# expect: timeout
echo "sleeping forever"
while :; do sleep 1000; done
