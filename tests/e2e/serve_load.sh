# serve_load.sh - 20 concurrent clients make 100 goroutine?debug=1 requests
# (bounded, loopback) against a 100-thread target: every one succeeds, the
# target's heartbeat keeps ticking, and cprof's open fds and threads come
# back to where they started.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

# No CPU profile of it is read for its samples: its burner runs 5 ms in
# 100, not half a CPU all the test long (tests/workloads/server_target.c).
export SERVER_TARGET_PAUSE_MS=95
target_start 98 120
serve_start "$TARGET_PID" -q
# Warm the symbol caches: libdwfl opens a module's debug file the first time
# an address in it is looked up and keeps it open, and a busy thread is
# caught in different functions from one capture to the next. Those fds are
# a cache, not a leak: let them open before counting.
for i in $(seq 20); do
	fetch "$BASE/goroutine?debug=1"
	[ "$CODE" = 200 ] || fail "warm-up request $i: $CODE"
done
sleep 0.3
fds0=$(ls /proc/$SERVE_PID/fd | wc -l)
fdlist() { ls -l /proc/$SERVE_PID/fd 2>/dev/null | awk 'NR > 1 { print $(NF - 2), $NF }' | sort; }
fdlist >"$T/fds0"
thr0=$(ls /proc/$SERVE_PID/task | wc -l)
h0=$(heartbeat)
t0=$(date +%s%N)

client() {
	local i
	for i in $(seq 5); do
		curl -sS -o "$T/body.$1.$i" -w '%{http_code}\n' --max-time 60 "$BASE/goroutine?debug=1" || echo 000
	done >"$T/codes.$1"
}
pids=()
for c in $(seq 20); do
	client "$c" &
	pids+=($!)
	BG_PIDS+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "client $p failed"
done
t1=$(date +%s%N)
h1=$(heartbeat)

ok=$(cat "$T"/codes.* | grep -c '^200$' || true)
[ "$ok" -eq 100 ] || fail "$ok of 100 requests succeeded: $(sort "$T"/codes.* | uniq -c)"
for f in "$T"/body.*.*; do
	[ "$(head -1 "$f")" = "threads profile: total 100" ] || fail "$f: $(head -1 "$f")"
done
ms=$(((t1 - t0) / 1000000))
beats=$((h1 - h0))
note "100 requests in ${ms} ms; heartbeat +$beats (one per 20 ms when never delayed)"
# Each capture stops the target for a few ms; it must still make progress
# through the load, not freeze.
[ "$beats" -ge $((ms / 20 / 6)) ] || fail "the heartbeat advanced $beats in $ms ms"

# Connections close, their threads end; nothing leaks.
back() {
	[ "$(ls /proc/$SERVE_PID/fd | wc -l)" -le "$fds0" ] &&
		[ "$(ls /proc/$SERVE_PID/task | wc -l)" -le "$thr0" ]
}
if ! back; then
	for i in $(seq 300); do back && break; sleep 0.05; done
fi
back || fail "cprof's fds ($fds0) and threads ($thr0) did not come back within 15 s; new fds: $(fdlist | comm -13 "$T/fds0" - | tr '\n' ' ')(ss tcp: $(ss -tanp 2>/dev/null | grep "pid=$SERVE_PID," | awk '{ print $1, $4, $5 }' | tr '\n' ';') unix: $(ss -xanp 2>/dev/null | grep "pid=$SERVE_PID," | awk '{ print $1, $2, $5, $7 }' | tr '\n' ';')): now $(ls /proc/$SERVE_PID/fd | wc -l) fds, $(ls /proc/$SERVE_PID/task | wc -l) threads; fds: $(ls -l /proc/$SERVE_PID/fd | awk 'NR > 1 { print $NF }' | sort | uniq -c | tr '\n' ' '); threads: $(cat /proc/$SERVE_PID/task/*/wchan 2>/dev/null | tr '\n' ' ')"
[ "$(awk '/^TracerPid/ { print $2 }' /proc/$TARGET_PID/status)" = 0 ] || fail "target left traced"
state=$(awk '{ print $3 }' /proc/$TARGET_PID/stat)
[ "$state" != T ] && [ "$state" != t ] || fail "target left stopped"
pass "100 requests from 20 clients in ${ms} ms; fds $fds0, threads $thr0 again"
