#!/bin/bash
# serve_scrape_compat.sh - what continuous-profiling scrapers need of cprof
# serve (docs/design.md §7.2):
#  - goroutine is a goroutine/count profile (Pyroscope files it as
#    goroutines), threadcreate threadcreate/count;
#  - goroutine?seconds=N and threadcreate?seconds=N are Go's delta
#    profiles: threads started during the window count +1, a stack left
#    counts -1, what did not change is absent;
#  - four CPU profiles of one process at once are all served, each its own
#    perf session; a fifth meanwhile gets Go's 500; the slots are free
#    once they end;
#  - 200 goroutine/threadcreate requests, 8 clients at once, stop the
#    target about once a second, not once per request.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

# VALUE<TAB>leaf;...;root of every sample of a profile, negative values
# too (pp_stacks reads only positive ones).
signed_stacks() {
	pp_raw "$1" | awk '
	/^Samples:/ { sec = "s"; next }
	/^Locations/ { sec = "l"; next }
	/^Mappings/ { sec = "m"; next }
	sec == "s" && /^ *-?[0-9]+: / {
		n++; split($0, h, ":"); val[n] = h[1] + 0; ids[n] = h[2]; next
	}
	sec == "l" && /^ *[0-9]+: / { id = $1; sub(":", "", id); name[id] = $4 }
	END {
		for (i = 1; i <= n; i++) {
			k = split(ids[i], a, " "); s = ""
			for (j = 1; j <= k; j++) s = s (j > 1 ? ";" : "") name[a[j]]
			printf "%d\t%s\n", val[i], s
		}
	}'
}

stat_field() {	# N-th number of the index's statistics line
	curl -sS --max-time 30 "$BASE/" | sed -n 's/.*class=cprof-stats>//p' |
		grep -oE '[0-9]+' | sed -n "${1}p"
}

# --- sample types and deltas, on threads that start during the window ---
wl="$WORKLOAD_DIR/late_threads_nofp"
start_bg "$wl" 120 600000
wait_exec "$BG_PID" "$wl"
late=$BG_PID
serve_start "$late"
fetch "$BASE/goroutine"
expect_reply "goroutine" 200 "application/octet-stream"
pp_raw "$T/body" >"$T/g.raw" || fail "pprof cannot read goroutine"
grep -q '^PeriodType: goroutine count$' "$T/g.raw" || fail "goroutine: $(grep PeriodType "$T/g.raw")"
grep -Eq '^goroutine/count(\[dflt\])?$' "$T/g.raw" || fail "goroutine: not goroutine/count"
fetch "$BASE/threadcreate"
pp_raw "$T/body" | grep -Eq '^threadcreate/count(\[dflt\])?$' || fail "threadcreate: not threadcreate/count"
fetch "$BASE/threads"
pp_raw "$T/body" | grep -Eq '^threads/count(\[dflt\])?$' || fail "threads: not threads/count"

# The dumps above answer requests of the next second (HTTP_DUMP_REUSE_MS):
# past it, the deltas' first dumps are captures of their own, counted.
sleep 1.2
dumps0=$(stat_field 1)
curl -sS -o "$T/gd.pb" -D "$T/gd.hdr" -w '%{http_code}' --max-time 60 \
	"$BASE/goroutine?seconds=4" >"$T/gd.code" &
c1=$!
BG_PIDS+=("$c1")
curl -sS -o "$T/td.pb" -w '%{http_code}' --max-time 60 \
	"$BASE/threadcreate?seconds=4" >"$T/td.code" &
c2=$!
BG_PIDS+=("$c2")
# Both took their first dump: then the workers start.
wait_for 20 "the deltas' first dump" sh -c "[ \$(curl -s '$BASE/' | sed -n 's/.*thread dumps taken: \([0-9]*\).*/\1/p') -gt $dumps0 ]"
sleep 0.5
kill -USR1 "$late"
wait "$c1" "$c2" || fail "a delta request failed"
[ "$(cat "$T/gd.code")" = 200 ] || fail "goroutine?seconds=4: $(cat "$T/gd.code") $(head -c 300 "$T/gd.pb")"
[ "$(cat "$T/td.code")" = 200 ] || fail "threadcreate?seconds=4: $(cat "$T/td.code") $(head -c 300 "$T/td.pb")"
grep -qi '^Content-Disposition: attachment; filename="goroutine-delta"' "$T/gd.hdr" ||
	fail "goroutine delta: $(grep -i disposition "$T/gd.hdr")"
