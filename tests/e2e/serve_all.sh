# serve_all.sh - cprof serve --all: three workloads of root and one of
# nobody; /targets lists exactly the ones the filters allow, with their
# labels; go tool pprof reads the profile and goroutine endpoints of one
# through its /pid/PID prefix; a workload that exits leaves /targets and
# its request in flight ends with 503; run as nobody, cprof lists root's
# processes as refused, with the reason, and serves none of them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

# nobody's workload writes its heartbeat in a directory of its own.
chmod 755 "$T"
mkdir "$T/nb"
chown nobody "$T/nb"
TAG=$(basename "$T")
W=$WORKLOAD_DIR/server_target_nofp
# Lifetimes past the test's 300 s timeout: the test kills them; it took
# 125 s under a load average of 30, past the 120 s they first had.
# No CPU profile of them is read for its samples: their burners run 5 ms
# in 100, not half a CPU each all the test long
# (tests/workloads/server_target.c; 3 x 50% was a third of this test's
# CPU, and the suite's 2 cores are saturated).
export SERVER_TARGET_PAUSE_MS=95
P=()
for i in 1 2 3; do
	start_bg "$W" 2 290 "$T/hb$i"
	P+=("$BG_PID")
done
start_bg setpriv --reuid=nobody --regid=nogroup --clear-groups "$W" 2 290 "$T/nb/hb4"
PN=$BG_PID
for f in "$T/hb1" "$T/hb2" "$T/hb3" "$T/nb/hb4"; do
	wait_for 10 "heartbeat $f" test -s "$f"
done
# The heartbeat paths hold $TAG, unique to this run; cprof's own command
# line holds the pattern, which does not match itself.
MATCH="$TAG/(hb|nb/hb)[0-9]"

serve_all() {
	SERVE_LOG=$T/serve.$1.log
	shift
	start_bg "$@" 2>"$SERVE_LOG"
	SERVE_PID=$BG_PID
	wait_for 20 "cprof serve --all to listen" grep -q 'listening on http://' "$SERVE_LOG"
	PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$SERVE_LOG" | head -1)
	[ -n "$PORT" ] || fail "no port in: $(cat "$SERVE_LOG")"
	URL=http://127.0.0.1:$PORT
}

# The pids /targets lists, sorted, one line; the labels checked on the way.
targets_pids() {
	curl -sS --max-time 30 -H "Host: localhost:$PORT" "$URL/targets" >"$T/targets.json" ||
		fail "GET /targets failed"
	python3 - "$T/targets.json" "$PORT" <<'PY' || fail "/targets: $(cat "$T/targets.json")"
import json, os, sys
groups = json.load(open(sys.argv[1]))
pids = []
for g in groups:
    assert g["targets"] == ["localhost:" + sys.argv[2]], g["targets"]
    l = g["labels"]
    pid = l["pid"]
    assert l["__profile_path_prefix__"] == "/pid/" + pid, l
    assert l["comm"] == open("/proc/%s/comm" % pid).read().strip(), l
    assert l["service_name"] == l["comm"], l
    assert l["exe"] == os.readlink("/proc/%s/exe" % pid), l
    uid = int([x for x in open("/proc/%s/status" % pid) if x.startswith("Uid:")][0].split()[2])
    import pwd
    assert l["user"] == pwd.getpwuid(uid).pw_name, l
    cg = [x for x in open("/proc/%s/cgroup" % pid) if x.startswith("0::")][0][3:].strip()
    assert l["cgroup"] == cg, l
    pids.append(int(pid))
print(" ".join(str(p) for p in sorted(pids)))
PY
}

sorted() { printf '%s\n' "$@" | sort -n | tr '\n' ' ' | sed 's/ $//'; }

# --user root: the three of root, not nobody's.
serve_all root "$CPROF" serve --all --match "$MATCH" --user root --http 127.0.0.1:0 -q
got=$(targets_pids | tail -1)
[ "$got" = "$(sorted "${P[@]}")" ] || fail "--user root: /targets lists '$got', expected '$(sorted "${P[@]}")'"
fetch "$URL/pid/$PN/debug/pprof/cmdline"
[ "$CODE" = 404 ] || fail "nobody's process under --user root: status $CODE"
fetch "$URL/debug/pprof/goroutine"
[ "$CODE" = 404 ] || fail "/debug/pprof/goroutine under --all (no process named): $CODE"
stop_bg "$SERVE_PID"

# No --user: all four, nobody's labelled so.
serve_all any "$CPROF" serve --all --match "$MATCH" --http 127.0.0.1:0 -q
got=$(targets_pids | tail -1)
[ "$got" = "$(sorted "${P[@]}" "$PN")" ] || fail "/targets lists '$got', expected '$(sorted "${P[@]}" "$PN")'"
grep -q "\"pid\":\"$PN\",[^}]*\"user\":\"nobody\"" "$T/targets.json" || fail "nobody's process not labelled user nobody"

