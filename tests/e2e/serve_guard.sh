# serve_guard.sh - what keeps a server safe to leave running: on loopback
# the Host header must name loopback (DNS rebinding); --auth-token-file
# demands the bearer token; --http unix:PATH serves on a Unix socket that
# refuses to replace a file and is removed on exit; HEAD of a profile
# answers at once without taking one.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

# No CPU profile of it is read here: its burner runs 5 ms in 100, not
# half a CPU all the test long (tests/workloads/server_target.c).
export SERVER_TARGET_PAUSE_MS=95
target_start 2 290
serve_start "$TARGET_PID" -q

# Host: loopback names and addresses pass, with or without a port.
for h in "localhost" "localhost:$PORT" "127.0.0.1:$PORT" "127.1.2.3" "[::1]:$PORT" "LOCALHOST"; do
	fetch "$BASE/cmdline" -H "Host: $h"
	[ "$CODE" = 200 ] || fail "Host '$h': status $CODE"
done
# A name that resolves to 127.0.0.1 for the attacker's page does not.
for h in "attacker.example" "attacker.example:$PORT" "127.0.0.1.attacker.example" "10.0.0.1:$PORT" "localhost.attacker.example"; do
	fetch "$BASE/cmdline" -H "Host: $h"
	[ "$CODE" = 403 ] && grep -q "DNS rebinding" "$T/body" ||
		fail "Host '$h': status $CODE '$(tr '\0' ' ' <"$T/body")'"
done

# Bound to every address (a wildcard), the server answers on 127.0.0.1
# too: there the Host check holds as well.
start_bg "$CPROF" serve -p "$TARGET_PID" -q --http 0.0.0.0:0 2>"$T/wild.log"
wild=$BG_PID
wait_for 20 "cprof serve on 0.0.0.0 to listen" grep -q 'listening on http://' "$T/wild.log"
wport=$(sed -n 's|.*listening on http://0\.0\.0\.0:\([0-9]*\)/.*|\1|p' "$T/wild.log" | head -1)
[ -n "$wport" ] || fail "no port in the wildcard server's line: $(cat "$T/wild.log")"
fetch "http://127.0.0.1:$wport/debug/pprof/cmdline" -H "Host: attacker.example"
[ "$CODE" = 403 ] && grep -q "DNS rebinding" "$T/body" ||
	fail "wildcard bind, reached on 127.0.0.1 with Host attacker.example: status $CODE"
fetch "http://127.0.0.1:$wport/debug/pprof/cmdline" -H "Host: localhost:$wport"
[ "$CODE" = 200 ] || fail "wildcard bind, reached on 127.0.0.1 with Host localhost: status $CODE"
stop_bg "$wild"

# HEAD of a 20 s profile: the headers of a profile reply, at once, no
# profile taken. (A GET takes the full 20 s; 10 s is a bound a loaded
# machine keeps, and the old server, which ran the profile for HEAD too,
# could not.)
out=$(curl -sS -I -o "$T/head.hdr" -w '%{http_code} %{time_total}' --max-time 60 "$BASE/profile?seconds=20")
[ "${out% *}" = 200 ] || fail "HEAD profile: $out"
awk -v t="${out#* }" 'BEGIN { exit !(t < 10) }' || fail "HEAD profile?seconds=20 took ${out#* }s: it ran the profile"
grep -qi '^Content-Type: application/octet-stream' "$T/head.hdr" || fail "HEAD profile: $(cat "$T/head.hdr")"
out=$(curl -sS -I -o /dev/null -w '%{http_code} %{time_total}' --max-time 60 "$BASE/trace?seconds=20")
[ "${out% *}" = 200 ] && awk -v t="${out#* }" 'BEGIN { exit !(t < 10) }' || fail "HEAD trace?seconds=20: $out"
note "HEAD profile?seconds=20 answered in ${out#* }s"
stop_bg "$SERVE_PID"

# The bearer token.
umask 077
printf 'tok-%s\n' "$RANDOM$RANDOM" >"$T/token"
TOKEN=$(head -1 "$T/token")
serve_start "$TARGET_PID" -q --auth-token-file "$T/token"
fetch "$BASE/cmdline"
[ "$CODE" = 401 ] || fail "no token: status $CODE"
hdr WWW-Authenticate | grep -q '^Bearer' || fail "401 without WWW-Authenticate: Bearer"
fetch "$BASE/cmdline" -H "Authorization: Bearer ${TOKEN}x"
[ "$CODE" = 401 ] || fail "wrong token: status $CODE"
fetch "$BASE/cmdline" -H "Authorization: Bearer ${TOKEN%?}"
[ "$CODE" = 401 ] || fail "a prefix of the token: status $CODE"
fetch "$BASE/cmdline" -H "Authorization: Bearer $TOKEN"
[ "$CODE" = 200 ] || fail "right token: status $CODE"
stop_bg "$SERVE_PID"
# A token file every user can read is refused.
chmod 644 "$T/token"
run_cprof out err rc serve -p "$TARGET_PID" --http 127.0.0.1:0 --auth-token-file "$T/token"
[ "$rc" -ne 0 ] && grep -q "readable by every user" <<<"$err" && grep -q '^hint:' <<<"$err" ||
	fail "world-readable token file: rc $rc '$err'"

# A Unix socket: served there, mode 0600, no Host check; removed on exit.
SOCK=$T/cprof.sock
SERVE_LOG=$T/serve.unix.log
start_bg "$CPROF" serve -p "$TARGET_PID" --http "unix:$SOCK" -q 2>"$SERVE_LOG"
SERVE_PID=$BG_PID
wait_for 20 "cprof serve to listen on $SOCK" grep -q "listening on unix:$SOCK" "$SERVE_LOG"
[ -S "$SOCK" ] && [ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket $SOCK: $(ls -l "$SOCK")"
fetch "http://attacker.example/debug/pprof/cmdline" --unix-socket "$SOCK"
[ "$CODE" = 200 ] || fail "over the Unix socket: status $CODE"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve on a Unix socket exited $? on SIGTERM"
forget_bg "$SERVE_PID"
[ ! -e "$SOCK" ] || fail "$SOCK left behind"
# A file that is not a socket is not replaced.
echo keep >"$SOCK"
run_cprof out err rc serve -p "$TARGET_PID" --http "unix:$SOCK"
[ "$rc" -ne 0 ] && grep -q "not a socket" <<<"$err" && [ "$(cat "$SOCK")" = keep ] ||
	fail "unix socket over a file: rc $rc '$err'"
pass
