#!/bin/bash
# heap_inuse: the heap profile's inuse_space holds only what heapmix keeps
# (hm_alloc_kept, the large block of each second): blocks freed at once,
# deleted, or grown by realloc and freed are not in use; what is kept was
# never freed, so its inuse_space equals its alloc_space; inuse_space is
# the type go tool pprof shows by default.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

hm_start "$WORKLOAD_DIR/heapmix_nofp" -d 0 -s 60
hm_wait_line 20 "the module to load" '^heapmix: module loaded'
heap_record "$HM_PID" "$T/heap.pprof" --profile heap --rate 16384 --seconds 4 ||
	fail "cprof record exited $?"
hm_stop
[ "$HM_ERRORS" = 0 ] || fail "heapmix found $HM_ERRORS damaged blocks"
check_heap_types "$T/heap.pprof" inuse_space

hm_inuse_kept_only "$T/heap.pprof"
kept_equal "$T/heap.pprof" hm_alloc_kept
pass "inuse_space holds the kept blocks only"
