#!/bin/bash
# heap_record: `cprof record -p PID --profile heap` and `--profile allocs`
# on heapkeep (4 KiB blocks freed at once in churn_alloc, 64 KiB blocks kept
# in hoard_alloc): Go's sample types and period, inuse_space by default for
# heap and alloc_space for allocs, the allocating functions as leaves, in
# use made of the kept blocks only, the "bytes" label, the comment saying
# what in use means; the target's memory left as it was (no cprof-heap
# mapping), its blocks intact (its own check), a debug=1-style text not
# needed here (serve_heap checks it).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

start_bg "$WORKLOAD_DIR/heapkeep_nofp" 120 >"$T/out"
wl=$BG_PID
wait_for 10 "heapkeep to start" grep -q ready "$T/out"
grep -q cprof-heap "/proc/$wl/maps" && fail "a cprof-heap mapping before cprof ran"

rc=0
"$CPROF" record -p "$wl" --profile heap -s 4 -o "$T/heap.pprof" 2>"$T/err" || rc=$?
[ "$rc" -eq 0 ] || fail "cprof record --profile heap exited $rc: $(cat "$T/err")"
grep -q "method inject" "$T/err" || fail "the summary names no method: $(cat "$T/err")"
grep -Eq "[0-9]+ modules? and [0-9]+ GOT entr(y|ies) hooked" "$T/err" ||
	fail "the summary names no GOT entries: $(cat "$T/err")"
grep -q cprof-heap "/proc/$wl/maps" && fail "the sampler is still mapped after cprof exited"

raw=$(pp_raw "$T/heap.pprof" 2>&1) || fail "go tool pprof cannot read heap.pprof: $raw"
grep -q '^PeriodType: space bytes$' <<<"$raw" || fail "period type is not space/bytes"
grep -q '^Period: 524288$' <<<"$raw" || fail "period is not 524288"
grep -q '^alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes\[dflt\]$' <<<"$raw" ||
	fail "not Go's heap sample types with inuse_space the default: $(grep -A1 '^Samples' <<<"$raw")"
grep -q '^Comment: .*"in use" means allocated since sampling began and not yet freed' <<<"$raw" ||
	fail "no comment saying what in use means"
grep -Eq '^ +bytes:\[65536\]' <<<"$raw" || fail "no bytes label of 65536"

# alloc_space: both allocating functions are leaves (the caller of malloc).
PP_VALUE=2 pp_stacks "$T/heap.pprof" >"$T/alloc.stacks"
leaf_share() { awk -F '\t' -v f="$2" '{ split($4, fr, ";"); t += $1; if (fr[1] == f) h += $1 }
	END { if (t == 0) print "nan"; else printf "%.1f\n", 100 * h / t }' "$1"; }
ch=$(leaf_share "$T/alloc.stacks" churn_alloc)
ho=$(leaf_share "$T/alloc.stacks" hoard_alloc)
note "alloc_space: churn_alloc ${ch}%, hoard_alloc ${ho}%"
awk -v c="$ch" -v h="$ho" 'BEGIN { exit !(c != "nan" && c + h >= 95 && c > 5 && h > 1) }' ||
	fail "alloc_space leaves: churn_alloc $ch%, hoard_alloc $ho% (want both, >= 95% together)"
# inuse_space: the kept blocks alone (a churn block lives for microseconds).
PP_VALUE=4 pp_stacks "$T/heap.pprof" >"$T/inuse.stacks"
hi=$(leaf_share "$T/inuse.stacks" hoard_alloc)
note "inuse_space: hoard_alloc ${hi}%"
awk -v h="$hi" 'BEGIN { exit !(h != "nan" && h >= 95) }' ||
	fail "inuse_space is not the kept blocks: hoard_alloc $hi%"
# The hoard's in-use estimate is about what it kept while sampled: 64 KiB
# every 10 ms for 4 s, ~26 MB (a wide margin for a loaded machine).
inuse=$(awk -F '\t' '{ n += $1 } END { printf "%.0f\n", n }' "$T/inuse.stacks")
note "inuse_space total $inuse bytes"
[ "$inuse" -gt 2000000 ] || fail "inuse_space total $inuse bytes, expected megabytes"

# allocs: the same profile with alloc_space the default.
"$CPROF" record -q -p "$wl" --profile allocs --rate 256k -s 2 -o "$T/allocs.pprof" 2>"$T/err2" ||
	fail "cprof record --profile allocs failed: $(cat "$T/err2")"
raw=$(pp_raw "$T/allocs.pprof")
grep -q '^alloc_objects/count alloc_space/bytes\[dflt\] inuse_objects/count inuse_space/bytes$' <<<"$raw" ||
	fail "allocs: alloc_space is not the default"
grep -q '^Period: 262144$' <<<"$raw" || fail "allocs: --rate 256k is not the period"
gopprof -symbolize=none -top -sample_index=alloc_space "$T/allocs.pprof" >"$T/top" 2>&1 ||
	fail "go tool pprof -sample_index=alloc_space: $(cat "$T/top")"
grep -q churn_alloc "$T/top" || fail "allocs: churn_alloc not in the top: $(cat "$T/top")"
grep -q cprof-heap "/proc/$wl/maps" && fail "the sampler is still mapped after the second run"

# The target's blocks are intact and it ends normally.
kill -TERM "$wl"
wait "$wl" || fail "heapkeep failed after cprof: $(cat "$T/out")"
forget_bg "$wl"
grep -q 'bad=0$' "$T/out" || fail "heapkeep: $(cat "$T/out")"
pass
