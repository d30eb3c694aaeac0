#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/tools/run.sh: host tests of the `sis` tool on image files.
#
#   tests/tools/run.sh [--only REGEX] [--keep]
#
# Builds the tool (make -C userspace) and two helpers linked with the same
# libsis-core.a: populate.c (writes known dedup content through the core and
# verifies it) and damage.c (targeted damage, resealed with the core's own
# checksum).  Then: usage errors touch nothing; format refuses signatures;
# check finds each kind of damage with the documented exit code; repair
# fixes it, keeps every valid mapping (dump --blocks before and after) and
# every block's data (populate verify); stats and create against a fake
# dmsetup.  Prints "PASS: name" / "FAIL: name" per test and
# "N passed, N failed" last; exits 1 on any failure.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ONLY=
KEEP=
while [ $# -gt 0 ]; do
	case $1 in
	--only) ONLY=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) echo "usage: tests/tools/run.sh [--only REGEX] [--keep]" >&2; exit 2 ;;
	esac
done

O=$REPO/build/userspace
SIS=${SIS:-$O/sis}
# Images live in RAM when /dev/shm exists: the tool fdatasyncs a lot.
T=$(mktemp -d "$([ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo /tmp)/sis-tools-test.XXXXXX")
[ -n "$KEEP" ] || trap 'rm -rf "$T"' EXIT
FAKE=$REPO/tests/tools/fake-dmsetup

PASSED=0
FAILED=0

# ---- build ----------------------------------------------------------------
# The asan core too (fresh: a stale one would test old core code).
ASAN_LIBS=()
[ -n "${SIS_NO_ASAN:-}" ] || ASAN_LIBS=(../build/userspace/asan/libsis-core.a ../build/userspace/asan/libsis-backend.a)
if ! make -s -C "$REPO/userspace" ../build/userspace/sis "${ASAN_LIBS[@]}" >"$T/build.log" 2>&1; then
	cat "$T/build.log"
	echo "FAIL: tools/build"
	echo "0 passed, 1 failed"
	exit 1
fi
CF=(-O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -fno-strict-aliasing -pthread
    -I"$REPO/userspace/compat" -I"$REPO/include" -I"$REPO/dm-sis/core" -I"$REPO/userspace/backend")
LIBS=("$O/normal/libsis-backend.a" "$O/normal/libsis-core.a" -pthread)
if ! gcc "${CF[@]}" "$REPO/tests/tools/populate.c" "${LIBS[@]}" -o "$T/populate" >>"$T/build.log" 2>&1 ||
   ! gcc "${CF[@]}" "$REPO/tests/tools/damage.c" "${LIBS[@]}" -o "$T/damage" >>"$T/build.log" 2>&1; then
	cat "$T/build.log"
	echo "FAIL: tools/build-helpers"
	echo "0 passed, 1 failed"
	exit 1
fi
POP=$T/populate
DMG=$T/damage

