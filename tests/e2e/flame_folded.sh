#!/bin/bash
# flame_folded: `cprof report --format folded` and `cprof record -o
# X.folded` write the stacks that go tool pprof -traces shows for the same
# profile, stack by stack and value by value: the calltree (two threads,
# kernel frames) and the inline workload (an inlined frame of its own),
# for both sample types.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/flame_lib.bash"

for w in calltree inline; do
	wl="$WORKLOAD_DIR/${w}_nofp"
	if [ "$w" = calltree ]; then
		start_bg "$wl" 280 2
	else
		start_bg "$wl" 280
	fi
	pid=$BG_PID
	wait_exec "$pid" "$wl"
	record_p "$pid" "$T/$w.pprof" --seconds 2 -F 499 || fail "cprof record exited $?"
	# and folded straight from record
	"$CPROF" record -q -p "$pid" -s 2 -F 499 -o "$T/$w.folded" || fail "cprof record -o $w.folded exited $?"
	stop_bg "$pid"
	folded_vs_traces "$T/$w.pprof" samples
	folded_vs_traces "$T/$w.pprof" cpu
	# record's folded file: lines "STACK VALUE", the value in ns of CPU
	[ -s "$T/$w.folded" ] || fail "record wrote an empty $w.folded"
	grep -vqE '^[^ ].* [0-9]+$' "$T/$w.folded" && fail "$w.folded has lines that are not 'STACK VALUE': $(grep -vE '^[^ ].* [0-9]+$' "$T/$w.folded" | head -3)"
done
# The inlined frame is a frame of its own, under the function it was
# inlined into, as pprof -traces shows it.
grep -q ';hot;inl_mix ' "$T/inline.pprof.samples.folded" || fail "no hot;inl_mix stack: $(head -5 "$T/inline.pprof.samples.folded")"
grep -q ';hot;inl_mix' "$T/inline.folded" || fail "record -o inline.folded has no hot;inl_mix: $(head -5 "$T/inline.folded")"
grep -q ';run;b;b_leaf ' "$T/calltree.pprof.samples.folded" || fail "no run;b;b_leaf stack"
pass