pp_raw "$T/gd.pb" >"$T/gd.raw" || fail "pprof cannot read the goroutine delta"
grep -Eq '^goroutine/count(\[dflt\])?$' "$T/gd.raw" || fail "goroutine delta: not goroutine/count"
grep -Eq '^Duration: [3-9]' "$T/gd.raw" || fail "goroutine delta: $(grep Duration "$T/gd.raw")"
signed_stacks "$T/gd.pb" >"$T/gd.stacks"
for f in worker_a worker_b; do	# (worker_X_loop is inlined in spin's location)
	awk -F '\t' -v f="$f" '$1 == 1 && $2 ~ ("(^|;)" f "(;|$)")' "$T/gd.stacks" | grep -q . ||
		fail "goroutine delta: no +1 for $f: $(cat "$T/gd.stacks")"
done
# main left its sleep for pthread_join: that stack counts -1, the join +1.
awk -F '\t' '$1 == -1 && $2 ~ /nanosleep/' "$T/gd.stacks" | grep -q . ||
	fail "goroutine delta: no -1 for main's sleep: $(cat "$T/gd.stacks")"
awk -F '\t' '$1 == 1 && $2 ~ /join/' "$T/gd.stacks" | grep -q . ||
	fail "goroutine delta: no +1 for main's join: $(cat "$T/gd.stacks")"
signed_stacks "$T/td.pb" >"$T/td.stacks"
for f in worker_a worker_b; do
	awk -F '\t' -v f="$f" '$1 == 1 && $2 ~ ("^" f ";")' "$T/td.stacks" | grep -q . ||
		fail "threadcreate delta: no +1 for $f: $(cat "$T/td.stacks")"
done
[ "$(wc -l <"$T/td.stacks")" -eq 2 ] || fail "threadcreate delta: main did not cancel out: $(cat "$T/td.stacks")"
stop_bg "$SERVE_PID"
stop_bg "$late"

# --- four CPU profiles at once, a fifth refused ---
# Only their shape is read: the burner runs 5 ms in 100, not half a CPU.
export SERVER_TARGET_PAUSE_MS=95
target_start 4 120
serve_start "$TARGET_PID"
pids=()
for i in 1 2 3 4; do
	curl -sS -o "$T/p$i" -w '%{http_code}' --max-time 90 "$BASE/profile?seconds=6" >"$T/p$i.code" &
	pids+=($!)
	BG_PIDS+=($!)
done
wait_for 30 "four profiles sampling" sh -c "curl -s '$BASE/' | grep -q 'CPU profiles sampling: 4 of 4'"
fetch "$BASE/profile?seconds=1"
[ "$CODE" = 500 ] && [ "$(hdr X-Go-Pprof)" = 1 ] &&
	grep -q '^Could not enable CPU profiling: cpu profiling already in use' "$T/body" ||
	fail "a fifth profile: $CODE $(cat "$T/body")"
wait "${pids[@]}" || fail "a profile request failed"
for i in 1 2 3 4; do
	[ "$(cat "$T/p$i.code")" = 200 ] || fail "profile $i: $(cat "$T/p$i.code")"
	check_profile "$T/p$i"
done
[ "$(stat_field 2)" = 0 ] || fail "slots still taken after the profiles: $(curl -s "$BASE/" | grep cprof-stats)"

# --- a flood of dump requests: single flight, reused for a second ---
dumps0=$(stat_field 1)
hb0=$(heartbeat)
python3 - "$PORT" >"$T/flood.out" 2>&1 <<'PY' || fail "flood: $(tail -3 "$T/flood.out")"
import http.client, sys, threading, time
port = int(sys.argv[1])
paths = ["goroutine", "threadcreate", "goroutine?debug=1", "goroutine?debug=2"]
bad = []
def client(k):
    for i in range(25):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/debug/pprof/" + paths[(k + i) % len(paths)])
        r = c.getresponse(); r.read(); c.close()
        if r.status != 200:
            bad.append(r.status)
t0 = time.monotonic()
ts = [threading.Thread(target=client, args=(k,)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print("%.3f" % (time.monotonic() - t0))
if bad:
    print("FAIL: statuses %s" % bad); sys.exit(1)
PY
elapsed=$(head -1 "$T/flood.out")
dumps=$(( $(stat_field 1) - dumps0 ))
allowed=$(awk -v e="$elapsed" 'BEGIN { print int(e) + 2 }')
note "200 requests in ${elapsed}s: $dumps thread dumps (at most $allowed allowed)"
[ "$dumps" -ge 1 ] && [ "$dumps" -le "$allowed" ] ||
	fail "200 requests in ${elapsed}s took $dumps dumps, more than $allowed"
[ "$(heartbeat)" -gt "$hb0" ] || fail "the target's heartbeat stopped"
pass "goroutine/count, Go's delta profiles, 4 CPU profiles at once, dumps shared for a second"