# ---- harness --------------------------------------------------------------
# t NAME FUNC [ARGS...]: run one test function in a subshell; its output goes
# to $T/NAME.log and is shown when it fails.
t() {
	local name=$1 logf
	shift
	[ -z "$ONLY" ] || [[ $name =~ $ONLY ]] || return 0
	logf=$T/$PFX-${name//\//_}.log
	if ( set -e; "$@" ) >"$logf" 2>&1; then
		PASSED=$((PASSED + 1))
		echo "PASS: $PFX/$name"
	else
		FAILED=$((FAILED + 1))
		echo "FAIL: $PFX/$name"
		tail -n 30 "$logf" | sed 's/^/  | /'
	fi
}

fail() { echo "FAILED: $*"; exit 1; }

# expect_rc WANT CMD...: run CMD, fail unless it exits WANT.
expect_rc() {
	local want=$1 rc
	shift
	set +e
	"$@"
	rc=$?
	set -e
	echo "[exit $rc] $*"
	[ "$rc" = "$want" ] || fail "expected exit $want, got $rc: $*"
}

sum() { sha256sum "$1" | cut -d' ' -f1; }

# fresh SIZE FILE: a new all-zero image (images are reused across passes).
fresh() { rm -f "$2"; truncate -s "$1" "$2"; }

# The populated image every damage test starts from: 128 MiB, a 1024-block
# journal (see repair/default-journal for why not the default here), 3000
# logical blocks written with zeros, shared and unique content.
BASE=$T/base.img
make_base() {
	rm -f "$BASE"
	truncate -s 128M "$BASE"
	"$SIS" format -q --journal-blocks 1024 "$BASE"
	"$POP" "$BASE" write
	"$POP" "$BASE" verify
	"$SIS" dump --blocks "$BASE" | sed -n '/^# sis-map/,$p' >"$T/base.map"
}

# ---- usage errors: exit 2, nothing touched ---------------------------------
test_usage() {
	local img=$T/u.img before
	fresh 8M "$img"
	"$SIS" format -q "$img"
	before=$(sum "$img")
	: >"$T/fake.log"
	export SIS_DMSETUP=$FAKE FAKE_LOG=$T/fake.log
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		line=${line//IMG/$img}
		eval "set -- $line"
		set +e
		"$SIS" "$@" >"$T/out" 2>"$T/err"
		rc=$?
		set -e
		echo "[exit $rc] sis $line: $(head -n1 "$T/err")"
		[ "$rc" = 2 ] || fail "sis $line: exit $rc, want 2"
		[ -s "$T/err" ] || fail "sis $line: no message on stderr"
		[ "$(sum "$img")" = "$before" ] || fail "sis $line changed the image"
	done <<EOF

bogus
format
format IMG extra
format --logical-size 4097 IMG
format --logical-size 1Q IMG
format --logical-size 99999999999999999999 IMG
format --logical-size 16E IMG
format --logical-size -4096 IMG
format --logical-size '' IMG
format --logical-size 0 IMG
format --journal-blocks 0 IMG
format --journal-blocks 12x IMG
format --bogus IMG
format IMG --force --logical-size
check
check IMG IMG
check --max-lines many IMG
check --fix IMG
repair
repair IMG extra
repair -x IMG
dump
dump --blocks
dump IMG --xml
stats
stats a b
stats --json
stats ''
create
create name
create name IMG extra
create 'a/b' IMG
create '' IMG
create name IMG --commit-interval 0
create name IMG --commit-interval 3601
create name IMG --commit-interval -1
create name IMG --logical-size 1000
create name IMG --logical-size 5K
create name IMG --read-only --read-only
create name IMG --commit-interval 5 --commit-interval 6
create name IMG --frobnicate
format --name '' IMG
format --name 'a b' IMG
format --name -x IMG
ls
ls IMG IMG
ls --bogus IMG
volume
volume bogus IMG
volume create
volume create IMG
volume create IMG v1
volume create IMG v1 1M extra
volume create IMG 'bad name' 1M
volume create IMG a/b 1M
volume create IMG '' 1M
volume create IMG 0123456789abcdef0123456789abcdef 1M
volume create IMG v1 0
volume create IMG v1 4097
volume create IMG v1 1Q
volume create IMG v1 -1M
volume create IMG v1 1M --id x
volume create IMG v1 1M --id 16777216
volume create IMG v1 1M --id 1 --id 2
volume create IMG v1 1M --origin-id 0
volume create IMG v1 1M --frobnicate
volume clone IMG
volume clone IMG v1
volume clone IMG v1 v2 v3
volume clone IMG --origin-id 0
volume clone IMG --origin-id 0 v1 v2
volume clone IMG --origin-id -1 v1
volume clone IMG v1 'x y'
volume delete IMG
volume delete IMG v1 v2
volume delete IMG --id 1 v1
volume delete IMG --id
volume resize IMG v1
volume resize IMG v1 0
volume resize IMG --id 0
volume resize IMG --id 0 1M extra
volume delete IMG v1 --dm ''
volume delete IMG v1 --dm a/b
volume delete IMG v1 --dm a --dm b
EOF
	[ ! -s "$T/fake.log" ] || fail "dmsetup was run: $(cat "$T/fake.log")"
}

test_help() {
	for c in format check repair dump stats create ls; do
		"$SIS" "$c" --help >"$T/h" || fail "sis $c --help failed"
		grep -q "^Usage: sis $c" "$T/h" || fail "sis $c --help: no usage line"
		"$SIS" help "$c" | grep -q "^Usage: sis $c" || fail "sis help $c"
	done
	for c in create clone delete resize; do
		"$SIS" volume "$c" --help | grep -q "^Usage: sis volume $c" || fail "sis volume $c --help"
	done
	"$SIS" volume --help | grep -q "^Usage: sis volume create" || fail "sis volume --help"
	"$SIS" --help | grep -q "check" || fail "sis --help"
	"$SIS" --version | grep -q "^sis " || fail "sis --version"
	expect_rc 2 "$SIS"
}

test_sizes() {
	local img=$T/s.img
	fresh 64M "$img"
	"$SIS" format -q --logical-size 1G "$img"
	"$SIS" dump "$img" | grep -q '^logical size  *262144 blocks' || fail "1G"
	"$SIS" format -q --force --logical-size 2TiB "$img"
	"$SIS" dump "$img" | grep -q '^logical size  *536870912 blocks' || fail "2TiB"
	"$SIS" check -q "$img"
	"$SIS" format -q --force --logical-size 65536s "$img"
	"$SIS" dump "$img" | grep -q '^logical size  *8192 blocks' || fail "65536s"
	"$SIS" format -q --force --logical-size 4096 "$img"
	"$SIS" dump "$img" | grep -q '^logical size  *1 blocks' || fail "4096"
	# A device smaller than its metadata's logical size is thin; the
	# table line carries the logical size in sectors.
	for s in "8G 16777216" "1T 2147483648" "12M 24576" "4KiB 8"; do
		set -- $s
		line=$("$SIS" create --dry-run --logical-size "$1" x "$img")
		[ "$line" = "0 $2 sis $img" ] || fail "create --logical-size $1: '$line'"
	done
}

test_format_refuses() {
	local img=$T/f.img before sig
	for sig in ext4 xfs btrfs luks swap sis mbr; do
		rm -f "$img"
		truncate -s 8M "$img"
		case $sig in
		ext4) printf '\x53\xef' | dd of="$img" bs=1 seek=1080 conv=notrunc status=none ;;
		xfs) printf 'XFSB' | dd of="$img" conv=notrunc status=none ;;
		btrfs) printf '_BHRfS_M' | dd of="$img" bs=1 seek=65600 conv=notrunc status=none ;;
		luks) printf 'LUKS\xba\xbe' | dd of="$img" conv=notrunc status=none ;;
		swap) printf 'SWAPSPACE2' | dd of="$img" bs=1 seek=4086 conv=notrunc status=none ;;
		sis) "$SIS" format -q "$img" ;;
		mbr) printf '\x83' | dd of="$img" bs=1 seek=450 conv=notrunc status=none
		     printf '\x55\xaa' | dd of="$img" bs=1 seek=510 conv=notrunc status=none ;;
		esac
		before=$(sum "$img")
		expect_rc 1 "$SIS" format "$img"
		[ "$(sum "$img")" = "$before" ] || fail "$sig: refused format changed the image"
		"$SIS" format -q --force "$img"
		expect_rc 0 "$SIS" check -q "$img"
	done
	if command -v mkfs.ext4 >/dev/null; then
		rm -f "$img"
		truncate -s 64M "$img"
		mkfs.ext4 -q -F "$img"
		expect_rc 1 "$SIS" format "$img"
	fi
	# Not a file or block device; missing; too small.
	expect_rc 1 "$SIS" format "$T"
	expect_rc 1 "$SIS" format "$T/missing.img"
	truncate -s 8K "$T/tiny.img"
	expect_rc 1 "$SIS" format "$T/tiny.img"
}

test_format_check_clean() {
	local img=$T/c.img
	fresh 64M "$img"
	"$SIS" format "$img" | grep -q 'formatted dm-sis' || fail "format message"
	expect_rc 0 "$SIS" check "$img"
	"$SIS" check "$img" | grep -q '^summary: 0 mapped' || fail "summary"
	"$SIS" dump --json --blocks "$img" | python3 -m json.tool >/dev/null || fail "json"
}

