# serve_endpoints.sh - every /debug/pprof/ endpoint answered as Go's
# net/http/pprof answers (status, Content-Type, headers, body), the loopback
# bind, the access log, and a clean SIGTERM that leaves the target running.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

target_start 6 120 'arg with space' '' "quote'd"
serve_start "$TARGET_PID"
NT=$(ls /proc/$TARGET_PID/task | wc -l)

# Bound to loopback only.
ss -ltnH "sport = :$PORT" >"$T/ss" || fail "ss failed"
grep -q "127.0.0.1:$PORT " "$T/ss" || fail "not listening on 127.0.0.1:$PORT: $(cat "$T/ss")"
[ "$(wc -l <"$T/ss")" -eq 1 ] || fail "more than one listening socket: $(cat "$T/ss")"

fetch "$BASE/"
expect_reply index 200 "text/html; charset=utf-8"
grep -q "<tr><td>$NT</td><td><a href='goroutine?debug=1'>goroutine</a>" "$T/body" ||
	fail "index: no goroutine row with $NT threads"
grep -q "href='threadcreate?debug=1'" "$T/body" || fail "index: no threadcreate link"
grep -q 'href="goroutine?debug=2"' "$T/body" || fail "index: no full dump link"
grep -q "<a href='heap'>heap</a></td>" "$T/body" || fail "index: no heap link"
grep -q "not yet available" "$T/body" && fail "index: a profile still marked unavailable"
grep -q "start routine" "$T/body" || fail "index: threadcreate is not explained"

fetch "$BASE/" -I
[ "$CODE" = 200 ] || fail "HEAD index: $CODE"

fetch "$BASE"
[ "$CODE" = 301 ] && [ "$(hdr Location)" = "/debug/pprof/" ] || fail "/debug/pprof: $CODE $(hdr Location)"
# Go's mux keeps the query when it adds the slash.
fetch "$BASE?a=1&b=<x>"
[ "$CODE" = 301 ] && [ "$(hdr Location)" = "/debug/pprof/?a=1&b=<x>" ] ||
	fail "/debug/pprof?query: $CODE $(hdr Location)"
[ "$(cat "$T/body")" = '<a href="/debug/pprof/?a=1&amp;b=&lt;x&gt;">Moved Permanently</a>.' ] ||
	fail "/debug/pprof?query: body '$(cat "$T/body")'"

# cmdline: byte-exact, the arguments joined by NUL (no trailing NUL).
fetch "$BASE/cmdline"
expect_reply cmdline 200 "text/plain; charset=utf-8"
n=$(stat -c %s "$T/body")
want=$(($(wc -c </proc/$TARGET_PID/cmdline) - 1))
[ "$n" -eq "$want" ] || fail "cmdline: $n bytes, expected $want"
head -c "$want" /proc/$TARGET_PID/cmdline | cmp -s - "$T/body" || fail "cmdline differs from /proc"

for name in goroutine threads; do
	fetch "$BASE/$name?debug=1"
	expect_reply "$name?debug=1" 200 "text/plain; charset=utf-8"
	[ -z "$(hdr Content-Disposition)" ] || fail "$name?debug=1 has a Content-Disposition"
	[ "$(head -1 "$T/body")" = "threads profile: total $NT" ] ||
		fail "$name?debug=1: first line '$(head -1 "$T/body")'"
	for f in server_target_wait_cond server_target_wait_sleep server_target_heartbeat; do
		grep -q "	$f+0x" "$T/body" || fail "$name?debug=1: no frame $f"
	done
	grep -Eq '^[0-9]+ @( 0x[0-9a-f]+)+$' "$T/body" || fail "$name?debug=1: no 'N @ 0x..' line"

	fetch "$BASE/$name"
	expect_reply "$name" 200 "application/octet-stream"
	[ "$(hdr Content-Disposition)" = "attachment; filename=\"$name\"" ] ||
		fail "$name: Content-Disposition '$(hdr Content-Disposition)'"
	[ "$(head -c 3 "$T/body" | od -An -tx1 | tr -d ' \n')" = 1f8b08 ] || fail "$name: not gzip"
done

fetch "$BASE/goroutine?debug=2"
expect_reply "goroutine?debug=2" 200 "text/plain; charset=utf-8"
for tid in $(ls /proc/$TARGET_PID/task); do
	grep -qw "$tid" "$T/body" || fail "goroutine?debug=2: thread $tid missing"
done
grep -q server_target_burn "$T/body" || grep -q burner "$T/body" || fail "debug=2: no burner thread"

# threadcreate: only the start routines (parked, main), not the waits inside.
fetch "$BASE/threadcreate?debug=1"
expect_reply threadcreate 200 "text/plain; charset=utf-8"
[ "$(head -1 "$T/body")" = "threadcreate profile: total $NT" ] ||
	fail "threadcreate: first line '$(head -1 "$T/body")'"
grep -q "	parked+0x" "$T/body" || fail "threadcreate: no parked start routine"
grep -q "	main+0x" "$T/body" || fail "threadcreate: no main"
grep -q "server_target_wait_cond" "$T/body" && fail "threadcreate: inner frames kept"
grep -q '^6 @ ' "$T/body" || fail "threadcreate: the 6 parked threads are not one group"

