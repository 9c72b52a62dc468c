#!/bin/bash
# explain_root: when cprof runs as root and is still refused, the hint does
# not tell it to run as root: it names what else refuses (another tracer,
# Yama, a security module). A Landlock domain (tests/helpers/landlocked)
# refuses ptrace of processes outside it, whatever the capabilities.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
[ "$(id -u)" = 0 ] || fail "run as root (ctest as root, as CI does)"

wl="$WORKLOAD_DIR/spin_nofp"
start_bg "$wl" 20
pid=$BG_PID
wait_exec "$pid" "$wl"

run_cprof out err rc threads -p "$pid"
[ "$rc" = 0 ] || fail "cprof threads outside the sandbox exited $rc: $err"

"$WORKLOAD_DIR/landlocked" "$CPROF" threads -p "$pid" >"$T/out" 2>"$T/err" && rc=0 || rc=$?
note "in a Landlock domain: exit $rc: $(tr '\n' ' ' <"$T/err")"
[ "$rc" = 2 ] || fail "cprof threads refused by Landlock exited $rc, not 2"
grep -q "cannot attach to pid $pid" "$T/err" || fail "no 'cannot attach' line: $(cat "$T/err")"
grep -qi 'run as .*root' "$T/err" && fail "tells root to run as root: $(cat "$T/err")"
grep -q 'security module' "$T/err" || fail "does not name a security module: $(cat "$T/err")"
grep -q "^TracerPid:[[:space:]]*0$" "/proc/$pid/status" || fail "the target was left traced"

# Where this machine refuses PID 1 to root (a sandboxed shell), the
# sampling error must not tell root to become root either.
if ! "$CPROF" record -p 1 --seconds 0.2 -o "$T/p1.pprof" 2>"$T/err1"; then
	note "record -p 1: $(tr '\n' ' ' <"$T/err1")"
	grep -qi 'run cprof as root\|run as .*root' "$T/err1" &&
		fail "record -p 1 tells root to run as root: $(cat "$T/err1")"
fi
stop_bg "$pid"
pass