test_populated_clean() {
	expect_rc 0 "$SIS" check "$BASE"
	expect_rc 0 "$SIS" check --no-data "$BASE"
	"$SIS" check "$BASE" | grep -q '^summary: 2725 mapped, 1930 data blocks' ||
		fail "unexpected summary: $("$SIS" check "$BASE")"
	# The map printed twice is the same; JSON parses; extents add up.
	"$SIS" dump --blocks "$BASE" | sed -n '/^# sis-map/,$p' | cmp - "$T/base.map"
	"$SIS" dump --json --blocks "$BASE" >"$T/j"
	python3 - "$T/j" "$T/base.map" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
txt = [tuple(map(int, l.split())) for l in open(sys.argv[2]) if not l.startswith('#')]
assert [tuple(e) for e in j["map"]] == txt, "json map differs from text map"
assert sum(e[2] for e in j["map"]) == j["state"]["mapped_blocks"] == 2725
assert j["state"]["data_blocks_used"] == 1930
PY
	grep -q '^# end mapped=2725$' "$T/base.map" || fail "end line"
}

# Map lines of an image, without the header/trailer.
map_of() { "$SIS" dump --blocks "$1" | sed -n '/^# sis-map/,$p' | grep -v '^#'; }

# Expand "L P N" extents to "L P" lines.
expand() { awk '{ for (i = 0; i < $3; i++) print $1 + i, $2 + i }'; }

# damage_case KIND CHECK_EXIT REPAIR_EXIT MAP_RULE VERIFY_EXIT
#   MAP_RULE: same   the map after repair equals the map before damage
#             plus1  equals it plus the mapping damage made up
#   VERIFY_EXIT: populate verify after repair (1: data damage repair
#             cannot undo)
# A format version 1, 2, 3 or 5 device is refused by check, repair (exit 8: not
# something they can check) and dump (exit 1), with a message naming both
# versions, and left unchanged.
test_version_msg() {
	local img=$T/v1.img v cmd want before
	for v in 1 2 3 5; do
		cp "$BASE" "$img"
		"$DMG" "$img" version-$v >/dev/null
		before=$(sum "$img")
		for cmd in check repair dump; do
			want=8
			[ $cmd = dump ] && want=1
			expect_rc $want "$SIS" $cmd "$img" 2>"$T/v.err"
			[ "$(sum "$img")" = "$before" ] || fail "$cmd wrote to a v$v image"
			cat "$T/v.err"
			if [ $v = 5 ]; then
				grep -q "newer than this version (4)" "$T/v.err" ||
					fail "$cmd: no version message for v5"
			else
				grep -q "format version $v is not supported by this version (4)" "$T/v.err" ||
					fail "$cmd: no version message for v$v"
			fi
		done
	done
}

damage_case() {
	local kind=$1 want_check=$2 want_repair=$3 rule=$4 want_verify=$5
	local img=$T/d-$kind.img before lb
	cp "$BASE" "$img"
	"$DMG" "$img" "$kind" | tee "$T/dmg.out"
	before=$(sum "$img")
	expect_rc "$want_check" "$SIS" check "$img"
	[ "$(sum "$img")" = "$before" ] || fail "check wrote to the image"
	expect_rc "$want_check" "$SIS" check -q "$img"
	expect_rc "$want_repair" "$SIS" repair "$img"
	[ "$want_repair" = 0 ] || return 0
	expect_rc 0 "$SIS" check "$img"
	map_of "$img" | expand >"$T/after.map"
	grep -v '^#' "$T/base.map" | expand >"$T/before.map"
	case $rule in
	same) cmp "$T/before.map" "$T/after.map" || fail "repair changed the map" ;;
	lost)
		# A bad map page is cut out: its mappings are gone, every other
		# mapping is kept unchanged, nothing is made up.
		[ -z "$(comm -13 <(sort "$T/before.map") <(sort "$T/after.map"))" ] ||
			fail "repair changed or added mappings"
		[ "$(wc -l <"$T/after.map")" -lt "$(wc -l <"$T/before.map")" ] ||
			fail "the mappings under the bad map page are still there" ;;
	plus1)
		lb=$(sed -n 's/.*lblock=\([0-9]*\).*/\1/p' "$T/dmg.out")
		grep -v "^$lb " "$T/after.map" | cmp - "$T/before.map" ||
			fail "repair changed mappings other than lblock $lb"
		grep -q "^$lb " "$T/after.map" || fail "made-up mapping of $lb gone" ;;
	esac
	expect_rc "$want_verify" "$POP" "$img" verify
	# A second repair finds nothing.
	"$SIS" repair "$img" | grep -q 'nothing to repair' || fail "second repair did something"
}

test_not_sis() {
	fresh 16M "$T/zero.img"
	expect_rc 8 "$SIS" check "$T/zero.img"
	head -c 1M /dev/urandom >"$T/rand.img"
	expect_rc 8 "$SIS" check "$T/rand.img"
	expect_rc 8 "$SIS" check "$T/missing.img"
	expect_rc 8 "$SIS" check "$T"
	expect_rc 8 "$SIS" repair "$T/zero.img"
	expect_rc 1 "$SIS" dump "$T/zero.img"
}

# A crash image (the writer died after a commit, nothing checkpointed):
# check replays the journal in RAM only, finds it clean and changes nothing;
# repair's open recovers it for real.
test_crash_image() {
	local img=$T/crash.img before
	fresh 128M "$img"
	"$SIS" format -q "$img"
	"$POP" "$img" write --crash-after 30
	"$SIS" dump "$img" | grep -q '^flags .* not-clean' || fail "image is marked clean"
	before=$(sum "$img")
	expect_rc 0 "$SIS" check "$img"
	"$SIS" dump --blocks "$img" >"$T/crash.dump"
	[ "$(sum "$img")" = "$before" ] || fail "check or dump wrote to a crash image"
	grep -q '^mapped blocks  *[1-9]' "$T/crash.dump" || fail "nothing recovered"
	"$SIS" repair "$img" | tee "$T/crash.repair"
	grep -q 'nothing to repair' "$T/crash.repair" || fail "repair found something"
	"$SIS" dump --blocks "$img" | sed -n '/^# sis-map/,$p' | cmp - <(sed -n '/^# sis-map/,$p' "$T/crash.dump")
	"$SIS" dump "$img" | grep -q '^flags .* clean' || fail "not clean after repair's close"
}

