#!/bin/bash
# heap_method_uprobe: cprof record --method uprobe (perf_event_open uprobes on the allocator,
# nothing injected; --rate 16384: one call in 7 sampled) gives the same
# allocs profile: shares within 5 points of the workload's own, but for
# hm_big's one 1 MiB block a second, which sampling by calls cannot weigh
# from a few calls (docs/design.md §12.3); the target is never mapped a sampler and is left
# running, untraced.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

hm_start "$WORKLOAD_DIR/heapmix_nofp" -d 0 -s 60
hm_wait_line 20 "the module to load" '^heapmix: module loaded'
start_bg "$CPROF" record -q -p "$HM_PID" -o "$T/uprobe.pprof" --profile allocs --method uprobe --rate 16384 --seconds 5
rec=$BG_PID
injected=0
end=$(($(date +%s) + 5))
while kill -0 "$rec" 2>/dev/null && [ "$(date +%s)" -le "$end" ]; do
	heap_injected "$HM_PID" && injected=1
	sleep 0.2
done
rc=0
wait "$rec" || rc=$?
forget_bg "$rec"
[ "$rc" = 0 ] || fail "cprof record --method uprobe exited $rc"
[ "$injected" = 0 ] || fail "--method uprobe mapped the injected sampler into the target"
task_states_ok "$HM_PID" || fail "a thread of the target is left stopped or traced"
hm_stop
[ "$HM_ERRORS" = 0 ] || fail "heapmix found $HM_ERRORS damaged blocks"
check_heap_types "$T/uprobe.pprof" alloc_space
HEAP_SKIP_SHARE=hm_big check_alloc_shares uprobe "$T/uprobe.pprof"
pass "--method uprobe: shares within 5 points"