# go tool pprof through the prefix of the first one.
PFX=$URL/pid/${P[0]}/debug/pprof
gopprof -symbolize=none -raw "$PFX/profile?seconds=2" >"$T/cpu.txt" 2>"$T/cpu.err" ||
	fail "go tool pprof profile via the prefix: $(tail -3 "$T/cpu.err")"
grep -q '^Samples:' "$T/cpu.txt" && grep -q 'cpu/nanoseconds' "$T/cpu.txt" ||
	fail "profile via the prefix: $(head -5 "$T/cpu.txt")"
gopprof -symbolize=none -raw "$PFX/goroutine" >"$T/gr.txt" 2>"$T/gr.err" ||
	fail "go tool pprof goroutine via the prefix: $(tail -3 "$T/gr.err")"
# 2 parked threads + main + heartbeat: 4 stacks of count 1.
n=$(awk '/^Samples:/ {s=1; next} /^Locations/ {s=0} s && /^ *[0-9]+: / {c += $1} END {print c+0}' "$T/gr.txt")
[ "$n" = 4 ] || fail "goroutine via the prefix: $n threads, expected 4"
gopprof -symbolize=none -raw "$PFX/threadcreate" >"$T/tc.txt" 2>"$T/tc.err" ||
	fail "go tool pprof threadcreate via the prefix: $(tail -3 "$T/tc.err")"
gopprof -symbolize=none -raw "$PFX/wall?seconds=1" >"$T/wall.txt" 2>"$T/wall.err" ||
	fail "go tool pprof wall via the prefix: $(tail -3 "$T/wall.err")"
grep -q '^Samples:' "$T/wall.txt" || fail "wall via the prefix: $(head -5 "$T/wall.txt")"
fetch "$PFX/cmdline"
[ "$CODE" = 200 ] && tr '\0' ' ' <"$T/body" | grep -q "$T/hb1" || fail "cmdline via the prefix: $CODE"
fetch "$URL/pid/${P[0]}/debug/pprof"
[ "$CODE" = 301 ] && [ "$(hdr Location)" = "/pid/${P[0]}/debug/pprof/" ] ||
	fail "redirect under the prefix: $CODE '$(hdr Location)'"
fetch "$URL/debug/pprof/"
[ "$CODE" = 200 ] && grep -q "href=\"/pid/${P[1]}/debug/pprof/\"" "$T/body" ||
	fail "the --all index does not link to /pid/${P[1]}/debug/pprof/"

# A profile in flight when its process exits: 503 naming it; and the
# process leaves /targets (the scan runs every second).
curl -sS -o "$T/p.body" -w '%{http_code}' --max-time 60 "$URL/pid/${P[2]}/debug/pprof/profile?seconds=30" \
	>"$T/p.code" 2>"$T/p.err" &
C=$!
BG_PIDS+=("$C")
wait_for 20 "the profile of ${P[2]} to start" t_has_perf_fds "$SERVE_PID"
gone_at=$(date +%s%N)
stop_bg "${P[2]}"
wait_for 20 "pid ${P[2]} to leave /targets" bash -c "! curl -sS --max-time 5 '$URL/targets' | grep -q '\"pid\":\"${P[2]}\"'"
note "pid ${P[2]} left /targets $(( ($(date +%s%N) - gone_at) / 1000000 )) ms after it was killed"
wait "$C" || true
forget_bg "$C"
[ "$(cat "$T/p.code")" = 503 ] && grep -q "process ${P[2]} exited" "$T/p.body" ||
	fail "profile of a process that exited: $(cat "$T/p.code") '$(cat "$T/p.body")'"
fetch "$URL/pid/${P[2]}/debug/pprof/cmdline"
[ "$CODE" = 404 ] || fail "an exited process: status $CODE"
stop_bg "$SERVE_PID"

# cprof as nobody: root's processes are listed as refused, not served.
serve_all nobody setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$CPROF" serve --all --match "$MATCH" --http 127.0.0.1:0 -q
got=$(targets_pids | tail -1)
[ "$got" = "$PN" ] || fail "cprof as nobody: /targets lists '$got', expected only $PN"
fetch "$URL/debug/pprof/"
grep -q "<td>${P[0]}</td>.*ptrace denied" "$T/body" ||
	fail "cprof as nobody: root's ${P[0]} not listed as refused: $(grep "${P[0]}" "$T/body")"
fetch "$URL/pid/${P[0]}/debug/pprof/cmdline"
[ "$CODE" = 403 ] && grep -q "ptrace denied" "$T/body" ||
	fail "cprof as nobody, root's process: $CODE '$(cat "$T/body")'"
fetch "$URL/pid/$PN/debug/pprof/goroutine?debug=1"
[ "$CODE" = 200 ] || fail "cprof as nobody, nobody's process: $CODE '$(head -3 "$T/body")'"
pass
