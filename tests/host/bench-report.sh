#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# report.py --from-json renders benchmarks.md again from a run's JSON: the page
# it writes for docs/benchmarks.json carries that run's commit, its issue-target
# rows and the notes of tests/bench/targets-notes.md, and it is the committed
# docs/benchmarks.md.
# A JSON that is not a report's is refused with a message, writing nothing.
set -uo pipefail
cd "$(dirname "$0")/../.."
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

if python3 tests/bench/report.py --from-json docs/benchmarks.json --docs "$tmp"; then
	md=$tmp/benchmarks.md
	tree=$(python3 -c 'import json; print(json.load(open("docs/benchmarks.json"))["host"]["git"])')
	grep -qxF "| tree | git $tree |" "$md" || fail "page lacks the run's tree $tree"
	rows=$(grep -c '^| 1[12] | ' "$md")
	[ "$rows" -ge 20 ] || fail "only $rows issue-target rows on the page"
	first=$(grep -m1 '^### ' tests/bench/targets-notes.md)
	grep -qxF -- "$first" "$md" || fail "notes section '$first' missing"
	# The committed page is this rendering: notes edited without rendering
	# again, or a page edited by hand, show here.
	cmp -s "$md" docs/benchmarks.md ||
		fail "docs/benchmarks.md differs from its JSON's rendering (run report.py --from-json docs/benchmarks.json)"
	echo "ok: rendered, tree $tree, $rows target rows, notes '$first'"
else
	fail "--from-json docs/benchmarks.json: status $?"
fi

echo '{"jobs": []}' >"$tmp/bad.json"
out=$(python3 tests/bench/report.py --from-json "$tmp/bad.json" --docs "$tmp/bad" 2>&1)
rc=$?
if [ "$rc" = 1 ] && grep -qF "is not a benchmark report's JSON" <<<"$out" &&
   [ ! -e "$tmp/bad/benchmarks.md" ]; then
	echo "ok: a JSON that is not a report's is refused"
else
	fail "bad JSON: status $rc, output: $out"
fi
[ "$fails" = 0 ]
