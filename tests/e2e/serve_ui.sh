#!/bin/bash
# serve_ui: cprof serve's /ui/ pages for a two-thread calltree. The index
# shows the target (command line, executable, threads) with a form per
# profile kind; /ui/threads is the thread dump as a page, each thread's
# stack symbolized; /ui/flame?profile=cpu&seconds=N, opened in headless
# chromium with every host name resolving to nothing, is the flame graph of
# a recording: a frame for every function of the tree, each as wide as its
# share of the page's own data (±2 points). Every HTML reply carries a CSP
# forbidding any load from elsewhere, the flame page loads nothing, and the
# server saw no request beyond the ones made here. Bad queries and methods
# get their 4xx; a HEAD of a flame page records nothing. A screenshot goes to $TEST_TMP/serve_ui.png.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/serve_lib.bash"
source "$(dirname "$0")/flame_lib.bash"

wl="$WORKLOAD_DIR/calltree_nofp"
start_bg "$wl" 240 2	# ends by itself; chromium is slow on a loaded machine
pid=$BG_PID
wait_exec "$pid" "$wl"
wait_for 10 "the second thread" bash -c "[ \$(ls /proc/$pid/task | wc -l) -eq 2 ]"
serve_start "$pid" -F 499
UI=http://127.0.0.1:$PORT/ui

csp="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
expect_html() {
	expect_reply "$1" 200 "text/html; charset=utf-8"
	[ "$(hdr Content-Security-Policy)" = "$csp" ] ||
		fail "$1: Content-Security-Policy '$(hdr Content-Security-Policy)'"
}

fetch "$UI"
[ "$CODE" = 301 ] && [ "$(hdr Location)" = ui/ ] || fail "/ui: $CODE to '$(hdr Location)', not 301 to ui/"

fetch "$UI/"
expect_html "/ui/"
grep -q "<h1>Process $pid (calltree_nofp)</h1>" "$T/body" || fail "/ui/ does not name the process: $(grep '<h1>' "$T/body")"
grep -qF "<code>$wl 240 2</code>" "$T/body" || fail "/ui/ lacks the command line"
grep -qF "<code>$(readlink -f "$wl")</code>" "$T/body" || fail "/ui/ lacks the executable"
for k in cpu wall block mutex; do
	grep -q "name=\"profile\" value=\"$k\"" "$T/body" || fail "/ui/ has no form for $k"
done
for tid in $(ls /proc/$pid/task); do
	grep -q "href=\"threads#t$tid\"" "$T/body" || fail "/ui/ does not list thread $tid"
done
grep -q '>calltree-1<' "$T/body" || fail "/ui/ does not name thread calltree-1"

fetch "$UI/threads"
expect_html "/ui/threads"
for tid in $(ls /proc/$pid/task); do
	# each thread's stack, symbolized: run() is on every one of them
	python3 - "$T/body" "$tid" <<'PY' || fail "/ui/threads: thread $tid has no stack through run"
import re, sys
s = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<pre id="t%s">(.*?)</pre>' % sys.argv[2], s, re.S)
sys.exit(0 if m and re.search(r"^  run\(", m.group(1), re.M) else 1)
PY
done

# The page in headless chromium runs in the normal build only: the curl
# of the same page below reaches the same C code of cprof.
if normal_only; then
	# chromium with every host name resolving to nothing, but the server's
	# address: an IP literal is resolved through the same rules.
	CHROME_RESOLVE="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"

	# The flame graph through a browser: the recording takes 4 s of real time.
	chrome --dump-dom --screenshot="$TEST_TMP/serve_ui.png" "$UI/flame?profile=cpu&seconds=4#type=samples" >"$T/dom.html"
	grep -q 'data-ready="1"' "$T/dom.html" || fail "the flame page did not finish loading (see $T/dom.html)"
	dom_frames "$T/dom.html" >"$T/frames"
fi
curl -sS --max-time 60 -o "$T/flame.html" -D "$T/flame.hdr" "$UI/flame?profile=cpu&seconds=2" ||
	fail "curl of the flame page failed"
grep -qi "^Content-Security-Policy: $csp" "$T/flame.hdr" || fail "the flame page has no CSP header"
check_offline "$T/flame.html"
if normal_only; then
	# Widths against the data the page itself carries (the one chromium loaded).
	python3 - "$T/dom.html" >"$T/shares" <<'PY' || fail "no profile data in the page chromium loaded"
import json, re, sys
s = open(sys.argv[1], encoding="utf-8").read()
raw = re.search(r'<script type="application/json" id="cprof-data">(.*?)</script>', s, re.S).group(1)
d = json.loads(raw)
t = [x[0] for x in d["types"]].index("samples")
S, tot, has = d["strings"], 0, {}
for smp in d["samples"]:
    v = smp[2 + t]
    tot += v
    for n in set(S[d["frames"][f][0]] for f in d["stacks"][smp[0]]):
        has[n] = has.get(n, 0) + v
print("total", tot)
for n in "main thread_main run a b b_leaf c c_leaf".split():
    print(n, "%.1f" % (100.0 * has.get(n, 0) / max(tot, 1)))
PY
	total=$(awk '$1 == "total" { print $2 }' "$T/shares")
	[ "$total" -ge 50 ] || fail "the flame page holds only $total samples"
	while read -r f want; do
		[ "$f" = total ] && continue
		grep -q "^$f	" "$T/frames" || fail "no frame for $f in the flame page"
		got=$(dom_share "$T/frames" "$f")
		within "$got" "$want" 2 || fail "$f is $got% wide in the page, its data has it in $want%"
	done <"$T/shares"
	note "flame page from serve: $total samples; $(tr '\n' ' ' <"$T/shares")"

	[ -s "$TEST_TMP/serve_ui.png" ] || fail "chromium took no screenshot of the flame page"
	note "screenshot: $TEST_TMP/serve_ui.png"
fi

# Errors.
fetch "$UI/flame?profile=heap"
[ "$CODE" = 400 ] || fail "/ui/flame?profile=heap: $CODE, not 400"
fetch "$UI/flame"
[ "$CODE" = 400 ] || fail "/ui/flame without a profile: $CODE, not 400"
fetch "$UI/flame?profile=cpu&seconds=0"
[ "$CODE" = 400 ] || fail "/ui/flame?seconds=0: $CODE, not 400"
fetch "$UI/" -X POST
[ "$CODE" = 405 ] || fail "POST /ui/: $CODE, not 405"
# HEAD takes no profile: a 60 s flame page's headers come at once (the
# bound is loose for a loaded machine; a recording would take 60 s).
fetch "$UI/flame?profile=cpu&seconds=60" -I --max-time 20
[ "$CODE" = 200 ] || fail "HEAD /ui/flame?seconds=60: $CODE, not 200 within 20 s"
fetch "$UI/nothing"
[ "$CODE" = 404 ] || fail "/ui/nothing: $CODE, not 404"

# Nothing asked of the server but what this script and chromium's page
# loads asked: every logged path is one of ours.
grep -E ' (GET|HEAD|POST|PUT) ' "$SERVE_LOG" | grep -vE ' (GET|POST|HEAD) /ui(/|/threads|/flame(\?[^ ]*)?|/nothing)? ' &&
	fail "the server saw requests it should not have (above)"
if normal_only; then
	n=$(grep -cE ' GET /ui/flame\?profile=cpu&seconds=4 ' "$SERVE_LOG" || true)
	[ "$n" = 1 ] || fail "chromium asked for the flame page $n times"
	grep -qi favicon "$SERVE_LOG" && note "chromium asked for a favicon"
fi
stop_bg "$SERVE_PID"
stop_bg "$pid"
pass
