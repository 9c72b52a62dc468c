#!/bin/bash
# heap_command: `cprof record --profile allocs -- COMMAND`: the command runs
# with its output and exit status passed through, the sampler goes in once
# its libraries are loaded, and the profile holds its allocations from
# then on; the summary says how long it ran before sampling began.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

rc=0
"$CPROF" record --profile allocs -o "$T/allocs.pprof" -- "$WORKLOAD_DIR/heapkeep_nofp" 3 \
	>"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 0 ] || fail "cprof record --profile allocs -- heapkeep exited $rc: $(cat "$T/err")"
grep -q '^churned=[0-9]* hoarded=[0-9]* bad=0$' "$T/out" ||
	fail "heapkeep's output did not pass through, or its blocks were changed: $(cat "$T/out")"
grep -q "method inject" "$T/err" || fail "no method in the summary: $(cat "$T/err")"
grep -Eq "the first [0-9]+ ms of .*heapkeep_nofp .*ran before sampling began" "$T/err" ||
	fail "the summary does not say what the start missed: $(cat "$T/err")"
raw=$(pp_raw "$T/allocs.pprof")
grep -q '^alloc_objects/count alloc_space/bytes\[dflt\] inuse_objects/count inuse_space/bytes$' <<<"$raw" ||
	fail "not the allocs profile"
PP_VALUE=2 pp_stacks "$T/allocs.pprof" >"$T/stacks"
grep -q "	churn_alloc;" "$T/stacks" || fail "no churn_alloc leaf: $(head "$T/stacks")"
grep -q "	hoard_alloc;main" "$T/stacks" || fail "no hoard_alloc;main stack: $(head "$T/stacks")"

# A failing command's status is cprof's.
rc=0
"$CPROF" record -q --profile heap -o "$T/h2.pprof" -- sh -c 'exit 3' 2>"$T/err3" || rc=$?
[ "$rc" -eq 3 ] || fail "the command's status 3 became $rc: $(cat "$T/err3")"
pass
