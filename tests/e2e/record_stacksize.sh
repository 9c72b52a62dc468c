#!/bin/bash
# record_stacksize: a user-stack copy too small to reach main is counted as
# truncated, in the profile's comments and in the summary, with a warning;
# the default size reaches main with none truncated (docs/design.md §2); a
# stack deeper than the largest copy (65528 bytes) is not answered with
# "try --stack-size 65528".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/calltree_nofp"
start_bg "$wl" 60	# killed once recorded
pid=$BG_PID
wait_exec "$pid" "$wl"

truncated() {
	pp_raw "$1" | sed -n 's/^Comment: .*[^0-9]\([0-9][0-9]*\) truncated.*/\1/p' | head -1
}

record_cpu "$pid" "$T/small.pprof" 300 --seconds 20 -F 499 --stack-size 64 ||
	fail "cprof record --stack-size 64 exited $?"
mv "$T/record_cpu.err" "$T/err"
check_profile "$T/small.pprof"
pp_stacks "$T/small.pprof" >"$T/small.stacks"
n=$(sample_count "$T/small.stacks")
t=$(truncated "$T/small.pprof")
note "--stack-size 64: $n samples, ${t:-?} truncated; cprof said: $(tr '\n' ' ' <"$T/err")"
[ "$n" -ge 50 ] || fail "only $n samples"
[ -n "$t" ] || fail "no truncated count in the profile's comments"
# 64 bytes hold no caller frame of a's: nearly every stack is cut
[ $((t * 100)) -ge $((n * 90)) ] || fail "$t of $n stacks counted truncated with a 64-byte copy"
grep -Eqi 'truncated|cut short' "$T/err" || fail "the summary does not mention truncated stacks"
# libc's frames below main lie beyond 64 bytes (a, run and main's frames fit)
m=$(pp_share "$T/small.stacks" __libc_start_call_main)
awk -v m="$m" 'BEGIN { exit !(m < 10) }' ||
	fail "__libc_start_call_main reached in $m% of stacks from a 64-byte copy"

"$CPROF" record -q -p "$pid" --seconds 1 -F 499 -o "$T/dflt.pprof" || fail "cprof record exited $?"
t=$(truncated "$T/dflt.pprof")
note "default stack size: ${t:-?} truncated"
[ "$t" = 0 ] || fail "default stack size: $t stacks truncated"
pp_stacks "$T/dflt.pprof" >"$T/dflt.stacks"
m=$(pp_share "$T/dflt.stacks" __libc_start_call_main)
within "$m" 100 5 || fail "default stack size: __libc_start_call_main reached in only $m%"
stop_bg "$pid"

wl="$WORKLOAD_DIR/deepstack_nofp"
start_bg "$wl" 20
pid=$BG_PID
wait_exec "$pid" "$wl"
"$CPROF" record -p "$pid" --seconds 1 -F 499 --stack-size 65528 -o "$T/deep.pprof" 2>"$T/err" ||
	fail "cprof record --stack-size 65528 exited $?"
t=$(truncated "$T/deep.pprof")
note "--stack-size 65528 on a ~100 KiB stack: ${t:-?} truncated; cprof said: $(tr '\n' ' ' <"$T/err")"
[ -n "$t" ] && [ "$t" -gt 0 ] || fail "a 100 KiB stack was not truncated by a 64 KiB copy"
grep -q 'try --stack-size' "$T/err" && fail "cprof suggests a --stack-size it is already at: $(cat "$T/err")"
grep -q 'frame pointers' "$T/err" || fail "no advice for stacks deeper than the largest copy: $(cat "$T/err")"
stop_bg "$pid"
pass
