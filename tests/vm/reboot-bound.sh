#!/bin/bash
# vm-run self-test: a reboot request (exit 100) beyond the bound fails the run:
# with --boots 2 the script asks for a reboot in boot 1 (granted) and again in
# boot 2 (refused): vm-run exits 100 at once (an unbounded reboot loop would
# run into the timeout, 124, instead).
# vm-run: --boots 2 --timeout 300
# expect: exit=100
echo "boot ${SIS_BOOT:-unset} of ${SIS_BOOTS:-unset}: asking for a reboot"
exit 100
