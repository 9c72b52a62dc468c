#!/bin/bash
# record_calltree: the designed call tree (a 50%, b 30%, c 20% of run) comes
# back within 5 points, read by go tool pprof, for the frame-pointer and the
# frameless build with the default DWARF unwinding, and for the frame-pointer
# build with --call-graph fp.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

check_tree() {	# LABEL PROFILE
	local label=$1 prof=$2 stacks="$T/$1.stacks" n sa sb sc sm
	check_profile "$prof"
	pp_stacks "$prof" >"$stacks"
	# 3 s at 999 Hz of a busy thread: ~3000 samples on an idle machine;
	# 1000 keep a 50% share within 5 points by 3 standard deviations
	enough_samples "$label" "$stacks" 1000
	n=$(sample_count "$stacks")
	sa=$(pp_share "$stacks" a run)
	sb=$(pp_share "$stacks" b run)
	sc=$(pp_share "$stacks" c run)
	sm=$(pp_share "$stacks" main run)
	note "$label: $n samples; of run: a $sa% b $sb% c $sc%, main above run in $sm%"
	within "$sa" 50 5 || fail "$label: a has $sa% of run, want 50±5"
	within "$sb" 30 5 || fail "$label: b has $sb% of run, want 30±5"
	within "$sc" 20 5 || fail "$label: c has $sc% of run, want 20±5"
	# run must not swallow the whole process: it is ~all of the CPU time
	local sr
	sr=$(pp_share "$stacks" run)
	within "$sr" 100 5 || fail "$label: run is in only $sr% of samples"
	# callers kept: leaves sit under their parents, everything under main
	within "$(pp_share "$stacks" b b_leaf)" 100 2 || fail "$label: b_leaf samples lost their caller b"
	within "$(pp_share "$stacks" c c_leaf)" 100 2 || fail "$label: c_leaf samples lost their caller c"
	within "$sm" 100 5 || fail "$label: main is above run in only $sm%"
}

# record_enough PID PROF LABEL ARGS: 3 s at 999 Hz, or 8 s when the target
# got too little CPU for 1000 samples on a busy machine.
record_enough() {
	local pid=$1 prof=$2 label=$3 secs
	shift 3
	for secs in 3 8; do
		record_p "$pid" "$prof" --seconds "$secs" -F 999 "$@" ||
			fail "$label: cprof record exited $?"
		check_accounting "$label" "$prof" "$REC_CPU_MS"
		pp_stacks "$prof" >"$T/tmp.stacks"
		[ "$(sample_count "$T/tmp.stacks")" -ge 1000 ] && return 0
		note "$label: too few samples in $secs s (load $(cut -d' ' -f1 /proc/loadavg))"
	done
}

for variant in fp nofp; do
	wl="$WORKLOAD_DIR/calltree_$variant"
	start_bg "$wl" 90	# ends by itself: up to 3 recordings of 3+8 s, slower under ASan and load
	pid=$BG_PID
	wait_exec "$pid" "$wl"
	record_enough "$pid" "$T/$variant.pprof" "$variant-dwarf"
	if [ "$variant" = fp ]; then
		record_enough "$pid" "$T/fp-fpcg.pprof" fp-fpcallgraph --call-graph fp
	fi
	stop_bg "$pid"
	check_tree "$variant-dwarf" "$T/$variant.pprof"
done
check_tree "fp-fpcallgraph" "$T/fp-fpcg.pprof"
pass
