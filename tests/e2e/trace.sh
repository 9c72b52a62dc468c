#!/bin/bash
# trace: `cprof trace` of the waits workload is valid Chrome Trace Event
# JSON (read by python3's json module, a reader of its own): one named
# track per thread; each thread's running and waiting slices tile the
# window without overlap (within 1 ms); the sleeper's waits are named by
# their system call with its stack; CPU samples carry stacks; `.json.gz`
# is gzip; serve's /debug/pprof/trace answers JSON, gzipped on request.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
t_init

wl="$WORKLOAD_DIR/waits_nofp"
start_bg "$wl" 60
pid=$BG_PID
wait_exec "$pid" "$wl"
sleep 0.3	# past the threads' start

# check_trace FILE LABEL: the timeline's properties, by python3.
check_trace() {
	python3 - "$1" "$2" 2>"$T/check.err" <<'PY' || fail "$2: $(cat "$T/check.err")"
import json, sys, collections
path, label = sys.argv[1], sys.argv[2]
try:
    d = json.load(open(path))
except Exception as e:
    sys.exit(f"not JSON: {e}")
ev = d["traceEvents"]
window = d["otherData"]["window_us"]
names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
want = {"sleeper", "holder", "locker", "condwait", "reader", "waits_nofp"}
if set(names.values()) != want:
    sys.exit(f"thread tracks {sorted(names.values())}, want {sorted(want)}")
slices = collections.defaultdict(list)
for e in ev:
    if e["ph"] == "X":
        slices[e["tid"]].append(e)
for tid, name in names.items():
    sl = sorted(slices[tid], key=lambda e: e["ts"])
    if not sl:
        sys.exit(f"{name}: no slices")
    end = 0.0
    for e in sl:
        if e["ts"] < end - 1000:
            sys.exit(f"{name}: slice at {e['ts']} us overlaps the one ending at {end}")
        if e["ts"] > end + 1000:
            sys.exit(f"{name}: a gap from {end} to {e['ts']} us")
        end = max(end, e["ts"] + e["dur"])
    if abs(end - window) > 1000 or sl[0]["ts"] > 1000:
        sys.exit(f"{name}: slices cover {sl[0]['ts']}..{end} us of a {window} us window")
    if not any(e["cat"] == "cpu" and "cpu" in e["args"] for e in sl):
        sys.exit(f"{name}: no running slice with its CPU")
sleeper = [t for t, n in names.items() if n == "sleeper"][0]
naps = [e for e in slices[sleeper] if e["name"] == "[syscall] clock_nanosleep"]
if len(naps) < 20 or not any("sleeper_wait" in e["args"].get("stack", []) for e in naps):
    sys.exit(f"sleeper: {len(naps)} clock_nanosleep waits, none under sleeper_wait")
samples = [e for e in ev if e["ph"] == "i" and e["tid"] == sleeper]
if not samples or not any("sleeper_work" in e["args"]["stack"] for e in samples):
    sys.exit(f"sleeper: {len(samples)} CPU samples, none in sleeper_work")
print(f"trace: {label}: {len(ev)} events, {len(names)} tracks, {len(naps)} sleeps, {len(samples)} sleeper samples")
PY
}

"$CPROF" trace -q -p "$pid" -s 2 -F 499 -o "$T/t.json" 2>"$T/err" ||
	fail "cprof trace exited $?: $(cat "$T/err")"
check_trace "$T/t.json" file

"$CPROF" trace -q -p "$pid" -s 1 -o "$T/t.json.gz" 2>"$T/err" ||
	fail "cprof trace -o .gz exited $?: $(cat "$T/err")"
[ "$(head -c 2 "$T/t.json.gz" | od -An -tx1 | tr -d ' \n')" = "1f8b" ] || fail ".json.gz is not gzip"
gunzip -c "$T/t.json.gz" >"$T/gz.json"
check_trace "$T/gz.json" gzip

rc=0
"$CPROF" trace -p "$pid" --profile block -s 1 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 64 ] && grep -q 'takes no --profile' "$T/err" ||
	fail "cprof trace --profile: exit $rc: $(cat "$T/err")"

serve_start "$pid" -q
fetch "$BASE/trace?seconds=1"
expect_reply "trace" 200 "application/json"
cp "$T/body" "$T/served.json"
check_trace "$T/served.json" serve
fetch "$BASE/trace?seconds=1" -H 'Accept-Encoding: gzip'
[ "$CODE" = 200 ] && [ "$(hdr Content-Encoding)" = gzip ] ||
	fail "trace with Accept-Encoding: gzip: $CODE, Content-Encoding '$(hdr Content-Encoding)'"
gunzip -c "$T/body" >"$T/served-gz.json" || fail "the gzipped trace does not gunzip"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$T/served-gz.json" ||
	fail "the gzipped trace is not JSON"
pass
