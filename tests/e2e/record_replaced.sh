#!/bin/bash
# Files replaced while cprof record runs (docs/design.md §4.3). The
# replaced workload waits in its own code while recording begins; then
# another build of its library (other code, other CFI at the same
# addresses) is renamed over the library's path, another program over the
# binary's, and only then does the workload enter the library. The
# unwinder opens the library's file at its first sample there, after the
# rename, and the recorder reports the modules again when the maps change
# (the paths now end in " (deleted)"): whatever it opens must be the file
# mapped, never the one now at the path. Every sample of the workload's
# time in the library must name the library's three functions and reach
# main through them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

mkdir -p "$T/bin" "$T/lib"
cp "$WORKLOAD_DIR/replaced_nofp" "$T/bin/replaced"
cp "$WORKLOAD_DIR/libreplaced_a.so" "$T/lib/libreplaced.so"
: > "$T/ready"
start_bg "$T/bin/replaced" "$T/lib/libreplaced.so" 60 "$T/go" > "$T/ready"
pid=$BG_PID
wait_for 10 "the replaced workload to start" grep -q ready "$T/ready"

prof="$T/replaced.pprof"
"$CPROF" record -q -p "$pid" -o "$prof" --seconds 40 -F 999 &
rec=$!
BG_PIDS+=("$rec")
wait_perf_fds "$rec"
cp "$WORKLOAD_DIR/libreplaced_b.so" "$T/lib/.new" && mv "$T/lib/.new" "$T/lib/libreplaced.so"
cp "$WORKLOAD_DIR/spin_nofp" "$T/bin/.new" && mv "$T/bin/.new" "$T/bin/replaced"
touch "$T/go"
# Until the workload spent 400 ms of CPU in the library (~400 samples where
# 100 are asked), not a fixed time: on CI's loaded machine a target once
# got 4% of a CPU. (--seconds is only the cap.)
rc=0
stop_after_cpu "$pid" 400 "$rec" || rc=$?
[ "$rc" -eq 0 ] || fail "cprof record exited $rc"
stop_bg "$pid"
check_profile "$prof"
stacks="$T/replaced.stacks"
pp_stacks "$prof" > "$stacks"

# The main thread's samples once it left wait_go: all of its time went
# into the library's loop (kernel frames above it or not), and every stack
# must name it and reach main through the library.
after=$(awk -F '\t' -v p="$pid" '$2 == p && (";" $4 ";") !~ /;wait_go;/ { n += $1 } END { print n + 0 }' "$stacks")
[ "$after" -ge 100 ] || fail "only $after samples after the library was entered, need 100 (machine too busy? $(cut -d' ' -f1-3 /proc/loadavg))"
whole=$(awk -F '\t' -v p="$pid" '$2 == p && (";" $4 ";") ~ /;rl_spin_c;rl_spin_b;rl_spin_a;main;/ { n += $1 } END { print n + 0 }' "$stacks")
note "$whole of $after samples in the library reach main through rl_spin_c, rl_spin_b and rl_spin_a"
[ "$whole" -ge $((after * 98 / 100)) ] ||
	{ sort -t "$(printf '\t')" -k1,1nr "$stacks" | head -5; fail "$((after - whole)) of $after samples in the library do not reach main through its functions"; }
pass