test_truncated() {
	local img=$T/tr.img
	cp "$BASE" "$img"
	truncate -s 100M "$img"
	expect_rc 4 "$SIS" check "$img"
}

test_no_data() {
	local img=$T/nd.img
	for kind in fp-bad data-corrupt; do
		cp "$BASE" "$img"
		"$DMG" "$img" "$kind"
		expect_rc 4 "$SIS" check "$img"
		expect_rc 0 "$SIS" check --no-data "$img"
	done
}

test_cap() {
	local img=$T/cap.img n
	cp "$BASE" "$img"
	"$DMG" "$img" map-csum
	"$SIS" check --max-lines 5 "$img" >"$T/out" || true
	n=$(grep -cE '^(error|leak|info): ' "$T/out")
	[ "$n" = 5 ] || fail "--max-lines 5 printed $n problem lines"
	grep -q '^\.\.\. [0-9]* more problem lines not shown' "$T/out" || fail "no count of the rest"
	"$SIS" check -q "$img" >"$T/out" || true
	[ "$(wc -l <"$T/out")" = 1 ] || fail "--quiet printed more than the summary"
}

# The default journal of a 64 MiB device is the minimum (64 blocks); the
# core must keep each transaction inside it, in writes and in repair.
test_default_journal() {
	local img=$T/dj.img
	fresh 64M "$img"
	"$SIS" format -q "$img"
	"$POP" "$img" write
	# The damage below needs a clean close (journal checkpointed).
	"$SIS" dump "$img" | grep -q '^flags .* clean' ||
		fail "populate's close did not checkpoint: the core could not fit its last transaction in the 64-block journal"
	expect_rc 0 "$SIS" check "$img"
	"$DMG" "$img" rc-high
	expect_rc 1 "$SIS" check "$img"
	expect_rc 0 "$SIS" repair "$img"
	expect_rc 0 "$SIS" check "$img"
}

FAKE_OK="0 262144 sis write 2725 2100/32768 11161600 7905280 1.412 300 40 10 55 81 - 1930 795"

test_stats() {
	export SIS_DMSETUP=$FAKE FAKE_LOG=$T/fake.log FAKE_STATUS=$FAKE_OK
	: >"$T/fake.log"
	"$SIS" stats sis0 | tee "$T/s"
	grep -q '^Device' "$T/s" || fail "no header"
	grep -qE '^sis0 +128\.0M +8\.2M +119\.8M +6% +29% +1\.41x +300 +80\.0% write$' "$T/s" ||
		fail "row: $(tail -n1 "$T/s")"
	[ "$(cat "$T/fake.log")" = "status sis0" ] || fail "dmsetup args: $(cat "$T/fake.log")"
	"$SIS" stats --json sis0 >"$T/j"
	python3 - "$T/j" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
want = dict(schema_version=1, free_blocks=32768 - 2100,
            device="sis0", mode="write", mapped_blocks=2725, used_blocks=2100,
            total_blocks=32768, written_bytes=11161600, new_data_bytes=7905280,
            dedup_ratio=1.412, zero_blocks=300, cache_hits=40, cache_misses=10,
            cache_blocks=55, commits=81, needs_check=False, data_blocks=1930,
            dedup_hits=795, logical_bytes=262144 * 512, size_bytes=32768 * 4096,
            used_bytes=2100 * 4096, available_bytes=(32768 - 2100) * 4096,
            cache_hit_percent=80.0)
for k, v in want.items():
    assert j[k] == v, (k, j[k], v)
assert abs(j["saving_percent"] - 100 * (1 - 1930 / 2725)) < 0.01
PY
	"$SIS" stats --verbose sis0 | grep -q '^dedup hits  *795$' || fail "verbose"
	"$SIS" stats --bytes sis0 | grep -q ' 134217728 ' || fail "--bytes"
	# needs_check and other modes; appended fields are ignored.
	FAKE_STATUS="${FAKE_OK/ - / needs_check }" "$SIS" stats sis0 | grep -q 'write,needs_check$' ||
		fail "needs_check"
	FAKE_STATUS="${FAKE_OK/write/out-of-space} 7 8" "$SIS" stats sis0 | grep -q 'out-of-space$' ||
		fail "appended fields"
	# A pool target's appended fields (index_ram, volume, exclusive,
	# volumes, pool mapped): the saving is the pool's (its data blocks
	# over all volumes' mappings).
	FAKE_STATUS="${FAKE_OK} 0 4096 3 100 2 5450" "$SIS" stats --json sis0 >"$T/j"
	python3 - "$T/j" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert (j["volume"], j["exclusive_blocks"], j["volumes"], j["pool_mapped_blocks"]) == (3, 100, 2, 5450), j
assert j["mapped_blocks"] == 2725 and j["index_ram_bytes"] == 4096
assert abs(j["saving_percent"] - 100 * (1 - 1930 / 5450)) < 0.01, j["saving_percent"]
PY
	FAKE_STATUS="${FAKE_OK} 0 4096 3 - 2 5450" "$SIS" stats --json sis0 >"$T/j"
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert "exclusive_blocks" not in j and j["volume"] == 3 and "metadata_ram_bytes" not in j' "$T/j"
	# fast_writes and metadata_ram (field 22): reported, and a bad one refused
	FAKE_STATUS="${FAKE_OK} 0 4096 3 - 2 5450 9 8192" "$SIS" stats --json sis0 >"$T/j"
	python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["metadata_ram_bytes"] == 8192, j' "$T/j"
	FAKE_STATUS="${FAKE_OK} 0 4096 3 - 2 5450 9 8192" "$SIS" stats --verbose sis0 | grep -q '^metadata RAM  *8192 bytes$' ||
		fail "verbose metadata RAM"
	FAKE_STATUS="${FAKE_OK} 0 4096 3 - 2 5450 9 8k" expect_rc 1 "$SIS" stats sis0
	FAKE_STATUS="${FAKE_OK} 0 4096 3 - 2 5450" "$SIS" stats --verbose sis0 | tee "$T/v"
	grep -q '^volume  *3$' "$T/v" && grep -q '^exclusive blocks  *- (not counted: dmsetup message sis0 0 count_exclusive 3)$' "$T/v" &&
		grep -q '^pool mapped blocks  *5450$' "$T/v" || fail "verbose volume fields"
	FAKE_STATUS="${FAKE_OK} 0 4096 x - 2 5450" expect_rc 1 "$SIS" stats sis0
	# Not sis, malformed, dmsetup failing: exit 1 with a message.
	FAKE_STATUS="0 1000 linear 8:16 0" expect_rc 1 "$SIS" stats sis0
	FAKE_STATUS="0 1000 sis write 1 2" expect_rc 1 "$SIS" stats sis0
	FAKE_STATUS="${FAKE_OK/2100\/32768/2100-32768}" expect_rc 1 "$SIS" stats sis0
	FAKE_STATUS="${FAKE_OK/1.412/x}" expect_rc 1 "$SIS" stats sis0
	FAKE_STATUS="${FAKE_OK/write/sleeping}" expect_rc 1 "$SIS" stats sis0
	FAKE_RC=1 expect_rc 1 "$SIS" stats sis0
	SIS_DMSETUP=/nonexistent/dmsetup expect_rc 1 "$SIS" stats sis0
	# A node that is not a dm device.
	expect_rc 1 "$SIS" stats /dev/null
}

