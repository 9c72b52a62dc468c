# serve_fds.sh - other requests are answered while a CPU profile holds more
# than FD_SETSIZE (1024) descriptors: a profile opens one perf event per
# thread and CPU, so connections accepted meanwhile get descriptors above
# 1024, which libmicrohttpd's default select() cannot watch (it reset them:
# every scrape failed for the whole length of every profile).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

cpus=$(getconf _NPROCESSORS_ONLN)
n=$((1100 / cpus + 10))
[ "$n" -ge 20 ] || n=20
# No CPU profile of it is read for its samples: its burner runs 5 ms in
# 100, not half a CPU all the test long (tests/workloads/server_target.c).
export SERVER_TARGET_PAUSE_MS=95
target_start "$n" 60
serve_start "$TARGET_PID" -q

curl -sS -o "$T/p" -w '%{http_code}' --max-time 60 "$BASE/profile?seconds=4" >"$T/p.code" &
C=$!
BG_PIDS+=("$C")
many_fds() { [ "$(ls /proc/$SERVE_PID/fd | wc -l)" -gt 1030 ]; }
wait_for 20 "cprof serve to hold more than 1030 descriptors" many_fds
fetch "$BASE/cmdline"
expect_reply "cmdline during a profile" 200 "text/plain; charset=utf-8"
fetch "$BASE/goroutine?debug=1"
expect_reply "goroutine during a profile" 200 "text/plain; charset=utf-8"
[ "$(head -1 "$T/body")" = "threads profile: total $((n + 2))" ] ||
	fail "goroutine during a profile: '$(head -1 "$T/body")'"
many_fds || fail "the profile ended before the requests: the test proves nothing"
wait "$C" || fail "the profile request failed"
[ "$(cat "$T/p.code")" = 200 ] || fail "profile: $(cat "$T/p.code") $(head -c 300 "$T/p")"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not exit 0 on SIGTERM"
pass "requests answered while a profile holds $((n * cpus)) perf events"
