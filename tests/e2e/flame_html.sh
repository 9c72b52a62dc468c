#!/bin/bash
# flame_html: the HTML flame graph of a known call tree (calltree: main ->
# run -> a 50%, b -> b_leaf 30%, c -> c_leaf 20%, and the same under a
# second thread "calltree-1"), opened from disk in headless chromium with
# every host name resolving to nothing. The page's DOM has a frame for
# every function of the tree, each as wide as its share of the samples as
# go tool pprof reads them from the same profile (±2 points); a search
# (#search=) marks exactly the matching frames and shows their share; the
# thread selector (#thread=) keeps one thread; the sample type selector
# (#type=) switches; zoom (#zoom=) draws a frame full width. `cprof record -o cpu.html` writes such a page
# directly. The page loads nothing. A screenshot goes to
# $TEST_TMP/flame_html.png.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/flame_lib.bash"

funcs="main thread_main run a b b_leaf c c_leaf"

wl="$WORKLOAD_DIR/calltree_nofp"
start_bg "$wl" 120 2	# ends by itself: two threads, up to 4 recordings
pid=$BG_PID
wait_exec "$pid" "$wl"

# A pprof with every function of the tree in it. The page is compared with
# pprof's reading of the same file, not with the designed shares, so a few
# hundred samples do (3 s, or longer on a busy machine).
for secs in 3 8 20; do
	record_p "$pid" "$T/ct.pprof" --seconds "$secs" -F 999 || fail "cprof record exited $?"
	pp_stacks "$T/ct.pprof" >"$T/ct.stacks"
	[ "$(sample_count "$T/ct.stacks")" -ge 300 ] && break
	note "too few samples in $secs s (load $(cut -d' ' -f1 /proc/loadavg))"
done
enough_samples calltree "$T/ct.stacks" 300
# And straight to HTML.
"$CPROF" record -q -p "$pid" -s 2 -F 499 -o "$T/direct.html" || fail "cprof record -o direct.html exited $?"
stop_bg "$pid"

"$CPROF" report --format html -o "$T/ct.html" "$T/ct.pprof" 2>"$T/err" ||
	fail "cprof report --format html exited $?: $(cat "$T/err")"
for page in "$T/ct.html" "$T/direct.html"; do
	head -c 15 "$page" | grep -q '^<!DOCTYPE html>' || fail "$page is not an HTML page: $(head -c 200 "$page")"
	check_offline "$page"
done
# What follows loads the pages in headless chromium and reads its DOM: no
# more of cprof's C code runs, so it runs in the normal build only.
normal_only || pass "both pages written, offline (chromium's checks: normal build)"

# Widths: the samples sample type, as pp_stacks counts them (a search
# changes no width).
chrome_dom "$T/ct.html" "$T/dom.html" "search=b_leaf&type=samples" "$TEST_TMP/flame_html.png"
note "screenshot: $TEST_TMP/flame_html.png"
dom_frames "$T/dom.html" >"$T/frames"
for f in $funcs; do
	want=$(pp_share "$T/ct.stacks" "$f")
	got=$(dom_share "$T/frames" "$f")
	note "$f: $got% wide in the page, in $want% of the samples (pprof)"
	grep -q "^$f	" "$T/frames" || fail "no frame for $f in the page"
	within "$got" "$want" 2 || fail "$f is $got% wide in the page, pprof has it in $want% of the samples"
done
[ "$(dom_attr "$T/dom.html" type data-selected)" = samples ] || fail "#type=samples did not select the samples sample type"

# Search: the b_leaf frames marked, no other; the share shown.
cp "$T/dom.html" "$T/search.html"
cp "$T/frames" "$T/sframes"
awk -F '\t' '$3 == 1 && $1 != "b_leaf"' "$T/sframes" | grep -q . &&
	fail "the search for b_leaf marks other frames: $(awk -F '\t' '$3 == 1' "$T/sframes" | head -3)"
[ "$(awk -F '\t' '$1 == "b_leaf" && $3 == 1' "$T/sframes" | wc -l)" -ge 2 ] ||
	fail "the search for b_leaf did not mark its frames (one per thread)"
