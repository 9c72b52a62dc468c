# serve_pprof.sh - a real client: go tool pprof fetches a CPU profile and the
# thread profile over HTTP from cprof serve and shows the target's functions.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

target_start 4 120
serve_start "$TARGET_PID"

# pprof's own fetch: it saves what it got under PPROF_TMPDIR too.
out=$(gopprof -symbolize=none -raw "$BASE/profile?seconds=2" 2>"$T/pprof.err") ||
	fail "go tool pprof profile?seconds=2: $(cat "$T/pprof.err")"
printf '%s\n' "$out" >"$T/cpu.raw"
grep -q '^PeriodType: cpu nanoseconds$' "$T/cpu.raw" || fail "profile: not a CPU profile"
grep -q ' server_target_burn ' "$T/cpu.raw" || fail "profile: no server_target_burn: $(head -40 "$T/cpu.raw")"
grep -q ' burner ' "$T/cpu.raw" || fail "profile: no burner caller"
grep -Eq 'GET /debug/pprof/profile\?seconds=2 200 [0-9]+ ' "$SERVE_LOG" || fail "no log line for the profile"

out=$(gopprof -symbolize=none -raw "$BASE/goroutine" 2>"$T/pprof.err") ||
	fail "go tool pprof goroutine: $(cat "$T/pprof.err")"
printf '%s\n' "$out" >"$T/threads.raw"
for f in server_target_wait_cond server_target_wait_sleep server_target_heartbeat; do
	grep -q " $f " "$T/threads.raw" || fail "goroutine: no $f"
done
# pprof -traces on the same profile: one trace per distinct stack.
gopprof -symbolize=none -traces "$BASE/threads" >"$T/threads.traces" 2>"$T/pprof.err" ||
	fail "go tool pprof -traces threads: $(cat "$T/pprof.err")"
grep -q server_target_wait_cond "$T/threads.traces" || fail "-traces: no server_target_wait_cond"

# --remote-symbols: profiles carry addresses only; pprof must POST them to
# /debug/pprof/symbol (symbolz) to name them.
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not exit 0 on SIGTERM"
serve_start "$TARGET_PID" --remote-symbols
fetch "$BASE/goroutine"
cp "$T/body" "$T/bare.pprof"
pp_raw "$T/bare.pprof" >"$T/bare.raw" || fail "pprof cannot read the bare profile"
grep -q server_target_wait_cond "$T/bare.raw" && fail "--remote-symbols: the profile has names"
for url in "$BASE/profile?seconds=2" "$BASE/goroutine"; do
	gopprof -symbolize=remote -raw "$url" >"$T/remote.raw" 2>"$T/pprof.err" ||
		fail "go tool pprof -symbolize=remote $url: $(cat "$T/pprof.err")"
	case $url in
	*profile*) want="server_target_burn burner" ;;
	*) want="server_target_wait_cond server_target_heartbeat main" ;;
	esac
	for f in $want; do
		grep -q " $f\b" "$T/remote.raw" || fail "$url, named by the server: no $f: $(grep -A30 '^Locations' "$T/remote.raw")"
	done
done
n=$(grep -Ec '^127\.0\.0\.1 POST /debug/pprof/symbol 200 [0-9]+ ' "$SERVE_LOG" || true)
[ "$n" -ge 2 ] || fail "pprof did not POST to /debug/pprof/symbol: $(cat "$SERVE_LOG")"

# SIGINT during a profile: the client gets a 503 at once, serve exits 0,
# the target runs on untouched.
curl -sS -o "$T/p" -w '%{http_code}' --max-time 30 "$BASE/profile?seconds=20" >"$T/p.code" &
C=$!
BG_PIDS+=("$C")
wait_perf_fds "$SERVE_PID"
start=$(date +%s)
kill -INT "$SERVE_PID"
rc=0
wait "$SERVE_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "serve exited $rc on SIGINT during a profile"
wait "$C" || fail "the profile request failed on SIGINT"
[ $(($(date +%s) - start)) -le 5 ] || fail "SIGINT took more than 5 s to end the profile"
[ "$(cat "$T/p.code")" = 503 ] && grep -q "cprof serve is stopping" "$T/p" ||
	fail "profile on SIGINT: $(cat "$T/p.code") $(cat "$T/p")"
state=$(awk '{ print $3 }' /proc/$TARGET_PID/stat)
[ "$state" != T ] && [ "$state" != t ] || fail "target left stopped"
[ "$(awk '/^TracerPid/ { print $2 }' /proc/$TARGET_PID/status)" = 0 ] || fail "target left traced"

# --remote-symbols keeps the names pprof never asks /symbol for: it skips
# "[kernel]" and "[vdso]" mappings (Mapping.Unsymbolizable), so stripping
# them would lose them for good. dd spends its time in read/write.
dd if=/dev/zero of=/dev/null bs=64k 2>/dev/null &
DD=$!
BG_PIDS+=("$DD")
# serve reads the modules once at start: not those of the shell that is
# still about to exec dd
wait_exec "$DD" "$(command -v dd)"
serve_start "$DD" --remote-symbols -q
fetch "$BASE/profile?seconds=1"
[ "$CODE" = 200 ] || fail "profile of dd: $CODE $(head -c 300 "$T/body")"
pp_raw "$T/body" >"$T/dd.raw" || fail "pprof cannot read the profile of dd"
kmap=$(awk '/^Mappings/ { m = 1; next } m && / \[kernel\]/ { sub(":", "", $1); print $1; exit }' "$T/dd.raw")
if [ -n "$kmap" ]; then
	grep -Eq "^ +[0-9]+: 0x[0-9a-f]+ M=$kmap [A-Za-z_]" "$T/dd.raw" ||
		fail "--remote-symbols: kernel frames lost their names: $(grep -m5 "M=$kmap" "$T/dd.raw")"
else
	note "no kernel frames (perf_event_paranoid, not root): kernel names not checked"
fi
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not exit 0 on SIGTERM"
stop_bg "$DD"
pass "go tool pprof reads profile and goroutine from cprof serve, names from /symbol"
