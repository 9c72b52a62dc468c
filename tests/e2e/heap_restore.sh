#!/bin/bash
# heap_restore: a heap profile leaves the target as it found it. The
# target's results (checksum of every block it allocated and checked) are
# those of an unprofiled run of the same rounds; after cprof exits no
# thread is stopped or traced, the mappings (file-backed and executable)
# and every GOT entry of an allocation function (and every JUMP_SLOT of
# the dlopen'd module) hold what they held before, the sampler is not
# mapped, and its malloc/free loop runs at its unprofiled speed: through
# the GOT over straight to libc (heapmix times both in turn), the median
# of 5 timings within 5% of the same before, or of 1 (loop_unslowed;
# inert hooks left in the GOT make it 1.09-1.15 where it is 0.98-1.00).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

bin=$WORKLOAD_DIR/heapmix_nofp
hm_start "$bin" -d 0 -s 60
hm_wait_line 20 "the module to load" '^heapmix: module loaded'
before=$(hm_loop_ratio 5)
maps_snapshot "$HM_PID" "$T/maps.before"
got_snapshot "$HM_PID" "$T/got.before"
grep -q '^libheapmod.so malloc JUMP_SLO ' "$T/got.before" || fail "no GOT entry of malloc in libheapmod.so: $(cat "$T/got.before")"
grep -q '^heapmix_nofp malloc JUMP_SLO ' "$T/got.before" || fail "no GOT entry of malloc in heapmix_nofp"

heap_record "$HM_PID" "$T/heap.pprof" --profile heap --seconds 2 || fail "cprof record exited $?"
check_heap_types "$T/heap.pprof" inuse_space

hm_as_before "after cprof exited"

after=$(hm_loop_ratio 5)
note "malloc loop through the GOT over straight to libc: $before before, $after after cprof"
loop_unslowed "$after" "$before" ||
	fail "malloc loop through the GOT at $after of its cost straight to libc after cprof exited, $before before (over 5% slower)"

hm_results_right "$bin" "profiled"
pass "results, mappings, GOT and malloc speed as without cprof (checksum $HM_SUM; loop through the GOT over straight to libc $before -> $after)"
