#!/bin/bash
# vm-run self-test: a guest kernel that crashes (sysrq-c: Oops + panic) ends the
# run at once with a failure, though no status came back from the guest.
# vm-run: --timeout 60
# expect: fail
echo c >/proc/sysrq-trigger
sleep 100
