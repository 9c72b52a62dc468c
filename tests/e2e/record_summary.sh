#!/bin/bash
# record_summary: what `cprof record` says and returns at the end. The
# summary's counts are in the singular for one; a target that was stopped
# is reported as stopped, not as idle; with a command, cprof exits with the
# command's status (128+N for signal N) once the profile is written, but
# keeps its own status when it failed itself.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

W="$WORKLOAD_DIR/childwork_nofp"

# One thread of one process.
rc=0
"$CPROF" record -F 999 -o "$T/one.pprof" -- "$W" 0.2 >"$T/one.out" 2>"$T/one.err" || rc=$?
[ "$rc" -eq 0 ] || fail "childwork: cprof exited $rc: $(cat "$T/one.err")"
grep -Eq '^cprof: [0-9]+ samples \([0-9]+ lost, [0-9]+ truncated stacks?\) from 1 thread in 1 process in [0-9.]+ s$' "$T/one.err" ||
	fail "summary of one thread in one process: $(grep 'samples' "$T/one.err")"

# The command's exit status.
for want in 0 3 77; do
	rc=0
	"$CPROF" record -q -o "$T/st.pprof" -- sh -c "exit $want" >/dev/null 2>"$T/st.err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "sh -c 'exit $want': cprof exited $rc: $(cat "$T/st.err")"
	check_profile "$T/st.pprof"
done
rc=0
"$CPROF" record -q --no-children -o "$T/st.pprof" -- sh -c 'exit 5' 2>"$T/st.err" || rc=$?
[ "$rc" -eq 5 ] || fail "--no-children, sh -c 'exit 5': cprof exited $rc"
# Killed by a signal: 128 + N, as a shell says.
rc=0
"$CPROF" record -o "$T/sig.pprof" -- sh -c 'kill -TERM $$' 2>"$T/sig.err" || rc=$?
[ "$rc" -eq 143 ] || fail "command killed by SIGTERM: cprof exited $rc, want 143: $(cat "$T/sig.err")"
grep -q 'killed by signal 15' "$T/sig.err" || fail "the signal is not reported: $(cat "$T/sig.err")"
check_profile "$T/sig.pprof"
# cprof's own failure keeps cprof's status, whatever the command's.
rc=0
"$CPROF" record -o /nonexistent-dir/x.pprof -- sh -c 'exit 3' 2>"$T/own.err" || rc=$?
[ "$rc" -eq 2 ] || fail "unwritable output: cprof exited $rc, want its own 2: $(cat "$T/own.err")"
rc=0
"$CPROF" record --no-such-option -- sh -c 'exit 3' 2>"$T/own.err" || rc=$?
[ "$rc" -eq 64 ] || fail "bad option: cprof exited $rc, want 64"

# A stopped target: said to be stopped, with the way to resume it.
start_bg "$W" 5
pid=$BG_PID
wait_exec "$pid" "$W"
kill -STOP "$pid"
wait_for 10 "pid $pid to stop" sh -c "grep -q '^State:.*T (stopped)' /proc/$pid/status"
run_cprof out err rc record -p "$pid" -s 1 -o "$T/stopped.pprof"
[ "$rc" -eq 0 ] || fail "stopped target: cprof exited $rc: $err"
grep -q "no samples: pid $pid (childwork_nofp) was stopped (state T) while it was recorded" <<<"$err" ||
	fail "stopped target not reported as stopped: $err"
grep -q "^hint: .*kill -CONT $pid" <<<"$err" || fail "no hint to resume the stopped target: $err"
grep -q "used no CPU" <<<"$err" && fail "a stopped target is said to have used no CPU: $err"
# Stopped during part of the recording: the samples are there, and a
# warning says why there are fewer.
kill -CONT "$pid"
start_bg "$CPROF" record -p "$pid" -F 999 -o "$T/part.pprof" 2>"$T/part.err"
cp=$BG_PID
wait_for 30 "cprof to start recording" grep -q '^cprof: recording pid' "$T/part.err"
# 200 ms of CPU while recorded (utime, clock ticks: field 14 of stat)
t0=$(cut -d' ' -f14 "/proc/$pid/stat")
wait_for 60 "pid $pid to run while recorded" sh -c "[ \$(cut -d' ' -f14 /proc/$pid/stat) -gt $((t0 + 20)) ]"
kill -STOP "$pid"
wait_for 10 "pid $pid to stop" sh -c "grep -q '^State:.*T (stopped)' /proc/$pid/status"
kill -INT "$cp"
rc=0
wait "$cp" || rc=$?
forget_bg "$cp"
stop_bg "$pid"
[ "$rc" -eq 0 ] || fail "partly stopped target: cprof exited $rc: $(cat "$T/part.err")"
grep -q "pid $pid (childwork_nofp) was stopped (state T) during part of the recording" "$T/part.err" ||
	fail "partly stopped target: no warning: $(cat "$T/part.err")"
pass