test_create() {
	local img=$T/cr.img
	export SIS_DMSETUP=$FAKE FAKE_LOG=$T/fake.log
	fresh 64M "$img"
	# Blank device: the table covers the whole device (the target formats it).
	: >"$T/fake.log"
	"$SIS" create v0 "$img"
	grep -qx "create v0 --table 0 131072 sis $img" "$T/fake.log" || fail "blank: $(cat "$T/fake.log")"
	# Formatted: the metadata's logical size; features in the shared spelling.
	"$SIS" format -q --logical-size 1G "$img"
	: >"$T/fake.log"
	"$SIS" create v1 "$img" --no-discard-passdown --error-if-no-space --commit-interval 5 \
		--skip-zero-detection --read-only
	grep -qx "create v1 --table 0 2097152 sis $img 6 no_discard_passdown error_if_no_space skip_zero_detection read_only commit_interval 5" \
		"$T/fake.log" || fail "features: $(cat "$T/fake.log")"
	# Growing is allowed, shrinking refused before dmsetup runs.
	: >"$T/fake.log"
	"$SIS" create v2 "$img" --logical-size 2G
	grep -q "^create v2 --table 0 4194304 sis " "$T/fake.log" || fail "grow"
	: >"$T/fake.log"
	expect_rc 1 "$SIS" create v3 "$img" --logical-size 512M
	[ ! -s "$T/fake.log" ] || fail "dmsetup ran for a refused shrink"
	# Foreign content refused; dmsetup failure reported.
	fresh 64M "$T/x.img"
	printf 'XFSB' | dd of="$T/x.img" conv=notrunc status=none
	expect_rc 1 "$SIS" create v4 "$T/x.img"
	FAKE_RC=1 expect_rc 1 "$SIS" create v5 "$img"
	expect_rc 1 "$SIS" create v6 "$T/missing.img"
}

# ---- volumes ----------------------------------------------------------------
# ls_field ID COLUMN IMG: a column of one volume's `sis ls` row
# (2 name, 4 mapped, 5 exclusive, 6 origin).
ls_field() { "$SIS" ls "$3" | awk -v id="$1" -v col="$2" '$1 == id { print $col }'; }
# pool_field KEY IMG: a number of the pool object of `sis ls --json`.
pool_field() { "$SIS" ls --json "$2" | python3 -c "import json,sys; print(json.load(sys.stdin)['pool']['$1'])"; }

# The expected mapped and exclusive counts of every volume, computed from
# the maps `sis dump --blocks` prints (not from the core's counters): a data
# block is exclusive to a volume when every mapping of it is that volume's.
# Prints "ID MAPPED EXCLUSIVE" lines.
expected_counts() {
	"$SIS" dump --blocks "$1" | python3 -c '
import re, sys, collections
vol = None; maps = collections.defaultdict(list)
for line in sys.stdin:
    m = re.match(r"# sis-map v1 (?:volume=(\d+) )?logical_blocks=", line)
    if m:
        vol = int(m.group(1) or 0); maps[vol]; continue
    if line.startswith("#"):
        vol = None; continue
    if vol is not None:
        l, p, n = map(int, line.split())
        maps[vol].extend(range(p, p + n))
owners = collections.defaultdict(set)
for v, ps in maps.items():
    for p in ps:
        owners[p].add(v)
for v in sorted(maps):
    excl = len({p for p in maps[v] if owners[p] == {v}})
    print(v, len(maps[v]), excl)
'
}

# Every volume's MAPPED and EXCLUSIVE in `sis ls` equal the counts from the maps.
ls_matches_maps() {
	local img=$1 got want
	want=$(expected_counts "$img")
	got=$("$SIS" ls "$img" | awk '$1 ~ /^[0-9]+$/ { print $1, $4, $5 }')
	echo "ls:   $got" | tr '\n' ' '; echo
	echo "maps: $want" | tr '\n' ' '; echo
	[ "$got" = "$want" ] || fail "sis ls differs from the maps: ls '$got' maps '$want'"
}

