#!/bin/bash
# report_budget: `cprof report` on input made to amplify (32 MB of 2-byte
# empty samples, a 31 KB gzip, which took 3.9 GiB and 9.4 s before) is
# refused with a one-line error before decoding, in well under 256 MiB;
# a real profile's decoding stays within the estimate the refusal names;
# --max-memory refuses below what a file needs and accepts above it.
set -euo pipefail
. "$SOURCE_DIR/tests/e2e/lib.sh"
t_init

mk="$SOURCE_DIR/tests/helpers/mkprofile.py"
python3 "$mk" bomb 16000000 "$T/bomb.pb.gz" >/dev/null
python3 "$mk" 20 60000 "$T/deep.pb.gz" >/dev/null

rc=0
/usr/bin/time -f '%M' -o "$T/bomb.rss" "$CPROF" report "$T/bomb.pb.gz" >"$T/bomb.out" 2>"$T/bomb.err" || rc=$?
[ "$rc" = 2 ] || fail "bomb: exit $rc, expected 2: $(cat "$T/bomb.err")"
[ ! -s "$T/bomb.out" ] || fail "bomb: printed a report: $(head -3 "$T/bomb.out")"
[ "$(grep -c '^cprof: ' "$T/bomb.err")" = 1 ] && grep -q 'more than 32 times as much' "$T/bomb.err" ||
	fail "bomb: not one error naming the limit: $(cat "$T/bomb.err")"
rss=$(tail -1 "$T/bomb.rss")
note "bomb refused in $rss KiB: $(head -1 "$T/bomb.err")"
[ "$rss" -lt $((256 * 1024)) ] || fail "bomb: $rss KiB of RSS, over 256 MiB"

# A real profile (60,000 samples 20 deep): refused under a small limit,
# naming it and the option that raises it...
rc=0
"$CPROF" report --max-memory 8M "$T/deep.pb.gz" >/dev/null 2>"$T/small.err" || rc=$?
[ "$rc" = 2 ] && grep -q 'more than the limit of 8 MiB' "$T/small.err" &&
	grep -q -- '--max-memory' "$T/small.err" ||
	fail "--max-memory 8M: exit $rc: $(cat "$T/small.err")"
need=$(sed -n 's/.*take about \([0-9]*\) MiB.*/\1/p' "$T/small.err")
[ -n "$need" ] || fail "no estimate in: $(cat "$T/small.err")"
# ...and read under the default, in no more than the estimate.
/usr/bin/time -f '%M' -o "$T/deep.rss" "$CPROF" report --top 3 "$T/deep.pb.gz" >"$T/deep.out" ||
	fail "deep: cprof report exited $?"
grep -q 'func[0-9]' "$T/deep.out" || fail "deep: no function in $(cat "$T/deep.out")"
rss=$(tail -1 "$T/deep.rss")
note "60,000 samples: estimate $need MiB, RSS $((rss / 1024)) MiB"
# The estimate is of glibc's malloc; ASan's allocator adds redzones and a
# quarantine of freed blocks (83 MiB where glibc takes 39): there, only
# that the estimate is not wildly off.
limit=$((need + 8)); [ "${CPROF_SANITIZED:-0}" = 1 ] && limit=$((need * 3 + 64))
[ "$rss" -le $((limit * 1024)) ] || fail "deep: RSS $rss KiB over $limit MiB (estimate $need MiB)"
"$CPROF" report --max-memory "$((need + 1))M" --top 1 "$T/deep.pb.gz" >/dev/null ||
	fail "--max-memory $((need + 1))M: refused"

for bad in 10 -5M 1X 99999999999999999999G; do
	rc=0
	"$CPROF" report --max-memory "$bad" "$T/deep.pb.gz" >/dev/null 2>"$T/bad.err" || rc=$?
	[ "$rc" = 64 ] && grep -q "invalid --max-memory" "$T/bad.err" ||
		fail "--max-memory $bad: exit $rc: $(cat "$T/bad.err")"
done
pass "an amplifying profile is refused before it is decoded; real ones stay within their estimate"
