#!/bin/bash
# record_report: `cprof report FILE` lists the workload's top function, with
# a flat% that agrees with go tool pprof's reading of the same file; a file
# that is not pprof gets an error and a non-zero exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/calltree_nofp"
start_bg "$wl" 60	# killed once recorded
pid=$BG_PID
wait_exec "$pid" "$wl"
prof="$T/ct.pprof"
record_p "$pid" "$prof" --seconds 2 -F 999 || fail "cprof record exited $?"
stop_bg "$pid"
check_profile "$prof"

run_cprof out err rc report "$prof"
[ "$rc" -eq 0 ] || fail "cprof report exited $rc: $err"
grep -Eqi 'flat.*flat%.*sum%.*cum.*cum%' <<<"$out" || fail "no flat/flat%/sum%/cum/cum% header in: $out"
# first row after the header is the top function: a (50% of the work)
first=$(awk '/flat%/ { getline; print; exit }' <<<"$out")
[ "$(awk '{ print $NF }' <<<"$first")" = a ] || fail "top row is not a: '$first'"
mine=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /%$/) { sub("%", "", $i); print $i; exit } }' <<<"$first")
# pprof -top's row for the same function
theirs=$(gopprof -symbolize=none -top "$prof" 2>/dev/null | awk '$NF == "a" { sub("%", "", $2); print $2; exit }')
note "flat% of a: cprof report $mine, go tool pprof $theirs"
within "$mine" "$theirs" 0.2 || fail "cprof report says a has $mine% flat, pprof says $theirs%"
# b_leaf and c_leaf are listed too
grep -Eq '[[:space:]]b_leaf$' <<<"$out" || fail "b_leaf missing from report"
grep -Eq '[[:space:]]c_leaf$' <<<"$out" || fail "c_leaf missing from report"

# --top limits the rows
run_cprof out err rc report --top 1 "$prof"
[ "$rc" -eq 0 ] || fail "cprof report --top 1 exited $rc"
grep -Eq '[[:space:]]b_leaf$' <<<"$out" && fail "--top 1 still lists b_leaf"

# not a profile
printf 'not a profile\n' >"$T/junk"
run_cprof out err rc report "$T/junk"
[ "$rc" -ne 0 ] || fail "report on junk exited 0"
grep -q '^cprof: ' <<<"$err" || fail "report on junk: no 'cprof:' error line: $err"
run_cprof out err rc report "$T/missing.pprof"
[ "$rc" -ne 0 ] || fail "report on a missing file exited 0"
pass