test_volumes() {
	local img=$T/vol.img before excl d0 d1 out
	fresh 128M "$img"
	"$SIS" format -q --journal-blocks 1100 --name base "$img"
	"$POP" "$img" write
	"$SIS" ls "$img" | tee "$T/ls"
	[ "$(ls_field 0 2 "$img")" = base ] || fail "volume 0 is not named base"
	[ "$(ls_field 0 4 "$img")" = 2725 ] || fail "mapped of base"
	[ "$(ls_field 0 5 "$img")" = 1930 ] || fail "exclusive of base before any clone"
	grep -q '^pool: 1 volume, 2725 mapped blocks, 1930 data blocks' "$T/ls" || fail "pool line"

	# A clone shares everything: nothing is exclusive, no data is added.
	"$SIS" volume clone "$img" base snap | tee "$T/out"
	grep -q "cloned volume 1 'snap' from volume 0 'base', 2725 mapped blocks shared" "$T/out" ||
		fail "clone message"
	expect_rc 0 "$SIS" check "$img"
	"$SIS" check "$img" | grep -q '^summary: 5450 mapped, 1930 data blocks, 7 map pages, 2 volumes; 0 errors' ||
		fail "check summary: $("$SIS" check "$img" | tail -n1)"
	"$SIS" ls "$img" | tee "$T/ls"
	[ "$(ls_field 1 2 "$img") $(ls_field 1 4 "$img") $(ls_field 1 5 "$img") $(ls_field 1 6 "$img")" = "snap 2725 0 0" ] ||
		fail "snap row: $(grep ' snap ' "$T/ls")"
	[ "$(ls_field 0 5 "$img")" = 0 ] || fail "base keeps exclusive blocks after the clone"
	[ "$(pool_field data_blocks "$img")" = 1930 ] || fail "a clone added data blocks"
	ls_matches_maps "$img"
	"$POP" "$img" verify --volume 1
	# The clone's map is its origin's.
	"$SIS" dump --blocks "$img" | sed -n '/^# sis-map v1 logical/,/^# end/p' | grep -v '^#' >"$T/m0"
	"$SIS" dump --blocks "$img" | sed -n '/^# sis-map v1 volume=1 /,/^# end/p' | grep -v '^#' >"$T/m1"
	[ -s "$T/m0" ] && cmp "$T/m0" "$T/m1" || fail "the clone's map differs from its origin's"

	# Distinct data into the clone: both read their own data, the
	# counts are the maps', check is clean.
	"$POP" "$img" write --volume 1 --seed 2 --blocks 500
	"$POP" "$img" verify --volume 1 --seed 2 --blocks 500
	"$POP" "$img" verify --volume 0
	expect_rc 0 "$SIS" check "$img"
	"$SIS" ls "$img"
	ls_matches_maps "$img"
	excl=$(ls_field 1 5 "$img")
	[ "$excl" -gt 300 ] || fail "the clone's own writes are not exclusive: $excl"
	[ "$(ls_field 0 5 "$img")" -gt 0 ] || fail "base's overwritten blocks are not exclusive"

	# An empty volume; a third, cloned by id.
	"$SIS" volume create "$img" empty 1G | grep -q "created volume 2 'empty', 262144 blocks" ||
		fail "create message"
	"$SIS" volume clone "$img" --origin-id 1 snap2 --id 9 | grep -q "cloned volume 9 'snap2' from volume 1" ||
		fail "clone by id"
	expect_rc 0 "$SIS" check "$img"
	[ "$(ls_field 2 4 "$img") $(ls_field 2 5 "$img")" = "0 0" ] || fail "empty row"
	"$SIS" ls -b "$img" | grep -qE '^ +2  empty +1073741824 ' || fail "ls --bytes"
	ls_matches_maps "$img"

	# Names and ids are unique; refusals change nothing.
	before=$(sum "$img")
	expect_rc 1 "$SIS" volume create "$img" snap 1M 2>"$T/err"
	grep -q "a volume named 'snap' exists already (id 1)" "$T/err" || fail "duplicate name message"
	expect_rc 1 "$SIS" volume clone "$img" base snap2 2>"$T/err"
	grep -q "a volume named 'snap2' exists already" "$T/err" || fail "duplicate clone name"
	expect_rc 1 "$SIS" volume create "$img" other 1M --id 9 2>"$T/err"
	grep -q "volume id 9 is taken (by 'snap2')" "$T/err" || fail "taken id message"
	expect_rc 1 "$SIS" volume delete "$img" nosuch 2>"$T/err"
	grep -q "no volume named 'nosuch'" "$T/err" || fail "no such name"
	expect_rc 1 "$SIS" volume delete "$img" --id 5 2>"$T/err"
	grep -q "no volume with id 5" "$T/err" || fail "no such id"
	expect_rc 1 "$SIS" volume clone "$img" nosuch x 2>"$T/err"
	expect_rc 1 "$SIS" volume resize "$img" empty 4K 2>"$T/err"
	grep -q "volumes cannot shrink" "$T/err" || fail "shrink message"
	[ "$(sum "$img")" = "$before" ] || fail "a refused command changed the image"

	# Growing.
	"$SIS" volume resize "$img" empty 2G | grep -q "volume 2: 524288 blocks (was 262144)" || fail "resize"

	# Deleting frees exactly the exclusive blocks.
	"$POP" "$img" write --volume 9 --seed 3 --blocks 200
	ls_matches_maps "$img"
	excl=$(ls_field 9 5 "$img")
	[ "$excl" -gt 100 ] || fail "snap2's own writes are not exclusive: $excl"
	d0=$(pool_field data_blocks "$img")
	"$SIS" volume delete "$img" snap2 | tee "$T/out"
	d1=$(pool_field data_blocks "$img")
	echo "snap2: exclusive $excl, data blocks $d0 -> $d1"
	[ $((d0 - d1)) = "$excl" ] || fail "delete of snap2 freed $((d0 - d1)), exclusive was $excl"
	grep -q "deleted volume 9 'snap2': $excl data blocks" "$T/out" || fail "delete message"
	expect_rc 0 "$SIS" check "$img"
	excl=$(ls_field 1 5 "$img")
	[ "$excl" -gt 300 ] || fail "snap's exclusive count: $excl"
	d0=$(pool_field data_blocks "$img")
	"$SIS" volume delete "$img" snap
	d1=$(pool_field data_blocks "$img")
	echo "snap: exclusive $excl, data blocks $d0 -> $d1"
	[ $((d0 - d1)) = "$excl" ] || fail "delete of snap freed $((d0 - d1)), exclusive was $excl"
	expect_rc 0 "$SIS" check "$img"
	# Everything base maps is its own again.
	[ "$(ls_field 0 5 "$img")" = 1930 ] || fail "base exclusive after the deletes: $(ls_field 0 5 "$img")"
	[ "$(pool_field data_blocks "$img")" = 1930 ] || fail "data blocks after the deletes"
	"$POP" "$img" verify --volume 0

	# The lowest free id is reused; the origin can go, the clone stays.
	"$SIS" volume clone "$img" base keep | grep -q "cloned volume 1 'keep'" || fail "lowest free id"
	"$SIS" volume delete "$img" base | grep -q "deleted volume 0 'base': 0 data blocks" ||
		fail "deleting a fully shared origin freed data"
	expect_rc 0 "$SIS" check "$img"
	"$POP" "$img" verify --volume 1
	[ "$(ls_field 1 5 "$img")" = 1930 ] || fail "keep is not the sole owner"
	ls_matches_maps "$img"

	# The volume table in dump, text and JSON.
	"$SIS" dump "$img" | tee "$T/dump" | grep '^volume'
	grep -q '^volumes  *2 (0 being deleted)$' "$T/dump" || fail "dump: volumes line"
	grep -qE '^volume 1 +name=keep flags=used map_root=[1-9][0-9]* map_depth=[0-9]+ logical_blocks=32768 mapped=2725 origin=0 create_seq=[0-9]+$' "$T/dump" ||
		fail "dump: volume 1 line"
	grep -qE '^volume 2 +name=empty flags=used map_root=0 map_depth=[0-9]+ logical_blocks=524288 mapped=0 origin=- ' "$T/dump" ||
		fail "dump: volume 2 line"
	"$SIS" dump --json --blocks "$img" | python3 -c '
import json, sys
j = json.load(sys.stdin)
v = {x["id"]: x for x in j["volumes"]}
assert j["nr_volumes"] == 2 and sorted(v) == [1, 2], v.keys()
assert v[1]["name"] == "keep" and v[1]["origin"] == 0 and v[1]["mapped_blocks"] == 2725
assert sum(e[2] for e in v[1]["map"]) == 2725 and v[2]["map"] == []
assert "map" not in j, "no volume 0, no top-level map"
'
	"$SIS" ls --json "$img" | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["schema_version"] == 1 and j["pool"]["volumes"] == 2
r = {x["id"]: x for x in j["volumes"]}
assert r[1]["exclusive_blocks"] == 1930 and r[1]["exclusive_exact"] is True
assert r[2]["logical_bytes"] == 2 << 30 and "origin" not in r[2]
'
}