shown=$(dom_attr "$T/search.html" matched data-share)
[ -n "$shown" ] || fail "the search shows no share"
shown=$(awk -v s="$shown" 'BEGIN { printf "%.1f\n", 100 * s }')
want=$(pp_share "$T/ct.stacks" b_leaf)
note "search b_leaf: the page shows $shown%, pprof $want%"
within "$shown" "$want" 2 || fail "the search shows $shown% for b_leaf, pprof has $want%"
# One thread, a regular expression and a zoom in one load (chromium is
# slow on a loaded machine): calltree-1 runs thread_main, never main;
# ^[bc]_leaf$ is both leaves, their share of that thread's samples shown;
# zoom=b draws the thread's b full width with b_leaf under it and its
# callers below, nothing of a or c.
chrome_dom "$T/ct.html" "$T/view.html" "thread=calltree-1&search=%5E%5Bbc%5D_leaf%24&regex=1&zoom=b&type=samples"
dom_frames "$T/view.html" >"$T/vframes"
[ "$(dom_attr "$T/view.html" thread data-selected)" = calltree-1 ] || fail "the thread selector does not show calltree-1"
grep -q '<option value="calltree_nofp">' "$T/view.html" || fail "the thread selector lacks the main thread"
grep -q '^thread_main	' "$T/vframes" || fail "thread calltree-1 shows no thread_main"
grep -q '^main	' "$T/vframes" && fail "thread calltree-1 shows main, the other thread's"
awk -F '\t' '$3 == "calltree-1"' "$T/ct.stacks" >"$T/ct1.stacks"
shown=$(awk -v s="$(dom_attr "$T/view.html" matched data-share)" 'BEGIN { printf "%.1f\n", 100 * s }')
want=$(awk -v b="$(pp_share "$T/ct1.stacks" b_leaf)" -v c="$(pp_share "$T/ct1.stacks" c_leaf)" \
	'BEGIN { printf "%.1f\n", b + c }')
note "thread calltree-1, regex ^[bc]_leaf\$: the page shows $shown%, pprof $want%"
within "$shown" "$want" 2 || fail "the regex search ^[bc]_leaf\$ in calltree-1 shows $shown%, pprof has $want%"
awk -F '\t' '$1 == "b" && $4 == "1.000000"' "$T/vframes" | grep -q . ||
	fail "zoom=b does not draw b full width: $(grep '^b	' "$T/vframes")"
awk -F '\t' '$1 == "b_leaf" && $4 > 0.95 && $3 == 1' "$T/vframes" | grep -q . ||
	fail "zoom=b does not draw b_leaf under b, marked by the search"
grep -q '^run	' "$T/vframes" || fail "zoom=b does not draw its caller run"
grep -Eq '^(a|c|c_leaf)	' "$T/vframes" && fail "zoom=b still draws a or c: $(grep -E '^(a|c|c_leaf)	' "$T/vframes" | head -3)"

# The page record wrote: every function, a, b and c in their proportions
# within run (±2 points of the shares computed from its own data).
chrome_dom "$T/direct.html" "$T/ddom.html"
dom_frames "$T/ddom.html" >"$T/dframes"
python3 - "$T/direct.html" >"$T/dshares" <<'PY' || fail "cannot read the data of direct.html"
import json, re, sys
s = open(sys.argv[1], encoding="utf-8").read()
d = json.loads(re.search(r'<script type="application/json" id="cprof-data">(.*?)</script>', s, re.S).group(1))
t, S = d["type"], d["strings"]
tot, has = 0, {}
for smp in d["samples"]:
    v = smp[2 + t]
    tot += v
    for n in set(S[d["frames"][f][0]] for f in d["stacks"][smp[0]]):
        has[n] = has.get(n, 0) + v
for n in "main thread_main run a b b_leaf c c_leaf".split():
    print(n, "%.1f" % (100.0 * has.get(n, 0) / tot))
PY
while read -r f want; do
	got=$(dom_share "$T/dframes" "$f")
	within "$got" "$want" 2 || fail "direct.html: $f is $got% wide, its data has it in $want%"
done <"$T/dshares"
note "record -o direct.html: $(tr '\n' ' ' <"$T/dshares")"

pass
