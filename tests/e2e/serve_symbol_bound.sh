#!/bin/bash
# serve_symbol_bound.sh - /debug/pprof/symbol keeps no memory per address
# asked about: 300 POSTs (100 under ASan) of 65,536 addresses nobody maps
# (new ones each time, 4 clients at once) leave cprof serve's RSS within
# 20 MiB of where it started; known addresses are still named. The client stops early when RSS
# is already past the bound. More than 65,536 addresses in one request get
# a 413 that says to send them in batches.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

# No CPU profile of it is read here: its burner runs 5 ms in 100, not
# half a CPU all the test long (tests/workloads/server_target.c).
export SERVER_TARGET_PAUSE_MS=95
target_start 4 300
# ASan holds freed memory back in its quarantine (256 MB by default) to
# catch uses after free: with it the bound measures ASan, not serve.
# Its allocator's per-thread caches and shadow memory (a thread per
# connection) add ~20-40 MB more: the bound is 64 MiB there (an unbounded
# cache passes 300 MB within 25 requests under ASan too).
# Requests: enough new addresses that any memory kept per address passes
# the bound. 300 requests are 19.7 M addresses: 20 MiB is 1.1 bytes of
# each, where a cache would keep at least the 8 of the address (1,000
# requests made this the suite's slowest test, for a bound of 0.3 bytes).
# A request takes ~50 times longer under ASan: 100 requests, 6.6 M
# addresses, 64 MiB is 10 bytes of each, and ASan's allocator adds 16
# bytes of its own to every block (the unbounded cache above passed 300 MB
# within 25 requests).
limit_mb=20 requests=300
if [ "${CPROF_SANITIZED:-0}" = 1 ]; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
	limit_mb=64 requests=100
fi
serve_start "$TARGET_PID"

# Warm up: a known address (the workload's spinning function) by name.
fn=$(nm "$WORKLOAD_DIR/server_target_nofp" | awk '$3 == "server_target_burn" { print $1 }')
[ -n "$fn" ] || fail "no server_target_burn in the workload's symbols"
base=$(awk -v exe="$(readlink -f "$WORKLOAD_DIR/server_target_nofp")" \
	'$6 == exe { split($1, a, "-"); print a[1]; exit }' "/proc/$TARGET_PID/maps")
addr=$(printf '0x%x' $((0x$base + 0x$fn - $(readelf -lW "$WORKLOAD_DIR/server_target_nofp" |
	awk '$1 == "LOAD" { print $3; exit }'))))
fetch "$BASE/symbol" --data "$addr"
grep -q " server_target_burn$" "$T/body" || fail "symbol $addr: $(cat "$T/body")"

python3 - "$PORT" "$SERVE_PID" "$addr" "$limit_mb" "$requests" >"$T/client.out" 2>&1 <<'PY' || fail "$(tail -5 "$T/client.out")"
import http.client, sys, threading
port, pid, known = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
limit = int(sys.argv[4]) * 1024
nreq = int(sys.argv[5])
def rss():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
start = rss()
low = ["%08x" % (j * 16) for j in range(65536)]
lock = threading.Lock()
state = {"next": 0, "done": 0, "peak": start, "err": None}
def post(body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", "/debug/pprof/symbol", body)
    r = c.getresponse()
    d = r.read()
    c.close()
    return r.status, d
def worker():
    while True:
        with lock:
            i = state["next"]
            if i >= nreq or state["err"]:
                return
            state["next"] += 1
        # 0x5000...: no mapping of a user process is there; a new range
        # for every request.
        pfx = "+0x5%03x" % i
        body = pfx[1:] + pfx.join(low)
        status, d = post(body)
        if status != 200 or d != b"num_symbols: 1\n":
            with lock:
                state["err"] = "request %d: %d %r" % (i, status, d[:100])
            return
        with lock:
            state["done"] += 1
            if state["done"] % 25 == 0:
                r = rss()
                state["peak"] = max(state["peak"], r)
                if r - start > limit:
                    state["err"] = "RSS %d kB after %d requests, %d kB at the start" % (r, state["done"], start)
ts = [threading.Thread(target=worker) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
end = rss()
print("RSS start %d kB, peak %d kB, end %d kB, %d requests" % (start, max(state["peak"], end), end, state["done"]))
if state["err"]:
    print("FAIL: " + state["err"]); sys.exit(1)
if end - start > limit:
    print("FAIL: RSS grew by %d kB" % (end - start)); sys.exit(1)
status, d = post(known)
if status != 200 or not d.rstrip().endswith(b" server_target_burn"):
    print("FAIL: the known address after the flood: %d %r" % (status, d)); sys.exit(1)
big = "+".join("0x%x" % (0x500000000000 + j) for j in range(65537))
status, d = post(big)
if status != 413 or b"batches" not in d:
    print("FAIL: 65537 addresses: %d %r" % (status, d[:200])); sys.exit(1)
PY
note "$(head -1 "$T/client.out") (bound: ${limit_mb} MiB)"
pass "$requests symbol requests of 65,536 unknown addresses: RSS bounded"
