#!/bin/bash
# flame_go: `cprof report --format html` and `--format folded` on a
# profile written by Go's own runtime/pprof (workloads/golang/goprof.go:
# sample types samples/count and cpu/nanoseconds, no thread labels). The
# page, in headless chromium from disk and offline, offers both sample
# types (cpu first, the profile's last), no thread selector, and a frame
# for main.main, main.spinA and main.spinB as wide as pprof's shares; the
# folded stacks match go tool pprof -traces for both types.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/flame_lib.bash"

timeout 60 "$WORKLOAD_DIR/goprof" "$T/go.pprof" || fail "the Go workload failed"
[ -s "$T/go.pprof" ] || fail "the Go workload wrote no profile"
pp_stacks "$T/go.pprof" >"$T/go.stacks"
enough_samples goprof "$T/go.stacks" 50

"$CPROF" report --format html --sample-type samples -o "$T/go.html" "$T/go.pprof" 2>"$T/err" ||
	fail "cprof report --format html on Go's profile exited $?: $(cat "$T/err")"
check_offline "$T/go.html"
# Without --sample-type: Go's default, the last (cpu).
"$CPROF" report --format html "$T/go.pprof" >"$T/go2.html" || fail "cprof report --format html to stdout exited $?"
check_offline "$T/go2.html"
folded_vs_traces "$T/go.pprof" samples
folded_vs_traces "$T/go.pprof" cpu

# A sample type Go's profile lacks: the error lists those it has.
run_cprof out err rc report --format html --sample-type alloc_space "$T/go.pprof"
[ "$rc" -eq 64 ] || fail "an unknown --sample-type exited $rc, not 64"
grep -q "has no sample type 'alloc_space'" <<<"$err" || fail "no error for alloc_space: $err"
grep -q 'hint: its sample types are: samples, cpu' <<<"$err" || fail "no hint listing the types: $err"
[ -z "$out" ] || fail "a failed report still wrote: $(head -c 100 <<<"$out")"
# What follows loads the pages in headless chromium and reads its DOM: no
# more of cprof's C code runs, so it runs in the normal build only.
normal_only || pass "pages and folded stacks written (chromium's checks: normal build)"
chrome_dom "$T/go.html" "$T/dom.html"
dom_frames "$T/dom.html" >"$T/frames"
[ "$(dom_attr "$T/dom.html" type data-selected)" = samples ] ||
	fail "--sample-type samples is not the type shown first"
grep -q '<option value="1">cpu (nanoseconds)</option>' "$T/dom.html" ||
	fail "the sample type selector does not offer cpu (nanoseconds)"
grep -q '<label id="threadbox" hidden="">' "$T/dom.html" ||
	fail "a thread selector is shown for a profile without thread_name labels"
for f in main.main main.spinA main.spinB; do
	want=$(pp_share "$T/go.stacks" "$f")
	got=$(dom_share "$T/frames" "$f")
	note "$f: $got% wide in the page, in $want% of the samples (pprof)"
	within "$got" "$want" 2 || fail "$f is $got% wide in the page, pprof has it in $want% of the samples"
done
chrome_dom "$T/go2.html" "$T/dom2.html" "" "$TEST_TMP/flame_go.png"
[ "$(dom_attr "$T/dom2.html" type data-selected)" = cpu ] || fail "the page does not show cpu first"
grep -q 'id="total">total cpu: ' "$T/dom2.html" || fail "the page does not total cpu"

pass