# The volume table holds SIS_MAX_VOLUMES (40): the 41st is refused.
test_volume_table_full() {
	local img=$T/full.img before
	fresh 64M "$img"
	"$SIS" format -q "$img"
	for i in $(seq 1 39); do "$SIS" volume create "$img" "v$i" 1M >/dev/null; done
	[ "$(pool_field volumes "$img")" = 40 ] || fail "not 40 volumes"
	before=$(sum "$img")
	expect_rc 1 "$SIS" volume create "$img" v40 1M 2>"$T/err"
	grep -q "the pool has 40 volumes, the most it can hold" "$T/err" || fail "full message: $(cat "$T/err")"
	[ "$(sum "$img")" = "$before" ] || fail "refused create changed the image"
	"$SIS" volume delete "$img" v7 >/dev/null
	"$SIS" volume create "$img" v40 1M | grep -q "created volume 7 " || fail "freed id not reused"
	expect_rc 0 "$SIS" check "$img"
}

# Metadata with needs_check set opens read-only: volume changes are
# refused (check and repair first), ls still lists and says so.
test_volume_needs_check() {
	local img=$T/vnc.img before
	cp "$BASE" "$img"
	"$DMG" "$img" needs-check
	before=$(sum "$img")
	expect_rc 1 "$SIS" volume create "$img" v1 1M 2>"$T/err"
	grep -q "opened read-only (needs_check is set: run 'sis check', then 'sis repair')" "$T/err" ||
		fail "message: $(cat "$T/err")"
	"$SIS" ls "$img" | grep -q '^pool: 1 volume, 2725 mapped blocks, .*, needs_check set$' || fail "ls"
	[ "$(sum "$img")" = "$before" ] || fail "the image changed"
	expect_rc 0 "$SIS" repair "$img"
	"$SIS" volume create "$img" v1 1M | grep -q "created volume 1 'v1'" || fail "create after repair"
}

# Cloning needs a journal that holds the copy of a shared map page; a
# smaller one (the default below ~1 GiB) is refused, naming the fix.
test_volume_small_journal() {
	local img=$T/sj.img before
	fresh 64M "$img"
	"$SIS" format -q "$img"
	before=$(sum "$img")
	expect_rc 1 "$SIS" volume clone "$img" --origin-id 0 c 2>"$T/err"
	grep -q "journal is too small for clones (on devices over 130 MiB: sis format --journal-blocks 1030 or more)" "$T/err" ||
		fail "message: $(cat "$T/err")"
	expect_rc 0 "$SIS" check "$img"
}

# A device per volume: sis create --volume and the sistab volume= option
# give the table feature 'volume <id>' and the volume's size.
test_create_volume() {
	local img=$T/cv.img
	export SIS_DMSETUP=$FAKE FAKE_LOG=$T/fake.log
	fresh 64M "$img"
	"$SIS" format -q --name root "$img"
	"$SIS" volume create "$img" data 1G >/dev/null
	line=$("$SIS" create --dry-run x "$img" --volume data --commit-interval 5)
	[ "$line" = "0 2097152 sis $img 4 commit_interval 5 volume 1" ] || fail "by name: '$line'"
	line=$("$SIS" create --dry-run x "$img" --volume 1)
	[ "$line" = "0 2097152 sis $img 2 volume 1" ] || fail "by id: '$line'"
	# Volume 0 keeps the table line it always had.
	line=$("$SIS" create --dry-run x "$img" --volume root)
	[ "$line" = "0 131072 sis $img" ] || fail "volume 0: '$line'"
	: >"$T/fake.log"
	expect_rc 1 "$SIS" create x "$img" --volume nosuch 2>"$T/err"
	grep -q "no volume named nosuch" "$T/err" || fail "no such name"
	expect_rc 1 "$SIS" create x "$img" --volume 7 2>"$T/err"
	grep -q "no volume 7 " "$T/err" || fail "no such id"
	expect_rc 2 "$SIS" create x "$img" --volume 'a b'
	expect_rc 2 "$SIS" create x "$img" --volume data --volume root
	fresh 64M "$T/blank.img"
	expect_rc 1 "$SIS" create x "$T/blank.img" --volume 1
	[ ! -s "$T/fake.log" ] || fail "dmsetup ran: $(cat "$T/fake.log")"
	# sistab: one line per volume of one pool.
	printf 'r0 %s\nd1 %s volume=data,commit_interval=3\nbad %s volume=9\n' \
		"$img" "$img" "$img" >"$T/sistab"
	FAKE_RC=1 expect_rc 1 "$SIS" activate --config "$T/sistab" --all 2>"$T/err"
	grep -q "no volume 9" "$T/err" || fail "sistab: bad volume not reported"
	grep -qx "create r0 --table 0 131072 sis $img" "$T/fake.log" || fail "sistab r0: $(cat "$T/fake.log")"
	grep -qx "create d1 --table 0 2097152 sis $img 4 commit_interval 3 volume 1" "$T/fake.log" ||
		fail "sistab d1: $(cat "$T/fake.log")"
	! grep -q "create bad" "$T/fake.log" || fail "dmsetup ran for a missing volume"
}

