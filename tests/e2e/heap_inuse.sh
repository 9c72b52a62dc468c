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

kept=$(pp_cum "$T/heap.pprof" inuse_space hm_alloc_kept)
big=$(pp_cum "$T/heap.pprof" inuse_space hm_big)
note "inuse_space: hm_alloc_kept $kept%, hm_big $big%"
awk -v a="$kept" -v b="$big" 'BEGIN { exit !(a + b >= 97) }' ||
	fail "inuse_space: the kept blocks are $kept% + $big%, not all but 3% of it"
for f in hm_alloc_freed hm_cxx_new hm_realloc_chain heapmod_work; do
	s=$(pp_cum "$T/heap.pprof" inuse_space "$f")
	awk -v s="$s" 'BEGIN { exit !(s <= 1) }' || fail "inuse_space: $f (freed at once) has $s%"
	s=$(pp_cum "$T/heap.pprof" alloc_space "$f")
	awk -v s="$s" 'BEGIN { exit !(s >= 5) }' || fail "alloc_space: $f has $s%, it allocates 10% or more"
done

# Kept blocks are never freed: in use as much as allocated (each sample's
# values: alloc_objects alloc_space inuse_objects inuse_space).
PP_VALUE=2 pp_stacks "$T/heap.pprof" >"$T/alloc.stacks"
PP_VALUE=4 pp_stacks "$T/heap.pprof" >"$T/inuse.stacks"
sum_of() { awk -F '\t' -v f="$2" '{ n = split($4, fr, ";"); for (i = 1; i <= n; i++) if (fr[i] == f) { s += $1; break } } END { printf "%.0f", s }' "$1"; }
a=$(sum_of "$T/alloc.stacks" hm_alloc_kept)
u=$(sum_of "$T/inuse.stacks" hm_alloc_kept)
note "hm_alloc_kept: alloc_space $a, inuse_space $u"
awk -v a="$a" -v u="$u" 'BEGIN { exit !(a > 0 && u >= 0.98 * a && u <= a) }' ||
	fail "hm_alloc_kept: inuse_space $u of alloc_space $a (never freed: equal)"
pass "inuse_space holds the kept blocks only"
