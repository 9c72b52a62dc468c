# dstate_lib.bash - helpers for the scripts that dump tests/workloads/dstate.c
# (a thread in uninterruptible sleep); source it after lib.sh and t_init.
# (Not a .sh file, so ctest does not run it as a test.)
#
#   dstate_start [NPARKED]  start dstate_nofp: its vforker thread sleeps in
#                     vfork (state D) until dstate_finish (at most 60 s);
#                     sets DPID, VTID (the vforker) and WCHAN (what /proc
#                     says it waits in)
#   gap_ms            the heartbeat's longest gap (ms) since the last call
#   check_untraced WHAT   no thread of DPID traced (TracerPid) or stopped
#   check_dstill WHAT     the vforker is still in D (the check that follows
#                     it is about a thread in uninterruptible sleep)
#   dstate_finish     end the D state (kill the vfork child), then wait for
#                     the vforker to return and the workload to exit 0 by
#                     itself
#   dstate_reason     the words every format uses for the vforker

# The bound on the heartbeat's gap, and why: cprof waits 50 ms for a thread
# in uninterruptible sleep once every other thread has stopped
# (THREADS_UNINT_WAIT_NS, docs/design.md §3.1), and a dump of 6 threads
# stops them for ~1 ms more; an
# ordinary (SCHED_OTHER) heartbeat alone, with nothing dumping it, showed
# longest gaps of 8-85 ms per second on this 2-core VM at load average 15.
# 500 ms is three times their sum, and a quarter of the 2 s that one such
# thread used to cost.
GAP_MAX_MS=500

# The D state lasts until the test is done with it, whatever the load; its
# bound and the workload's lifetime only end a test gone wrong.
DSECS=60

dstate_start() {
	local nparked=${1:-3}
	: >"$T/dstate.out"
	# A vforker never let go would be ended by the alarm.
	start_bg "$WORKLOAD_DIR/dstate_nofp" "$DSECS" "$T/gap" $((DSECS + 30)) "$nparked" >"$T/dstate.out"
	DPID=$BG_PID
	wait_for 20 "dstate_nofp to start" grep -q '^ready' "$T/dstate.out"
	VTID=$(awk '/^ready/ { print $3 }' "$T/dstate.out")
	[ -n "$VTID" ] || fail "no vforker tid in: $(cat "$T/dstate.out")"
	wait_for 20 "the vforker to sleep in vfork (state D)" t_vforker_in_d
	WCHAN=$(tr -d '\0\n' <"/proc/$DPID/task/$VTID/wchan")
	case "$WCHAN" in
	"" | 0) fail "no wait channel in /proc/$DPID/task/$VTID/wchan ('$WCHAN')" ;;
	esac
	gap_ms >/dev/null
}

t_vforker_in_d() {
	[ "$(sed 's/.*) //' "/proc/$DPID/task/$VTID/stat" | cut -d' ' -f1)" = D ]
}

gap_ms() {
	rm -f "$T/gap"
	kill -USR2 "$DPID"
	wait_for 10 "the heartbeat to report its gap" test -s "$T/gap"
	awk '{ printf "%d\n", $1 / 1e6 }' "$T/gap"
}

check_untraced() {
	local f s tracer
	for f in /proc/"$DPID"/task/*; do
		tracer=$(awk '/^TracerPid:/ { print $2 }' "$f/status" 2>/dev/null) || continue
		[ -z "$tracer" ] || [ "$tracer" = 0 ] ||
			fail "$1: thread ${f##*/} still traced by $tracer"
		s=$(sed 's/.*) //' "$f/stat" 2>/dev/null | cut -d' ' -f1)
		case "$s" in t | T) fail "$1: thread ${f##*/} left in state $s" ;; esac
	done
}

check_dstill() {
	t_vforker_in_d || fail "$1: the vforker left its sleep before the checks (machine too slow? $(cut -d' ' -f1-3 /proc/loadavg))"
}

dstate_reason() {
	echo "no user stack: in uninterruptible sleep in $WCHAN"
}

dstate_finish() {
	local child
	child=$(cat "/proc/$DPID/task/$VTID/children" 2>/dev/null | tr -d ' ')
	[ -n "$child" ] || fail "no vfork child of thread $VTID"
	kill -KILL "$child"
	wait_for 20 "the vforker to return from vfork" grep -q '^vfork returned' "$T/dstate.out"
	local rc=0
	wait "$DPID" || rc=$?
	forget_bg "$DPID"
	[ "$rc" = 0 ] || fail "dstate_nofp exited $rc: $(cat "$T/dstate.out")"
}
