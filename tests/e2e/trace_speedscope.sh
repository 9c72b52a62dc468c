#!/bin/bash
# trace_speedscope: a second reader of `cprof trace`'s JSON. speedscope
# (tests/vendor/speedscope) opens the trace in Debian's headless chromium,
# served over loopback HTTP (its profileURL fetch of a file:// URL hangs);
# it must list one profile per thread of the waits workload, named as cprof
# names the thread, each weighing the whole window (within 1 ms): the
# running and waiting slices tile it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/waits_nofp"
start_bg "$wl" 60
pid=$BG_PID
wait_exec "$pid" "$wl"
sleep 0.3

site="$T/site"
mkdir -p "$site"
cp -r "$SOURCE_DIR/tests/vendor/speedscope/." "$site/"
"$CPROF" trace -q -p "$pid" -s 0.5 -o "$site/trace.json" 2>"$T/err" ||
	fail "cprof trace exited $?: $(cat "$T/err")"
stop_bg "$pid"
window_ms=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["otherData"]["window_us"] / 1000)' "$site/trace.json")
# The rest is speedscope in headless chromium reading that file: no more of
# cprof's C code runs, so it runs in the normal build only.
normal_only || pass "trace written, window ${window_ms} ms (speedscope's reading: normal build)"

# A loopback HTTP server on a free port, which it writes to a file; it
# ends by itself after 120 s (started directly, so the EXIT trap's kill by
# PID reaches it: the interpreter itself, not the python3 function of
# lib.sh, which & would run in a subshell that the kill leaves its child).
start_bg /usr/bin/python3 -c '
import http.server, functools, os, sys, threading
threading.Timer(120, os._exit, [0]).start()
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
h.log_message = lambda *a: None
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), h)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()' "$site" "$T/port"
wait_for 10 "the HTTP server" test -s "$T/port"
port=$(cat "$T/port")

url="http://127.0.0.1:$port/index.html#profileURL=http://127.0.0.1:$port/trace.json"
rc=0
timeout 90 chromium --headless --no-sandbox --disable-gpu --enable-unsafe-swiftshader \
	--disable-dev-shm-usage --no-zygote --user-data-dir="$T/chrome" \
	--virtual-time-budget=8000 --dump-dom "$url" >"$T/dom.html" 2>"$T/chrome.err" || rc=$?
[ "$rc" -eq 0 ] || fail "chromium exited $rc: $(grep -v dbus "$T/chrome.err" | tail -3)"
# The profile list: "PROCESS (pid P), THREAD (tid T)" then its total weight.
sed 's/<[^>]*>/\n/g' "$T/dom.html" | grep -v '^[[:space:]]*$' >"$T/dom.txt"
python3 - "$T/dom.txt" "$window_ms" <<'PY' || fail "speedscope's view: $(head -40 "$T/dom.txt")"
import re, sys
lines = [l.strip() for l in open(sys.argv[1])]
window = float(sys.argv[2])
found = {}
for i, l in enumerate(lines[:-1]):
    m = re.fullmatch(r"waits_nofp \(pid \d+\), (\S+) \(tid \d+\)", l)
    w = re.fullmatch(r"([0-9.]+)ms", lines[i + 1])
    if m and w:
        found[m.group(1)] = float(w.group(1))
want = {"waits_nofp", "sleeper", "holder", "locker", "condwait", "reader"}
if set(found) != want:
    sys.exit(f"speedscope lists {sorted(found)}, want {sorted(want)}")
for name, ms in found.items():
    if abs(ms - window) > 1.0:
        sys.exit(f"{name} weighs {ms} ms in speedscope, the window is {window} ms")
print(f"trace_speedscope: 6 threads, each {min(found.values())}-{max(found.values())} ms of a {window:.2f} ms window")
PY
pass
