#!/bin/bash
# heap_dlopen: a module the target loads with dlopen after cprof attached
# (libheapmod.so, whose own calls to malloc go through its own GOT) is
# hooked too: its function's allocations appear in the allocs profile,
# named, below heapmix's thread function.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

hm_start "$WORKLOAD_DIR/heapmix_nofp" -s 60
start_bg "$CPROF" record -q -p "$HM_PID" -o "$T/allocs.pprof" --profile allocs --rate 16384 --seconds 6
rec=$BG_PID
injected_or_gone() { heap_injected "$HM_PID" || ! kill -0 "$rec" 2>/dev/null; }
wait_for 20 "cprof to inject its sampler" injected_or_gone
heap_injected "$HM_PID" || fail "cprof exited before it injected its sampler"
grep -q libheapmod "/proc/$HM_PID/maps" && fail "the module is loaded before heapmix was told to"
kill -HUP "$HM_PID"
hm_wait_line 20 "the module to load" '^heapmix: module loaded'
rc=0
wait "$rec" || rc=$?
forget_bg "$rec"
[ "$rc" = 0 ] || fail "cprof record exited $rc"
hm_stop
[ "$HM_ERRORS" = 0 ] || fail "heapmix found $HM_ERRORS damaged blocks"
check_heap_types "$T/allocs.pprof" alloc_space

m=$(pp_cum "$T/allocs.pprof" alloc_space heapmod_work)
note "alloc_space of heapmod_work (10% of the bytes once loaded): $m%"
awk -v s="$m" 'BEGIN { exit !(s >= 2) }' || fail "heapmod_work has $m% of alloc_space: the module loaded later is not hooked"
pp_stacks "$T/allocs.pprof" >"$T/stacks"
grep -q 'heapmod_work;mix_thread' "$T/stacks" ||
	fail "no stack heapmod_work <- mix_thread: $(grep heapmod_work "$T/stacks" | head -3)"
pass "allocations of a module loaded after cprof attached appear ($m%)"
