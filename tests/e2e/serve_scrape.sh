#!/bin/bash
# serve_scrape.sh - Grafana Alloy's scrape pattern (tests/e2e/scrape_sim.py:
# profile, block and mutex with seconds=14 every 15 s, goroutine, allocs)
# against three workloads, each with its own cprof serve -p, for
# SCRAPE_SECONDS (48 here, at Alloy's shape scaled to an 8 s interval and
# 7 s profiles, six rounds; bench/serve.sh runs the real 15 s pattern for
# 10 minutes): every reply 200
# (allocs from the injected heap sampler) with a full-length profile of the right sample type
# (goroutine/count for goroutine), each serve's RSS, descriptors and
# threads flat (last window within 10% of the first), the workloads'
# heartbeats unharmed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

secs=${SCRAPE_SECONDS:-48}
# Under ASan, freed memory waits in a quarantine of up to 256 MiB: the RSS
# of a few minutes' serving grows with it, not with cprof's own state.
if [ "${CPROF_SANITIZED:-0}" = 1 ]; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
fi
# No CPU profile of them is read for its samples: their burners run 5 ms
# in 100, not half a CPU each all the test long
# (tests/workloads/server_target.c; 3 x 50% was a third of this test's
# CPU, and the suite's 2 cores are saturated).
export SERVER_TARGET_PAUSE_MS=95
specs=()
for i in 1 2 3; do
	hb=$T/heartbeat$i
	start_bg "$WORKLOAD_DIR/server_target_nofp" 4 $((secs + 90)) "$hb"
	tp=$BG_PID
	wait_for 10 "target $i to start" test -s "$hb"
	serve_start "$tp"
	cp "$SERVE_LOG" "$T/serve$i.log"
	specs+=(--target "target$i,$BASE,$hb,$SERVE_PID")
done
python3 "$SOURCE_DIR/tests/e2e/scrape_sim.py" --duration "$secs" --interval 8 \
	--seconds 7 --sample 2 --json "$T/report.json" "${specs[@]}" >"$T/sim.out" 2>&1 ||
	fail "scrape simulation: $(grep -E 'FAIL|failures|Error|rror:' "$T/sim.out" | head -8)"
while read -r line; do note "$line"; done <"$T/sim.out"
pass "Alloy's pattern for ${secs}s against 3 processes: every reply whole, serve flat, heartbeats unharmed"