# symbol: GET without a query, GET with one, POST as pprof sends it.
exe_base=$(awk -v exe="$(readlink /proc/$TARGET_PID/exe)" '$6 == exe && $3 == "00000000" { split($1, a, "-"); print a[1]; exit }' /proc/$TARGET_PID/maps)
off=$(nm "$WORKLOAD_DIR/server_target_nofp" | awk '$3 == "server_target_burn" { print $1 }')
[ -n "$exe_base" ] && [ -n "$off" ] || fail "cannot find server_target_burn in the target"
addr=$(printf '0x%x' $((0x$exe_base + 0x$off)))
fetch "$BASE/symbol"
expect_reply symbol 200 "text/plain; charset=utf-8"
[ "$(cat "$T/body")" = "num_symbols: 1" ] || fail "symbol: '$(cat "$T/body")'"
fetch "$BASE/symbol?$addr+0x1+junk"
[ "$CODE" = 200 ] || fail "symbol GET: $CODE"
printf 'num_symbols: 1\n%s server_target_burn\n' "$addr" | cmp -s - "$T/body" ||
	fail "symbol GET: '$(cat "$T/body")', expected $addr server_target_burn"
fetch "$BASE/symbol" --data-binary "$addr+0x1"
expect_reply "symbol POST" 200 "text/plain; charset=utf-8"
printf 'num_symbols: 1\n%s server_target_burn\n' "$addr" | cmp -s - "$T/body" ||
	fail "symbol POST: '$(cat "$T/body")'"

# heap and allocs: served (serve_heap checks their contents).
for name in heap allocs; do
	fetch "$BASE/$name"
	expect_reply "$name" 200 application/octet-stream
	[ "$(hdr Content-Disposition)" = "attachment; filename=\"$name\"" ] ||
		fail "$name: Content-Disposition '$(hdr Content-Disposition)'"
done

fetch "$BASE/nosuch"
expect_go_error nosuch 404 "Unknown profile"
fetch "http://127.0.0.1:$PORT/elsewhere"
expect_reply elsewhere 404 "text/plain; charset=utf-8"

fetch "$BASE/profile?seconds=1"
expect_reply profile 200 "application/octet-stream"
[ "$(hdr Content-Disposition)" = 'attachment; filename="profile"' ] || fail "profile: Content-Disposition"
cp "$T/body" "$T/cpu.pprof"
check_profile "$T/cpu.pprof"

# One access-log line per request: method, path, status, bytes, ms.
grep -Eq "^127\.0\.0\.1 GET /debug/pprof/cmdline 200 $want [0-9.]+ms$" "$SERVE_LOG" ||
	fail "no access-log line for cmdline: $(cat "$SERVE_LOG")"
grep -Eq "^127\.0\.0\.1 POST /debug/pprof/symbol 200 [0-9]+ [0-9.]+ms$" "$SERVE_LOG" ||
	fail "no access-log line for the symbol POST"

# SIGTERM: exit 0, the target untouched and still running.
kill -TERM "$SERVE_PID"
rc=0
timeout 10 tail --pid="$SERVE_PID" -f /dev/null || fail "serve did not stop on SIGTERM"
wait "$SERVE_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "serve exited $rc on SIGTERM"
grep -q "stopped by" "$SERVE_LOG" || fail "no stop message"
kill -0 "$TARGET_PID" || fail "the target died"
state=$(awk '{ print $3 }' /proc/$TARGET_PID/stat)
[ "$state" != T ] && [ "$state" != t ] || fail "the target is left stopped"
[ "$(awk '/^TracerPid/ { print $2 }' /proc/$TARGET_PID/status)" = 0 ] || fail "the target is left traced"
h0=$(heartbeat)
wait_for 5 "the heartbeat to go on" bash -c "[ \$(tr -d ' \n' <'$HEARTBEAT') -gt $h0 ]"

# --http :PORT means loopback: pick a port, then check what ss shows.
start_bg "$CPROF" serve -p "$TARGET_PID" --http :0 -q 2>"$T/serve2.log"
P2=$BG_PID
wait_for 20 "serve --http :0 to listen" grep -q 'listening on' "$T/serve2.log"
port2=$(sed -n 's|.*listening on http://\([^/]*\):\([0-9]*\)/.*|\1 \2|p' "$T/serve2.log")
[ "${port2% *}" = 127.0.0.1 ] || fail "--http :0 listens on '${port2% *}'"
ss -ltnH "sport = :${port2#* }" >"$T/ss2"
grep -q "^LISTEN.* 127.0.0.1:${port2#* } " "$T/ss2" && [ "$(wc -l <"$T/ss2")" -eq 1 ] ||
	fail "--http :0: ss shows $(cat "$T/ss2")"
kill -INT "$P2"
rc=0
wait "$P2" || rc=$?
[ "$rc" -eq 0 ] || fail "serve exited $rc on SIGINT"
pass "every endpoint as Go answers it; loopback only; clean stop"
