#!/bin/bash
# serve_heap: /debug/pprof/heap and /allocs of cprof serve on heapkeep: the
# first request starts the sampler (kept while serve runs); later answers
# hold what was sampled since, read with go tool pprof (inuse_space the
# kept blocks, alloc_space both allocating functions); ?seconds=N is the
# delta (its alloc_space about N seconds' worth); debug=1 Go's text;
# gc=1 accepted; seconds with debug 400 as in Go; SIGTERM of serve takes
# the sampler out of the target.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.bash"
t_init

start_bg "$WORKLOAD_DIR/heapkeep_nofp" 200 >"$T/out"
wl=$BG_PID
wait_for 10 "heapkeep to start" grep -q ready "$T/out"
serve_start "$wl"

fetch "$BASE/heap?gc=1"
expect_reply "first heap" 200 application/octet-stream
grep -q cprof-heap "/proc/$wl/maps" || fail "no sampler in the target after the first heap request"
sleep 3
fetch "$BASE/heap"
expect_reply heap 200 application/octet-stream
cp "$T/body" "$T/heap.pprof"
raw=$(pp_raw "$T/heap.pprof" 2>&1) || fail "go tool pprof cannot read heap: $raw"
grep -q '^alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes\[dflt\]$' <<<"$raw" ||
	fail "heap: not Go's sample types with inuse_space the default"
PP_VALUE=4 pp_stacks "$T/heap.pprof" >"$T/inuse.stacks"
hi=$(pp_share "$T/inuse.stacks" hoard_alloc)
within "$hi" 100 5 || fail "heap inuse_space: hoard_alloc $hi%, expected ~100%"
gopprof -top -sample_index=alloc_space "$BASE/allocs" >"$T/top" 2>&1 ||
	fail "go tool pprof $BASE/allocs: $(cat "$T/top")"
grep -q churn_alloc "$T/top" && grep -q hoard_alloc "$T/top" ||
	fail "allocs through go tool pprof: $(cat "$T/top")"

# The delta over 2 s: about 2 s of allocations, far less than since the
# start (at least 5 s by now).
fetch "$BASE/allocs?seconds=2"
expect_reply "allocs delta" 200 application/octet-stream
[ "$(hdr Content-Disposition)" = 'attachment; filename="allocs-delta"' ] ||
	fail "delta: Content-Disposition '$(hdr Content-Disposition)'"
cp "$T/body" "$T/delta.pprof"
fetch "$BASE/allocs"
cp "$T/body" "$T/all.pprof"
sum2() { PP_VALUE=2 pp_stacks "$1" | awk -F '\t' '{ n += $1 } END { printf "%.0f\n", n }'; }
d=$(sum2 "$T/delta.pprof")
a=$(sum2 "$T/all.pprof")
note "alloc_space: delta $d, since the start $a"
[ "$d" -gt 0 ] && [ "$((d * 2))" -lt "$a" ] || fail "delta alloc_space $d vs all $a"

fetch "$BASE/heap?debug=1"
expect_reply "heap debug=1" 200 "text/plain; charset=utf-8"
head -1 "$T/body" | grep -Eq '^heap profile: [0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @ heap/1048576$' ||
	fail "debug=1 header: $(head -1 "$T/body")"
grep -Eq '^[0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @( 0x[0-9a-f]+)+$' "$T/body" || fail "debug=1: no record line"
grep -Eq '^#	0x[0-9a-f]+	hoard_alloc\+0x[0-9a-f]+	.*heapkeep.c:[0-9]+$' "$T/body" ||
	fail "debug=1: no hoard_alloc+0xOFF frame: $(grep -m3 '^#' "$T/body")"
fetch "$BASE/heap?seconds=2&debug=1"
expect_go_error "seconds with debug" 400 "seconds and debug params are incompatible"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
forget_bg "$SERVE_PID"
grep -q cprof-heap "/proc/$wl/maps" && fail "the sampler is still in the target after serve ended"
kill -TERM "$wl"
wait "$wl" || fail "heapkeep failed: $(cat "$T/out")"
forget_bg "$wl"
grep -q 'bad=0$' "$T/out" || fail "heapkeep: $(cat "$T/out")"
pass
