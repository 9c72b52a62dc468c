#!/bin/bash
# heap_uprobe_inuse: `record --profile heap --method uprobe` gives in use
# as the injected sampler does (docs/design.md §12.4): a sampled entry is
# paired with its return (the address) and every free and realloc is
# followed. heapmix (libc's allocator): inuse_space holds only what it
# keeps (hm_alloc_kept, hm_big's block of each second), none of what it
# frees at once, deletes or grows by realloc and frees; hm_alloc_kept's
# blocks are never freed, so its inuse_space is its alloc_space. ownmalloc
# (an allocator linked into the program, no GOT entry reaches it) with
# KEEP: alloc_kept's blocks are in use, its other callers' are not.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

# --- heapmix: libc's malloc --------------------------------------------------
hm_start "$WORKLOAD_DIR/heapmix_nofp" -d 0 -s 60
hm_wait_line 20 "the module to load" '^heapmix: module loaded'
heap_record "$HM_PID" "$T/heap.pprof" --profile heap --method uprobe --rate 16384 --seconds 4 ||
	fail "cprof record exited $?"
task_states_ok "$HM_PID" || fail "a thread of heapmix is left stopped or traced"
hm_stop
[ "$HM_ERRORS" = 0 ] || fail "heapmix found $HM_ERRORS damaged blocks"
check_heap_types "$T/heap.pprof" inuse_space
go tool pprof -raw "$T/heap.pprof" >"$T/heap.raw" 2>/dev/null || fail "go tool pprof -raw failed"
if grep -q 'in use is empty' "$T/heap.raw"; then
	fail "the profile says in use is empty"
fi

hm_inuse_kept_only "$T/heap.pprof"
kept_equal "$T/heap.pprof" hm_alloc_kept

# --- ownmalloc: the allocator in the program ---------------------------------
W=$WORKLOAD_DIR/ownmalloc_nofp
start_bg "$W" 20000 120 keep >"$T/own.out"
OPID=$BG_PID
wait_for 20 "ownmalloc to start" grep -q ready "$T/own.out"
start_bg "$CPROF" record -q -p "$OPID" -o "$T/own.pprof" --profile heap --method uprobe --rate 16384 --seconds 100
REC=$BG_PID
# Waiting, ownmalloc calls malloc and free every millisecond: the probes
# on it (cprof opens the file as /proc/PID/root/...) count hits once
# enabled, calibration done.
probes_hit() { awk -v p="/proc/$OPID/root/" 'index($1, p) == 1 && $3 > 0 { n++ } END { exit !n }' /sys/kernel/tracing/uprobe_profile; }
wait_for 60 "the uprobes to be enabled" probes_hit
kill -USR1 "$OPID"
wait_for 200 "ownmalloc's run to end" grep -q calls= "$T/own.out"
kill -INT "$REC"
rc=0
wait "$REC" || rc=$?
forget_bg "$REC"
[ "$rc" = 0 ] || fail "cprof record of ownmalloc exited $rc"
stop_bg "$OPID"
cat "$T/own.out"
check_heap_types "$T/own.pprof" inuse_space
k=$(pp_cum "$T/own.pprof" inuse_space alloc_kept)
note "ownmalloc inuse_space: alloc_kept $k%"
awk -v k="$k" 'BEGIN { exit !(k >= 99) }' || fail "inuse_space: alloc_kept has $k%, not all"
for f in alloc_big alloc_small alloc_grow thread_alloc; do
	s=$(pp_cum "$T/own.pprof" inuse_space "$f")
	awk -v s="$s" 'BEGIN { exit !(s <= 1) }' || fail "inuse_space: $f (freed) has $s%"
	s=$(pp_cum "$T/own.pprof" alloc_space "$f")
	awk -v s="$s" 'BEGIN { exit !(s > 0) }' || fail "alloc_space: no $f"
done
kept_equal "$T/own.pprof" alloc_kept
pass "--method uprobe: inuse_space holds the kept blocks only"