# The online path: with --dm the tool resolves names on the committed
# volume table and sends the dm message (the grammar of
# include/sis-target.h); the image is never written.
test_volume_online() {
	local img=$T/on.img before
	export SIS_DMSETUP=$FAKE FAKE_LOG=$T/fake.log FAKE_TABLE="0 131072 sis $T/on.img"
	fresh 64M "$img"
	"$SIS" format -q --name root "$img"
	"$SIS" volume create "$img" data 1G >/dev/null
	before=$(sum "$img")
	: >"$T/fake.log"
	"$SIS" volume create "$img" web 2G --dm pool0 | grep -qx "pool0: sent 'create_volume 2 524288 web'" ||
		fail "create message"
	"$SIS" volume clone "$img" data snap --dm pool0 --id 7 >/dev/null
	"$SIS" volume delete "$img" data --dm pool0 >/dev/null
	"$SIS" volume resize "$img" --id 0 1G --dm pool0 >/dev/null
	cat "$T/fake.log"
	diff - "$T/fake.log" <<EOF2 || fail "dmsetup calls differ"
table pool0
message pool0 0 create_volume 2 524288 web
table pool0
message pool0 0 clone_volume 7 1 snap
table pool0
message pool0 0 delete_volume 1
table pool0
message pool0 0 set_volume_size 0 262144
EOF2
	# Refused before any message: names, shrinking, a device that is not sis.
	: >"$T/fake.log"
	expect_rc 1 "$SIS" volume create "$img" data 1G --dm pool0 2>"$T/err"
	grep -q "a volume named 'data' exists already" "$T/err" || fail "online duplicate"
	expect_rc 1 "$SIS" volume delete "$img" nosuch --dm pool0
	expect_rc 1 "$SIS" volume resize "$img" data 4K --dm pool0
	FAKE_TABLE="0 1000 linear 8:16 0" expect_rc 1 "$SIS" volume delete "$img" data --dm lin 2>"$T/err"
	grep -q "lin is not a sis device" "$T/err" || fail "not sis: $(cat "$T/err")"
	! grep -q '^message' "$T/fake.log" || fail "a refused command sent a message"
	FAKE_RC=1 expect_rc 1 "$SIS" volume delete "$img" data --dm pool0
	[ "$(sum "$img")" = "$before" ] || fail "the online path wrote to the image"
}

# ---- run ------------------------------------------------------------------
make_base >"$T/base.log" 2>&1 || { cat "$T/base.log"; echo "FAIL: tools/populate-base"; echo "0 passed, 1 failed"; exit 1; }

run_all() {
	t usage test_usage
	t help test_help
	t sizes test_sizes
	t format/refuses-signatures test_format_refuses
	t format/check-clean test_format_check_clean
	t check/populated-clean test_populated_clean
	t check/not-dm-sis test_not_sis
	t check/truncated test_truncated
	t check/crash-image test_crash_image
	t check/no-data test_no_data
	t check/max-lines test_cap
	#                               kind           check repair map   verify
	t damage/sb-a           damage_case sb-a           1     0      same  0
	t damage/sb-b           damage_case sb-b           1     0      same  0
	t damage/sb-both        damage_case sb-both        4     4      -     -
	t damage/needs-check    damage_case needs-check    1     0      same  0
	t damage/map-csum       damage_case map-csum       4     0      lost  1
	t damage/rc-csum        damage_case rc-csum        4     0      same  0
	t damage/version-1      damage_case version-1      8     8      -     -
	t damage/version-2      damage_case version-2      8     8      -     -
	t damage/version-3      damage_case version-3      8     8      -     -
	t damage/version-5      damage_case version-5      8     8      -     -
	t damage/version-msg    test_version_msg
	t damage/rc-high        damage_case rc-high        1     0      same  0
	t damage/rc-low         damage_case rc-low         4     0      same  0
	t damage/leak           damage_case leak           1     0      same  0
	t damage/dangling       damage_case dangling       4     0      plus1 0
	t damage/dangling-range damage_case dangling-range 4     0      same  0
	t damage/fp-bad         damage_case fp-bad         4     0      same  0
	t damage/data-corrupt   damage_case data-corrupt   4     0      same  1
	t repair/default-journal test_default_journal
	t stats test_stats
	t create test_create
	t volume/create-clone-delete test_volumes
	t volume/table-full test_volume_table_full
	t volume/small-journal test_volume_small_journal
	t volume/needs-check test_volume_needs_check
	t volume/create-activate test_create_volume
	t volume/online test_volume_online
}

PFX=tools
run_all
# Again with the tool built with ASan and UBSan (against the asan core), when
# the userspace build made those libraries.
if [ -f "$O/asan/libsis-core.a" ] && [ -z "${SIS_NO_ASAN:-}" ]; then
	if gcc -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=all "${CF[@]}" "$REPO"/userspace/sis*.c \
		"$O/asan/libsis-backend.a" "$O/asan/libsis-core.a" -pthread \
		-fsanitize=address,undefined -o "$T/sis-asan" >"$T/build-asan.log" 2>&1; then
		SIS=$T/sis-asan PFX=tools-asan run_all
	else
		cat "$T/build-asan.log"
		echo "FAIL: tools-asan/build"
		FAILED=$((FAILED + 1))
	fi
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
