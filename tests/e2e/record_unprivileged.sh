#!/bin/bash
# record_unprivileged: a user without privileges records its own process
# (perf_event_paranoid <= 2 allows user-space sampling of one's own
# processes). cprof must fall back from kernel sampling (EACCES) and stay
# within the user's perf_event_mlock_kb budget for ring buffers (EPERM
# beyond it, docs/design.md §1), and still unwind with DWARF.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
[ "$paranoid" -le 2 ] || fail "perf_event_paranoid is $paranoid: unprivileged sampling is impossible here, this test needs <= 2"

pd=$(mktemp -d /tmp/cprof-e2e-unpriv.XXXXXX)
rm_on_exit "$pd"
chmod 755 "$pd"
cp "$CPROF" "$pd/cprof"
cp "$WORKLOAD_DIR/calltree_nofp" "$pd/calltree_nofp"
mkdir -m 1777 "$pd/out"
asnobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)

start_bg "${asnobody[@]}" "$pd/calltree_nofp" 40	# ends by itself
pid=$BG_PID
wait_exec "$pid" "$pd/calltree_nofp"
# 2 s, or 6 s more when a loaded machine gave the target too little CPU.
for secs in 2 6; do
	rc=0
	"${asnobody[@]}" "$pd/cprof" record -p "$pid" --seconds "$secs" -F 999 \
		-o "$pd/out/cpu.pprof" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 0 ] || fail "nobody recording its own process: exit $rc: $(cat "$T/err")"
	cp "$pd/out/cpu.pprof" "$T/cpu.pprof"
	check_profile "$T/cpu.pprof"
	pp_stacks "$T/cpu.pprof" >"$T/stacks"
	[ "$(sample_count "$T/stacks")" -ge 400 ] && break
done
stop_bg "$pid"
note "cprof said: $(tr '\n' ' ' <"$T/err")"
enough_samples unprivileged "$T/stacks" 400
n=$(sample_count "$T/stacks")
sa=$(pp_share "$T/stacks" a run)
within "$sa" 50 5 || fail "a has $sa% of run, want 50±5"
within "$(pp_share "$T/stacks" main)" 100 5 || fail "main is missing from the stacks"
# no kernel frames: they are not permitted at this paranoid level
if [ "$paranoid" -ge 2 ]; then
	raw=$(pp_raw "$T/cpu.pprof")
	if grep -q '\[kernel\]' <<<"$raw"; then
		fail "kernel mapping present although not permitted"
	fi
fi
# Off-CPU profiles need kernel sampling: without it cprof stops at once
# with the reason and writes nothing (with CAP_PERFMON it records them).
if [ "$paranoid" -ge 2 ]; then
	start_bg "${asnobody[@]}" "$pd/calltree_nofp" 40	# killed once recorded
	pid=$BG_PID
	wait_exec "$pid" "$pd/calltree_nofp"
	for kind in block mutex wall; do
		rc=0
		"${asnobody[@]}" "$pd/cprof" record -p "$pid" --seconds 1 --profile "$kind" \
			-o "$pd/out/$kind.pprof" >"$T/out" 2>"$T/err" || rc=$?
		[ "$rc" -eq 2 ] || fail "--profile $kind as nobody: exit $rc: $(cat "$T/err")"
		grep -q "^cprof: --profile $kind needs root or CAP_PERFMON" "$T/err" ||
			fail "--profile $kind as nobody said: $(cat "$T/err")"
		grep -q '^hint: ' "$T/err" || fail "--profile $kind as nobody: no hint"
		[ ! -e "$pd/out/$kind.pprof" ] || fail "--profile $kind as nobody wrote a file"
	done
	rc=0
	"${asnobody[@]}" --inh-caps +perfmon --ambient-caps +perfmon \
		"$pd/cprof" record -q -p "$pid" --seconds 1 --profile block \
		-o "$pd/out/block.pprof" 2>"$T/err" || rc=$?
	stop_bg "$pid"
	[ "$rc" -eq 0 ] || fail "--profile block as nobody with CAP_PERFMON: exit $rc: $(cat "$T/err")"
	grep -q 'delay/nanoseconds' <<<"$(pp_raw "$pd/out/block.pprof")" ||
		fail "--profile block with CAP_PERFMON: not a block profile"
fi
pass "$n samples, a $sa% of run"
