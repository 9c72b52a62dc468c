#!/bin/bash
# record_many_threads: a 1,000-thread target needs one perf event per
# (thread x CPU), more than the usual soft limit of 1,024 open files:
# cprof raises RLIMIT_NOFILE itself, samples the busy threads, and leaves
# every thread of the target running and untraced.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 4096 ] ||
	fail "hard RLIMIT_NOFILE is $hard: this test needs at least 4096"
ulimit -Sn 1024

"$WORKLOAD_DIR/manythreads_nofp" 1000 45 >"$T/ready" &
pid=$!
BG_PIDS+=("$pid")
wait_for 20 "1,000 threads started" grep -q "^ready" "$T/ready"
n=$(ls "/proc/$pid/task" | wc -l)
[ "$n" -ge 1000 ] || fail "workload has only $n threads"

record_cpu "$pid" "$T/many.pprof" 300 --seconds 20 -F 499 ||
	fail "cprof record of $n threads with a soft limit of 1024 fds exited $?: $(cat "$T/record_cpu.err")"
mv "$T/record_cpu.err" "$T/err"
check_profile "$T/many.pprof"
threads=$(sed -n 's/.* from \([0-9]*\) threads in.*/\1/p' "$T/err")
[ -n "$threads" ] && [ "$threads" -ge 2 ] ||
	fail "expected samples from the busy threads, summary: $(cat "$T/err")"
pp_stacks "$T/many.pprof" >"$T/stacks"
enough_samples many "$T/stacks" 50

# nothing left behind: no thread stopped or traced, no perf fd open
tracer=$(awk '/^TracerPid/ { print $2 }' "/proc/$pid/status")
[ "$tracer" = 0 ] || fail "target traced by $tracer after cprof exited"
stopped=$(cat /proc/"$pid"/task/*/stat 2>/dev/null | sed 's/.*) //' | awk '$1 == "T" || $1 == "t"' | wc -l)
[ "$stopped" -eq 0 ] || fail "$stopped threads stopped after cprof exited"
pass "$n threads recorded with a soft fd limit of 1024; samples from $threads threads"
