#!/bin/bash
# threads_dstate.sh - one thread in uninterruptible sleep (tests/workloads/
# dstate.c: a vfork parent, state D) must not freeze the process:
# in snapshot and one-at-a-time mode the heartbeat's longest gap during the
# dump stays far below the 2 s one such thread used to cost; the thread is
# reported in every format with its state, wait channel and no user stack,
# every other thread with its whole stack; exit status 1 (partial) with a
# warning naming it; no thread traced or stopped afterwards; and the
# vforker runs on when its child exits (the workload then exits 0 itself).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dstate_lib.bash"
t_init

# check_text WHAT FILE: the text dump of the 6 threads.
check_text() {
	local what=$1 f=$2 why
	why=$(dstate_reason)
	grep -q "^thread $VTID (vforker) \[disk wait, in vfork, cpu " "$f" ||
		fail "$what: no 'disk wait, in vfork' header for the vforker: $(grep "^thread $VTID " "$f")"
	[ "$(grep -A1 "^thread $VTID " "$f" | tail -1)" = "  ($why)" ] ||
		fail "$what: the vforker's line is '$(grep -A1 "^thread $VTID " "$f" | tail -1)', expected '  ($why)'"
	[ "$(grep -c '^  (no ' "$f")" = 1 ] || fail "$what: another thread without a stack: $(grep -B1 '^  (no ' "$f")"
	# Everyone else, whole: main, 3 parked, heartbeat.
	[ "$(grep -c '^thread ' "$f")" = 6 ] || fail "$what: $(grep -c '^thread ' "$f") threads, expected 6"
	[ "$(grep -c '^  dstate_park(...)' "$f")" = 3 ] || fail "$what: not 3 parked threads with dstate_park"
	[ "$(grep -c '^  park_main(...)' "$f")" = 3 ] || fail "$what: not 3 parked threads down to park_main"
	grep -q '^  dstate_heartbeat(...)' "$f" && grep -q '^  heartbeat_main(...)' "$f" ||
		fail "$what: no whole heartbeat stack"
	grep -q '^  dstate_main_wait(...)' "$f" && grep -q '^  main(...)' "$f" ||
		fail "$what: no whole main stack"
}

# dump_checked WHAT ARGS...: cprof threads ARGS on the workload, measured by
# its heartbeat; the output in $T/out.
dump_checked() {
	local what=$1 out err rc gap
	shift
	gap_ms >/dev/null
	run_cprof out err rc threads -p "$DPID" "$@"
	gap=$(gap_ms)
	check_untraced "$what"
	check_dstill "$what"
	note "$what: heartbeat's longest gap during the dump: $gap ms"
	[ "$gap" -lt "$GAP_MAX_MS" ] ||
		fail "$what: the process was held $gap ms (bound $GAP_MAX_MS ms) for one thread in uninterruptible sleep"
	[ "$rc" = 1 ] || fail "$what: exit status $rc, expected 1 (a thread without a stack): $err"
	grep -qx "cprof: warning: thread $VTID: $(dstate_reason)" <<<"$err" ||
		fail "$what: no warning naming the vforker: $err"
	printf '%s\n' "$out" >"$T/out"
}

# --- snapshot: text, then the other formats ---------------------------------
dstate_start
note "vforker $VTID in D, wchan $WCHAN"
dump_checked snapshot
check_text snapshot "$T/out"

dump_checked "snapshot json" -f json
python3 - "$T/out" "$VTID" "$WCHAN" "$(dstate_reason)" <<'PY' || fail "snapshot json: see above"
import json, sys
d = json.load(open(sys.argv[1]))
vt, wchan, why = int(sys.argv[2]), sys.argv[3], sys.argv[4]
ts = d["threads"]
assert len(ts) == 6, len(ts)
v = [t for t in ts if t["tid"] == vt]
assert len(v) == 1, "no vforker"
v = v[0]
assert v["state"] == "disk wait" and v["syscall"] == "vfork", v
assert v["frames"] == [] and v["wchan"] == wchan and v["error"] == why, v
for t in ts:
    if t["tid"] != vt:
        assert t["frames"] and t["error"] is None and t["wchan"] is None, t
PY

dump_checked "snapshot summary" -f summary
grep -A1 "^1 thread: $VTID (vforker)\$" "$T/out" | tail -1 | grep -qxF "  ($(dstate_reason))" ||
	fail "snapshot summary: the vforker is not listed with '$(dstate_reason)': $(cat "$T/out")"
grep -q "^pid $DPID: 6 threads, 3 distinct stacks$" "$T/out" ||
	fail "snapshot summary: header '$(head -1 "$T/out")'"

dump_checked "snapshot debug1" -f debug1
[ "$(head -1 "$T/out")" = "threads profile: total 6" ] ||
	fail "snapshot debug1: first line '$(head -1 "$T/out")'"
grep -A1 '^1 @$' "$T/out" | tail -1 | grep -qxF "#	$(dstate_reason)" ||
	fail "snapshot debug1: no '1 @' entry for the vforker: $(cat "$T/out")"
dstate_finish
note "snapshot: $(tail -1 "$T/dstate.out")"

# --- one at a time -------------------------------------------------------------
dstate_start
dump_checked one-at-a-time --one-at-a-time
check_text one-at-a-time "$T/out"
dstate_finish
note "one at a time: $(tail -1 "$T/dstate.out")"

pass "a thread in D held the others < $GAP_MAX_MS ms, was reported with its wait channel ($WCHAN), and ran on"
