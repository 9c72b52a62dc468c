#!/bin/bash
# serve_dstate.sh - cprof serve on a process with a thread in uninterruptible
# sleep (tests/workloads/dstate.c: a vfork parent, state D): each goroutine
# request holds the other threads far less than the 2 s it used to; the
# thread is reported with its state, wait channel and no user stack; right
# after each answer no thread is traced or stopped, although the server
# lives on; and when its sleep ends the thread runs on: the workload
# finishes by itself (and the server, seeing it go, stops).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
. "$(dirname "$0")/dstate_lib.bash"
t_init

dstate_start
serve_start "$DPID"
why=$(dstate_reason)
note "vforker $VTID in D, wchan $WCHAN"

for round in 1 2; do
	gap_ms >/dev/null
	fetch "$BASE/goroutine?debug=2"
	gap=$(gap_ms)
	check_untraced "goroutine?debug=2 #$round"
	check_dstill "goroutine?debug=2 #$round"
	expect_reply "goroutine?debug=2 #$round" 200 "text/plain; charset=utf-8"
	note "goroutine?debug=2 #$round: heartbeat's longest gap during the request: $gap ms"
	[ "$gap" -lt "$GAP_MAX_MS" ] ||
		fail "goroutine?debug=2 #$round: the process was held $gap ms (bound $GAP_MAX_MS ms) for one thread in uninterruptible sleep"
	grep -q "^thread $VTID (vforker) \[disk wait, in vfork, cpu " "$T/body" ||
		fail "debug=2: no 'disk wait, in vfork' header for the vforker: $(grep "^thread $VTID " "$T/body")"
	[ "$(grep -A1 "^thread $VTID " "$T/body" | tail -1)" = "  ($why)" ] ||
		fail "debug=2: the vforker's line is '$(grep -A1 "^thread $VTID " "$T/body" | tail -1)', expected '  ($why)'"
	[ "$(grep -c '^thread ' "$T/body")" = 6 ] || fail "debug=2: $(grep -c '^thread ' "$T/body") threads, expected 6"
	[ "$(grep -c '^  (no ' "$T/body")" = 1 ] || fail "debug=2: another thread without a stack"
	[ "$(grep -c '^  park_main(...)' "$T/body")" = 3 ] || fail "debug=2: not 3 whole parked stacks"
	grep -q '^  heartbeat_main(...)' "$T/body" && grep -q '^  main(...)' "$T/body" ||
		fail "debug=2: no whole heartbeat or main stack"
done

fetch "$BASE/goroutine?debug=1"
check_untraced "goroutine?debug=1"
expect_reply "goroutine?debug=1" 200 "text/plain; charset=utf-8"
[ "$(head -1 "$T/body")" = "threads profile: total 6" ] ||
	fail "debug=1: first line '$(head -1 "$T/body")'"
grep -A1 '^1 @$' "$T/body" | tail -1 | grep -qxF "#	$why" ||
	fail "debug=1: no '1 @' entry for the vforker: $(cat "$T/body")"

# The sleep ends while cprof serve still runs: the vforker must run (not
# sit in a ptrace stop), return from vfork and let the workload exit 0.
kill -0 "$SERVE_PID" 2>/dev/null || fail "cprof serve ended early: $(cat "$SERVE_LOG")"
dstate_finish
note "$(tail -1 "$T/dstate.out")"
pass "requests held the process < $GAP_MAX_MS ms, the vforker ($WCHAN) was reported and ran on"
