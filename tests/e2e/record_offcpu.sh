#!/bin/bash
# record_offcpu: the block, mutex and wall profiles of a process whose
# threads wait in known ways (tests/workloads/waits.c: a sleeper, a mutex
# holder and a waiter, a condition variable, a pipe), read by go tool pprof
# and compared with what the workload measured of its own waits over the
# same window (SIGUSR1 prints its running totals before and after):
#   block: each wait function's share of the delay within 5 points of its
#          measured share; the leaf names the system call
#   mutex: the lock waits and nothing else, woken by the holder
#   wall:  every thread's total within 2% of the window, on- and off-CPU
#          samples labelled
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

FUNCS="sleeper_wait holder_hold holder_rest locker_wait locker_rest cond_wait_fn pipe_read_fn main_tick"
wl="$WORKLOAD_DIR/waits_nofp"
start_bg sh -c "exec '$wl' 60 >'$T/waits.out'"
pid=$BG_PID
wait_exec "$pid" "$wl"

# totals: asks for the running totals and prints the new line.
totals() {
	local n
	n=$(grep -c '^waits' "$T/waits.out" || true)
	kill -USR1 "$pid"
	wait_for 5 "the workload's totals" \
		sh -c "[ \$(grep -c '^waits' '$T/waits.out') -gt $n ]"
	grep '^waits' "$T/waits.out" | tail -1
}

# measured_shares BEFORE AFTER: "FUNC SHARE" of each wait function, from the
# difference of two totals lines.
measured_shares() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 2; i <= n; i++) {
			split(x[i], p, "="); split(y[i], q, "=")
			d[p[1]] = q[2] - p[2]; tot += q[2] - p[2]; name[i] = p[1]
		}
		for (i = 2; i <= n; i++)
			printf "%s %.1f\n", name[i], 100 * d[name[i]] / tot
	}'
}

# pp_focus PROF INDEX FUNC: FUNC's share (percent) of the profile's total
# of sample type INDEX, as go tool pprof counts it; 0 when nothing matches.
pp_focus() {
	local out
	out=$(gopprof -symbolize=none -sample_index="$2" -top -focus="^$3\$" "$1" 2>&1) ||
		fail "go tool pprof cannot read $1: $out"
	sed -n 's/^Showing nodes accounting for [^,]*, \([0-9.]*\)% of .*/\1/p' <<<"$out" |
		head -1 | grep . || echo 0
}

sleep 0.3	# past the threads' start
before=$(totals)
"$CPROF" record -q -p "$pid" --profile block -s 3 -o "$T/block.pprof" ||
	fail "cprof record --profile block exited $?"
after=$(totals)
raw=$(pp_raw "$T/block.pprof") || fail "go tool pprof cannot read the block profile"
grep -Eq '^contentions/count(\[dflt\])? delay/nanoseconds(\[dflt\])?$' <<<"$raw" ||
	fail "block: sample types are not contentions/count delay/nanoseconds"
measured=$(measured_shares "$before" "$after")
for f in $FUNCS; do
	want=$(awk -v f="$f" '$1 == f { print $2 }' <<<"$measured")
	got=$(pp_focus "$T/block.pprof" delay "$f")
	note "block: $f has $got% of the delay, measured $want%"
	within "$got" "$want" 5 || fail "block: $f has $got% of the delay, the workload measured $want%"
