# serve_bad.sh - bad requests get Go's status and wording, hostile clients
# (garbage bytes, oversized URLs and headers, a client that stalls) are
# rejected or timed out, and after each of them the server still answers.
# Also: the target exiting during a profile (a 503 naming it, then serve
# exits 0). Concurrent profiles: serve_scrape.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

# Its own exit is the test's to choose: a lifetime past the test's 300 s timeout
# (the test took 115 s under a load average of 30).
# No CPU profile of it is read here: its burner runs 5 ms in 100, not
# half a CPU all the test long (tests/workloads/server_target.c).
export SERVER_TARGET_PAUSE_MS=95
target_start 4 290
serve_start "$TARGET_PID" --max-seconds 20 --client-timeout 2

still_answers() {
	fetch "$BASE/cmdline"
	[ "$CODE" = 200 ] || fail "after $1: the server no longer answers ($CODE)"
}

secs='invalid value for "seconds" - must be a positive integer'
for v in 0 -5 abc 5s 1.5; do
	fetch "$BASE/profile?seconds=$v"
	expect_go_error "profile?seconds=$v" 400 "$secs"
done
fetch "$BASE/profile?seconds=21"
expect_go_error "profile?seconds=21" 400 \
	"profile duration exceeds the server's limit of 20 seconds"
# Numbers at and past 2^63 and 2^64, both signs: nothing wraps (2^64 + 1
# was served as a 1 s profile, -2^64 as debug=0).
for v in 9223372036854775807 9223372036854775808 18446744073709551615 \
	 18446744073709551616 18446744073709551617 18446744073709551621; do
	fetch "$BASE/profile?seconds=$v"
	expect_go_error "profile?seconds=$v" 400 \
		"profile duration exceeds the server's limit of 20 seconds"
	fetch "$BASE/profile?seconds=-$v"
	expect_go_error "profile?seconds=-$v" 400 "$secs"
	fetch "$BASE/goroutine?debug=-$v"
	expect_go_error "goroutine?debug=-$v" 400 'invalid value for "debug" - must be 0, 1 or 2'
done
# Past 2^63 Go's Atoi clamps: the full dump, as for debug=2.
fetch "$BASE/goroutine?debug=2"
cp "$T/body" "$T/debug2"
for v in 9223372036854775808 18446744073709551616 18446744073709551617; do
	fetch "$BASE/goroutine?debug=$v"
	expect_reply "goroutine?debug=$v" 200 "text/plain; charset=utf-8"
	[ "$(head -1 "$T/body" | cut -d' ' -f1)" = "$(head -1 "$T/debug2" | cut -d' ' -f1)" ] &&
		[ "$(wc -l <"$T/body")" -ge 5 ] ||
		fail "goroutine?debug=$v is not the full dump: $(head -2 "$T/body")"
done
fetch "$BASE/goroutine?debug=x"
expect_go_error "debug=x" 400 'invalid value for "debug" - must be 0, 1 or 2'
fetch "$BASE/goroutine?debug=-1"
expect_go_error "debug=-1" 400 'invalid value for "debug" - must be 0, 1 or 2'
fetch "$BASE/goroutine?seconds=x"
expect_go_error "goroutine?seconds=x" 400 "$secs"
fetch "$BASE/goroutine?seconds=5&debug=1"
expect_go_error "seconds with debug" 400 "seconds and debug params are incompatible"
# Delta profiles (seconds=N) as Go checks them: not past the server's
# write timeout (--max-seconds here), not for cprof's own threads.
fetch "$BASE/goroutine?seconds=20"
expect_go_error "goroutine?seconds=20" 400 "profile duration exceeds server's WriteTimeout"
fetch "$BASE/threads?seconds=1"
expect_go_error "threads?seconds=1" 400 '"seconds" parameter is not supported for this profile type'
still_answers "bad parameters"

for m in DELETE PUT PATCH; do
	fetch "$BASE/goroutine" -X "$m"
	expect_go_error "$m goroutine" 405 "method not allowed"
	[ "$(hdr Allow)" = "GET, HEAD" ] || fail "$m: Allow '$(hdr Allow)'"
