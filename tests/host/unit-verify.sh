#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# host/unit-verify: dist/sis-activate.service passes `systemd-analyze
# verify` (the guest has no systemd, so this runs on the host).  The copy
# checked names the freshly built build/userspace/sis instead of
# /usr/sbin/sis (verify insists that ExecStart exists) and the man page
# check is off (sis.8 is not installed on the host); nothing else changes.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SIS=$REPO/build/userspace/sis
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing: run scripts/setup" >&2; exit 1; }
[ -x "$SIS" ] || { echo "$SIS missing: run make userspace" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/sbin/sis#$SIS#g" "$REPO/dist/sis-activate.service" >"$tmp/sis-activate.service"
diff "$REPO/dist/sis-activate.service" "$tmp/sis-activate.service" | grep '^>' || true
out=$(systemd-analyze verify --man=no "$tmp/sis-activate.service" 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "$out"; echo "systemd-analyze verify printed warnings" >&2; exit 1; }
# The ordering the issue asks for: before local file systems.
grep -q '^Before=.*local-fs-pre.target' "$REPO/dist/sis-activate.service"
grep -q '^ExecStart=/usr/sbin/sis activate --all$' "$REPO/dist/sis-activate.service"
echo "systemd-analyze verify: clean"
