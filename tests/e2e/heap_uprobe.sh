#!/bin/bash
# Heap samples from uprobes on an allocator linked into the program
# (docs/design.md §12.4): tests/workloads/ownmalloc.c defines malloc, free,
# calloc and realloc itself and counts its calls. uprobe_drive opens the
# events through the sampler and heapuprobe.h as `record --method uprobe`
# does, one call in 10 sampled. Checked: the module probed is the program;
# every call is counted (the drive's count matches the workload's own
# within 5%), those of a thread created after the events were opened
# included, and that thread's pthread_create works (inherited events); the
# samples name ownmalloc's allocating functions and weigh them by bytes as
# it allocates them; the probes are gone from tracefs afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

W=$WORKLOAD_DIR/ownmalloc_nofp
DRIVE=$(dirname "$CPROF")/uprobe_drive
[ -x "$DRIVE" ] || fail "uprobe_drive not built at $DRIVE"
[ -x "$W" ] || fail "workload not built at $W"
ITERS=30000

start_bg "$W" $ITERS 280 >"$T/work.out"
WPID=$BG_PID
wait_for 20 "the workload to start" grep -q ready "$T/work.out"
start_bg "$DRIVE" "$WPID" 250 10 >"$T/drive.out" 2>"$T/drive.err"
DPID=$BG_PID
wait_for 60 "the uprobes to be enabled" grep -q enabled "$T/drive.out"
kill -USR1 "$WPID"
wait_for 240 "the workload's run to end" grep -q calls= "$T/work.out"
# The drive ends once the target is gone, having read the rest.
stop_bg "$WPID"
wait "$DPID" || fail "uprobe_drive failed: $(cat "$T/drive.err")"
forget_bg "$DPID"
cat "$T/work.out" "$T/drive.out"

grep -q "main_program 1" "$T/drive.out" ||
	fail "the probed module is not the program: $(head -1 "$T/drive.out")"
own=$(sed -n 's/^calls=\([0-9]*\) .*/\1/p' "$T/work.out")
seen=$(awk '$1 == "calls" { print $2 }' "$T/drive.out")
[ -n "$own" ] && [ -n "$seen" ] || fail "no call counts"
# The run makes 5 calls an iteration and the thread 20000.
[ "$own" -ge $((ITERS * 5 + 20000)) ] || fail "the workload made only $own calls"
awk -v a="$seen" -v b="$own" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.05 * b) }' ||
	fail "uprobes counted $seen calls, the workload made $own"

samples=$(awk '$1 == "samples" { print $2 }' "$T/drive.out")
# One in 10 of the 3 allocating calls an iteration, and of the thread's
# 10000 (10,000): some may be lost when the drive is descheduled.
[ "$samples" -ge $(( (ITERS * 3 + 10000) / 10 / 4 )) ] || fail "only $samples samples"

top() { awk -v f="$1" '$1 == "top" && $2 == f { print $3 }' "$T/drive.out"; }
for f in alloc_big alloc_grow alloc_small thread_alloc; do
	[ -n "$(top $f)" ] || fail "no sample names $f"
done
first=$(awk '$1 == "top" { print $2; exit }' "$T/drive.out")
[ "$first" = alloc_big ] || fail "the top caller by bytes is $first, not alloc_big"
# Designed bytes: alloc_big 4096, alloc_grow 1024, alloc_small 64 an
# iteration; thread_alloc 512 x 10000.
total=$(awk '$1 == "top" { s += $3 } END { print s }' "$T/drive.out")
awk -v b="$(top alloc_big)" -v t="$total" -v i=$ITERS 'BEGIN {
	want = 4096 * i / (5184 * i + 512 * 10000) * 100; got = b / t * 100
	printf "alloc_big: %.1f%% of the bytes, designed %.1f%%\n", got, want
	exit !(got > want - 5 && got < want + 5) }' ||
	fail "alloc_big's share of the bytes is off its design"

# The probes went with the drive.
if grep -q "cprof_${DPID}_" /sys/kernel/tracing/uprobe_events; then
	fail "uprobes of the drive left in tracefs: $(cat /sys/kernel/tracing/uprobe_events)"
fi
pass "$seen calls counted of $own made, $samples samples"
