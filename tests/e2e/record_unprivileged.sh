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

start_bg "${asnobody[@]}" "$pd/calltree_nofp" 15
pid=$BG_PID
wait_exec "$pid" "$pd/calltree_nofp"
rc=0
"${asnobody[@]}" "$pd/cprof" record -p "$pid" --seconds 2 -F 999 -o "$pd/out/cpu.pprof" \
	>"$T/out" 2>"$T/err" || rc=$?
stop_bg "$pid"
[ "$rc" -eq 0 ] || fail "nobody recording its own process: exit $rc: $(cat "$T/err")"
note "cprof said: $(tr '\n' ' ' <"$T/err")"
cp "$pd/out/cpu.pprof" "$T/cpu.pprof"
check_profile "$T/cpu.pprof"
pp_stacks "$T/cpu.pprof" >"$T/stacks"
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
pass "$n samples, a $sa% of run"
