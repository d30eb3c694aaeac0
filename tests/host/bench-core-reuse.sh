#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# host/bench-core-reuse: `bench-core --reuse-file` measures a freshly
# formatted device on the file an earlier run left, not that run's device
# reopened.  The workload is deterministic, so both runs must store the
# same data blocks and miss the same duplicates; an open of the old device
# would turn the unique phase into overwrites of identical data.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BC=$REPO/build/userspace/bench-core
[ -x "$BC" ] || { echo "$BC missing: run make userspace" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
field() { sed -n "s/^bench-core-result: .* $1=\([^ ]*\).*/\1/p"; }
run() { "$BC" --blocks 300000 --file "$tmp/md.img" --commit-thread 10 "$@" 2>/dev/null | grep '^bench-core-result:'; }
new=$(run)
again=$(run --reuse-file)
for k in dup_missed file_reused; do
	printf '%s: new file %s, reused file %s\n' "$k" "$(field $k <<<"$new")" "$(field $k <<<"$again")"
done
[ "$(field file_reused <<<"$again")" = 1 ] || { echo "second run did not reuse the file" >&2; exit 1; }
[ "$(field dup_missed <<<"$new")" = "$(field dup_missed <<<"$again")" ] ||
	{ echo "the reused-file run measured a different device" >&2; exit 1; }
echo "bench-core --reuse-file formats over the old run"
