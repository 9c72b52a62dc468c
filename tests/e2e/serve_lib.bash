# serve_lib.bash - helpers for the serve_*.sh scripts; source it after lib.sh
# and t_init. (Not a .sh file, so ctest does not run it as a test.)
#
#   target_start NTHREADS SECS [ARGS...]  start server_target with NTHREADS
#                     parked threads (total NTHREADS + 2); sets TARGET_PID and
#                     HEARTBEAT (a file whose number grows every 20 ms)
#   serve_start PID [ARGS...]   cprof serve on 127.0.0.1:0 (a free port, so
#                     parallel tests never collide); sets SERVE_PID, PORT, BASE
#                     (http://127.0.0.1:PORT/debug/pprof) and SERVE_LOG
#   fetch URL [CURL ARGS...]    body in $T/body, headers in $T/hdr, status
#                     in CODE (000 when curl failed)
#   hdr NAME          a header of the last fetch, without CR
#   expect_reply WHAT CODE CTYPE   check status, Content-Type and nosniff
#   expect_go_error WHAT CODE TEXT  Go's serveError: text/plain, X-Go-Pprof: 1,
#                     no Content-Disposition, body TEXT + newline
#   heartbeat         the target's current heartbeat number

target_start() {
	local n=$1 secs=$2
	shift 2
	HEARTBEAT=$T/heartbeat
	start_bg "$WORKLOAD_DIR/server_target_nofp" "$n" "$secs" "$HEARTBEAT" "$@"
	TARGET_PID=$BG_PID
	local want=$((n + 2))
	wait_for 10 "the target to start $want threads" \
		bash -c "[ \$(ls /proc/$TARGET_PID/task | wc -l) -eq $want ] && [ -s '$HEARTBEAT' ]"
}

serve_start() {
	local pid=$1
	shift
	SERVE_LOG=$T/serve.log
	start_bg "$CPROF" serve -p "$pid" --http 127.0.0.1:0 "$@" 2>"$SERVE_LOG"
	SERVE_PID=$BG_PID
	wait_for 20 "cprof serve to listen" grep -q 'listening on http://' "$SERVE_LOG"
	PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/debug/pprof/.*|\1|p' "$SERVE_LOG" | head -1)
	[ -n "$PORT" ] || fail "no port in the listening line: $(cat "$SERVE_LOG")"
	BASE=http://127.0.0.1:$PORT/debug/pprof
}

fetch() {
	local url=$1
	shift
	CODE=$(curl -sS -o "$T/body" -D "$T/hdr" -w '%{http_code}' --max-time 60 "$@" "$url" 2>"$T/curl.err") || CODE=000
}

hdr() {
	grep -i "^$1:" "$T/hdr" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r'
}

expect_reply() {
	local what=$1 code=$2 ctype=$3
	[ "$CODE" = "$code" ] || fail "$what: status $CODE, expected $code: $(head -c 300 "$T/body")"
	[ "$(hdr Content-Type)" = "$ctype" ] || fail "$what: Content-Type '$(hdr Content-Type)', expected '$ctype'"
	[ "$(hdr X-Content-Type-Options)" = "nosniff" ] || fail "$what: no X-Content-Type-Options: nosniff"
}

expect_go_error() {
	local what=$1 code=$2 text=$3
	expect_reply "$what" "$code" "text/plain; charset=utf-8"
	[ "$(hdr X-Go-Pprof)" = "1" ] || fail "$what: no X-Go-Pprof: 1"
	[ -z "$(hdr Content-Disposition)" ] || fail "$what: an error with a Content-Disposition"
	printf '%s\n' "$text" | cmp -s - "$T/body" || fail "$what: body '$(cat "$T/body")', expected '$text'"
}

heartbeat() {
	tr -d ' \n' <"$HEARTBEAT"
}