done
# The system call is the leaf, a frame of its own: under each wait
# function, that frame's own (flat) delay is all of the function's.
for pair in "pipe_read_fn [syscall] read" "sleeper_wait [syscall] clock_nanosleep" \
	    "locker_wait [syscall] futex" "cond_wait_fn [syscall] futex"; do
	f=${pair%% *}
	leaf=${pair#* }
	out=$(gopprof -symbolize=none -sample_index=delay -top -focus="^$f\$" "$T/block.pprof" 2>&1)
	all=$(sed -n 's/^Showing nodes accounting for [^,]*, \([0-9.]*\)% of .*/\1/p' <<<"$out")
	flat=$(awk -v leaf="$leaf" '{ name = $6; for (i = 7; i <= NF; i++) name = name " " $i }
		name == leaf { sub("%", "", $2); print $2 }' <<<"$out")
	within "${flat:-0}" "$all" 0.5 ||
		fail "block: '$leaf' is the leaf of ${flat:-0}% of the delay, $f has $all%: $out"
done

"$CPROF" record -q -p "$pid" --profile mutex -s 3 -o "$T/mutex.pprof" ||
	fail "cprof record --profile mutex exited $?"
got=$(pp_focus "$T/mutex.pprof" delay locker_wait)
note "mutex: locker_wait has $got% of the delay"
within "$got" 100 10 || fail "mutex: locker_wait has only $got% of the lock waits"
for f in sleeper_wait cond_wait_fn pipe_read_fn main_tick holder_rest locker_rest; do
	got=$(pp_focus "$T/mutex.pprof" delay "$f")
	within "$got" 0 2 || fail "mutex: $f, not a lock wait, has $got% of the delay"
done
tags=$(gopprof -symbolize=none -sample_index=delay -tags "$T/mutex.pprof" 2>&1)
waker=$(awk '/^ *waker_thread_name:/ { s = 1; next } /^ *[a-z_]+: Total/ { s = 0 }
	s && /: holder$/ && match($0, /\( *[0-9.]+%\)/) {
		v = substr($0, RSTART, RLENGTH); gsub(/[() %]/, "", v); print v }' <<<"$tags")
note "mutex: the holder woke the waiter in ${waker:-0}% of the delay"
within "${waker:-0}" 100 10 || fail "mutex: waker_thread_name is holder for ${waker:-0}% of the delay: $tags"

"$CPROF" record -q -p "$pid" --profile wall -s 3 -o "$T/wall.pprof" ||
	fail "cprof record --profile wall exited $?"
raw=$(pp_raw "$T/wall.pprof")
grep -Eq '^samples/count(\[dflt\])? wall/nanoseconds(\[dflt\])?$' <<<"$raw" ||
	fail "wall: sample types are not samples/count wall/nanoseconds"
grep -q 'state:\[on-cpu\]' <<<"$raw" || fail "wall: no sample is labelled state=on-cpu"
grep -q 'state:\[off-cpu\]' <<<"$raw" || fail "wall: no sample is labelled state=off-cpu"
dur=$(sed -n 's/^Duration: *//p' <<<"$raw" | head -1)
# The waits have their stacks: the sleeper's sleep is under sleeper_wait,
# named by its system call, and off the CPU.
out=$(gopprof -symbolize=none -sample_index=wall -top -focus='^sleeper_wait$' \
	-tagfocus=state=off-cpu "$T/wall.pprof" 2>&1)
grep -Eq ' \[syscall\] clock_nanosleep$' <<<"$out" ||
	fail "wall: the sleeper's waits have no stack: $out"
own=$(sed -n 's/^Comment: cprof: [0-9]* off-CPU intervals*, \([0-9]*\) with.*/\1/p' <<<"$raw")
[ "${own:-0}" -gt 0 ] || fail "wall: no wait has its own stack: $(grep Comment <<<"$raw")"
PP_VALUE=2 pp_stacks "$T/wall.pprof" >"$T/wall.stacks"
per_thread=$(awk -F '\t' '{ t[$3] += $1 } END { for (k in t) printf "%s %.3f\n", k, t[k] / 1e9 }' \
	"$T/wall.stacks" | sort)
note "wall: window ${dur}s; per thread: $(tr '\n' ' ' <<<"$per_thread")"
[ "$(wc -l <<<"$per_thread")" -eq 6 ] || fail "wall: want 6 threads, got: $per_thread"
while read -r name secs; do
	awk -v s="$secs" -v d="$dur" 'BEGIN { exit !(s >= 0.98 * d && s <= 1.02 * d) }' ||
		fail "wall: thread $name adds up to ${secs}s, the window is ${dur}s"
done <<<"$per_thread"
pass