done
fetch "$BASE/goroutine" -X POST --data x
[ "$CODE" = 405 ] || fail "POST goroutine: $CODE"
fetch "$BASE/symbol" -X PUT
[ "$CODE" = 405 ] && [ "$(hdr Allow)" = "GET, HEAD, POST" ] || fail "PUT symbol: $CODE $(hdr Allow)"
# A symbol POST larger than the 1 MiB limit.
head -c 1100000 /dev/zero | tr '\0' '1' >"$T/big"
fetch "$BASE/symbol" --data-binary "@$T/big"
[ "$CODE" = 413 ] || fail "oversized symbol POST: $CODE"
# A declared length beyond the limit is answered before the body is read:
# a client announcing 10 GB and sending nothing gets its 413 at once.
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /debug/pprof/symbol HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000000\r\n\r\n' >&5
reply=$(timeout 5 head -c 12 <&5 || true)
exec 5<&-
[ "$reply" = "HTTP/1.1 413" ] || fail "symbol POST declaring 10 GB: reply '$reply'"
# A POST elsewhere is refused without reading its body.
exec 5<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /debug/pprof/goroutine HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000000\r\n\r\n' >&5
reply=$(timeout 5 head -c 12 <&5 || true)
exec 5<&-
[ "$reply" = "HTTP/1.1 405" ] || fail "goroutine POST declaring 10 GB: reply '$reply'"
still_answers "wrong methods"

# Raw bytes that are not HTTP.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf '\x01\x02\xff garbage \x00\r\n\r\n' >&3
reply=$(timeout 5 head -c 12 <&3 || true)
exec 3<&-
[ "$reply" = "HTTP/1.1 400" ] || fail "garbage: reply '$reply'"
still_answers "garbage bytes"

# A 40 KB URL and a 40 KB header: beyond the 32 KiB connection memory.
long=$(head -c 40000 /dev/zero | tr '\0' a)
fetch "$BASE/cmdline?x=$long"
case "$CODE" in 414 | 431) ;; *) fail "40 KB URL: $CODE" ;; esac
fetch "$BASE/cmdline" -H "X-Big: $long"
case "$CODE" in 413 | 431) ;; *) fail "40 KB header: $CODE" ;; esac
still_answers "oversized requests"

# A client that sends half a request and stalls: others are served
# meanwhile, and the server closes it after --client-timeout (2 s).
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /debug/pprof/cmdline HTTP/1.1\r\nHost: localhost\r\n' >&4
still_answers "a stalled client"
start=$(date +%s)
timeout 15 cat <&4 >/dev/null || fail "the stalled connection was not closed"
exec 4<&-
[ $(($(date +%s) - start)) -le 10 ] || fail "the stalled connection lasted too long"
still_answers "a timed-out client"

# A client that gives up on a profile frees the slot at once, not after
# the 20 s it asked for.
curl -s -o /dev/null --max-time 1 "$BASE/profile?seconds=20" && fail "curl did not time out"
no_perf_fds() { ! t_has_perf_fds "$SERVE_PID"; }
wait_for 5 "the abandoned profile to stop" no_perf_fds
fetch "$BASE/profile?seconds=1"
[ "$CODE" = 200 ] || fail "profile after an abandoned one: $CODE $(cat "$T/body")"

# The target exits during a profile: a 503 that says so, and serve stops.
curl -sS -o "$T/p2" -D "$T/p2.hdr" -w '%{http_code}' --max-time 30 "$BASE/profile?seconds=15" >"$T/p2.code" &
C2=$!
BG_PIDS+=("$C2")
wait_perf_fds "$SERVE_PID"
stop_bg "$TARGET_PID"
wait "$C2" || fail "the profile request failed when the target exited"
[ "$(cat "$T/p2.code")" = 503 ] || fail "profile of an exited target: $(cat "$T/p2.code")"
grep -q "process $TARGET_PID exited" "$T/p2" || fail "profile of an exited target: '$(cat "$T/p2")'"
grep -qi '^X-Go-Pprof: 1' "$T/p2.hdr" || fail "exited target: no X-Go-Pprof"
timeout 10 tail --pid="$SERVE_PID" -f /dev/null || fail "serve did not exit after the target"
rc=0
wait "$SERVE_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "serve exited $rc after the target"
grep -q "pid $TARGET_PID exited: stopping the server" "$SERVE_LOG" || fail "no exit message: $(tail -3 "$SERVE_LOG")"
pass "bad input rejected with Go's wording; the server kept answering"
