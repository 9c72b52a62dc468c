#!/bin/bash
# leader_exit: a process whose main thread called pthread_exit (its leader
# is a zombie, /proc/PID/maps empty) while other threads run is recorded and
# dumped like any other: its memory is read through a live thread's /proc
# entry (procfs_proc_tid), not refused as a zombie.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/leader_exit_nofp"
start_bg "$wl" 40
pid=$BG_PID
wait_for 5 "the leader to exit" grep -q '^State:.*Z' "/proc/$pid/status"

run_cprof out err rc threads -p "$pid"
note "cprof threads: exit $rc; $(head -c 300 <<<"$err")"
[ "$rc" = 0 ] || fail "cprof threads exited $rc: $err"
grep -q "^thread $pid (.*) \[zombie" <<<"$out" ||
	fail "the exited leader is not shown as a zombie: $(head -3 <<<"$out")"
grep -q '^  leader_park(' <<<"$out" || fail "no leader_park frame in the dump"
grep -q '^  leader_spin' <<<"$out" || fail "no leader_spin frame in the dump"
grep -q 'leader_exit.c:[0-9]' <<<"$out" || fail "no file:line of the workload in the dump"

prof="$T/le.pprof"
record_cpu "$pid" "$prof" 800 --seconds 25 -F 499 || fail "cprof record exited $?"
check_profile "$prof"
check_accounting leader_exit "$prof" "$REC_CPU_MS"
pp_stacks "$prof" >"$T/le.stacks"
enough_samples leader_exit "$T/le.stacks" 200
share=$(pp_share "$T/le.stacks" leader_spin)
note "leader_spin in $share% of the samples"
within "$share" 100 5 || fail "leader_spin in only $share% of the samples"
pp_raw "$prof" | grep -q "^Comment: cmdline: .*leader_exit_nofp 40" ||
	fail "the profile has no command line comment"
stop_bg "$pid"
pass
