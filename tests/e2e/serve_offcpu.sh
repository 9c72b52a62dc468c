#!/bin/bash
# serve_offcpu.sh - /debug/pprof/block, mutex and wall of the waits workload
# through go tool pprof; a CPU and a block profile at the same time both
# succeed, and so does a second block profile meanwhile (its own perf
# session: up to HTTP_MAX_RECORDINGS of a kind); block and mutex
# with debug=1 give Go's contention text, which go tool pprof reads too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

wl="$WORKLOAD_DIR/waits_nofp"
start_bg "$wl" 60
wait_exec "$BG_PID" "$wl"
target=$BG_PID
serve_start "$target"

# A CPU and a block profile at once, and a second block one meanwhile.
# 6 s each: on a loaded machine a session's set-up (kallsyms, the
# target's modules) can take seconds under ASan.
curl -sS -o "$T/cpu.pb" -w '%{http_code}' --max-time 60 "$BASE/profile?seconds=6" >"$T/cpu.code" &
c1=$!
curl -sS -o "$T/block.pb" -w '%{http_code}' --max-time 60 "$BASE/block?seconds=6" >"$T/block.code" &
c2=$!
# Both sessions open: one event per thread and CPU each (6 threads).
ncpu=$(nproc)
wait_for 10 "both profiles to start" sh -c \
	"[ \$(ls -l /proc/$SERVE_PID/fd | grep -c perf_event) -ge $((2 * 6 * ncpu)) ]"
fetch "$BASE/block?seconds=1"
expect_reply "second block" 200 "application/octet-stream"
pp_raw "$T/body" | grep -Eq '^contentions/count(\[dflt\])? delay/nanoseconds(\[dflt\])?$' ||
	fail "second block: not a block profile"
wait "$c1" "$c2"
[ "$(cat "$T/cpu.code")" = 200 ] || fail "profile beside block: status $(cat "$T/cpu.code")"
[ "$(cat "$T/block.code")" = 200 ] || fail "block beside profile: status $(cat "$T/block.code")"
raw=$(pp_raw "$T/cpu.pb") || fail "go tool pprof cannot read the CPU profile"
grep -q '^PeriodType: cpu nanoseconds$' <<<"$raw" || fail "profile: not a CPU profile"
raw=$(pp_raw "$T/block.pb") || fail "go tool pprof cannot read the block profile"
grep -Eq '^contentions/count(\[dflt\])? delay/nanoseconds(\[dflt\])?$' <<<"$raw" ||
	fail "block: not contentions/count delay/nanoseconds"
for f in sleeper_wait cond_wait_fn pipe_read_fn locker_wait; do
	grep -q " $f " <<<"$raw" || fail "block: no $f"
done

# pprof's own fetch of each kind.
out=$(gopprof -symbolize=none -raw "$BASE/mutex?seconds=2" 2>"$T/pprof.err") ||
	fail "go tool pprof mutex: $(cat "$T/pprof.err")"
grep -q ' locker_wait ' <<<"$out" || fail "mutex: no locker_wait"
! grep -q ' pipe_read_fn \| sleeper_wait ' <<<"$out" || fail "mutex: a pipe or sleep wait"
grep -q 'waker_thread_name:\[holder\]' <<<"$out" || fail "mutex: no waker label naming the holder"
out=$(gopprof -symbolize=none -raw "$BASE/wall?seconds=1" 2>"$T/pprof.err") ||
	fail "go tool pprof wall: $(cat "$T/pprof.err")"
grep -Eq '^samples/count(\[dflt\])? wall/nanoseconds(\[dflt\])?$' <<<"$out" || fail "wall: sample types"
grep -q 'state:\[on-cpu\]' <<<"$out" && grep -q 'state:\[off-cpu\]' <<<"$out" ||
	fail "wall: not both states labelled"

# Go's text layout, read by go tool pprof's legacy parser.
fetch "$BASE/mutex?seconds=1&debug=1"
expect_reply "mutex debug=1" 200 "text/plain; charset=utf-8"
head -3 "$T/body" | cmp -s - <(printf -- '--- contention:\ncycles/second=1000000000\nsampling period=1\n') ||
	fail "mutex debug=1: header '$(head -3 "$T/body")'"
grep -Eq '^[0-9]+ [0-9]+ @( 0x[0-9a-f]+)+$' "$T/body" || fail "mutex debug=1: no 'DELAY COUNT @ PCS' line"
grep -Pq '^#\t0x[0-9a-f]+\tlocker_wait\t' "$T/body" || fail "mutex debug=1: no locker_wait frame"
fetch "$BASE/block?seconds=1&debug=1"
cp "$T/body" "$T/block.txt"
out=$(gopprof -symbolize=none -top "$T/block.txt" 2>&1) || fail "go tool pprof cannot read block debug=1: $out"
grep -q '^Type: delay$' <<<"$out" || fail "block debug=1 read as: $out"

fetch "$BASE/block?seconds=x"
[ "$CODE" = 400 ] || fail "block?seconds=x: $CODE"
stop_bg "$SERVE_PID"
grep -q 'State:.*[SR]' "/proc/$target/status" || fail "target left $(grep State: /proc/$target/status)"
pass
