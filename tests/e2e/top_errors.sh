#!/bin/bash
# top_errors: bad input to cprof top - no pid, a flag it does not know, a
# missing value, a bad -F or --profile, a stray argument, a process that
# does not exist, another user's process without privileges, --profile
# wall without privileges - gets one line naming the problem, a hint and a
# non-zero exit, and leaves the terminal (a tmux pane) untouched: stty -a
# as before, never the alternate screen, nothing written to it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/top_lib.bash"
t_init

wl="$WORKLOAD_DIR/calltree_nofp"
start_bg "$wl" 60	# ends by itself
pid=$BG_PID
wait_exec "$pid" "$wl"
# A pid that is no process: a child that has been reaped.
true & gone=$!
wait "$gone"
kill -0 "$gone" 2>/dev/null && fail "pid $gone was reused at once"
tm_start 120 30

n=0
case_err() {	# RC REGEX ARGS...: one error line matching REGEX and a hint
	local want=$1 re=$2 tag rc
	shift 2
	n=$((n + 1))
	tag=e$n
	top_in_pane "$tag" "$@"
	top_wait_end "$tag"
	rc=$(cat "$T/$tag.rc")
	[ "$rc" = "$want" ] || fail "top $*: exit $rc, want $want: $(cat "$T/$tag.err")"
	[ "$(wc -l <"$T/$tag.err")" = 2 ] || fail "top $*: not one error and one hint: $(cat "$T/$tag.err")"
	grep -Eq "^cprof: $re" "$T/$tag.err" || fail "top $*: said $(head -1 "$T/$tag.err"), want $re"
	sed -n 2p "$T/$tag.err" | grep -q '^hint: ' || fail "top $*: no hint: $(cat "$T/$tag.err")"
	! LC_ALL=C grep -q $'\x1b' "$T/$tag.err" || fail "top $*: escape bytes in its message"
	diff -q "$T/$tag.before" "$T/$tag.after" >/dev/null || fail "top $*: stty -a differs"
	[ "$(pane_flag '#{alternate_on}')" = 0 ] || fail "top $*: left the alternate screen on"
	[ "$(pane_flag '#{cursor_flag}')" = 1 ] || fail "top $*: left the cursor hidden"
	# The pane holds only what the shell wrote: the view never started.
	! pane_has 'cprof top|SELF' || fail "top $*: drew on the terminal: $(pane)"
	note "top $*: exit $rc: $(head -1 "$T/$tag.err")"
}

case_err 64 'nothing to watch: give -p PID'
case_err 64 "unknown option '--bogus'" -p "$pid" --bogus
case_err 64 "option '-p' needs a value" -p
case_err 64 "invalid -F '0'" -p "$pid" -F 0
case_err 64 "invalid --profile 'block': must be cpu or wall" -p "$pid" --profile block
case_err 64 "unexpected argument 'ls'" -p "$pid" ls
case_err 2 "no process with pid $gone" -p "$gone"

# Without privileges (as nobody): root's process, and off-CPU time.
pd=$(mktemp -d /tmp/cprof-e2e-top.XXXXXX)
rm_on_exit "$pd"
chmod 755 "$pd"
cp "$CPROF" "$pd/cprof"
CPROF=$pd/cprof
TOP_WRAP=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
case_err 2 "no permission to sample pid $pid: it belongs to another user" -p "$pid"
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
if [ "$paranoid" -ge 2 ]; then
	cp "$WORKLOAD_DIR/calltree_nofp" "$pd/calltree_nofp"
	start_bg "${TOP_WRAP[@]}" "$pd/calltree_nofp" 30
	own=$BG_PID
	wait_exec "$own" "$pd/calltree_nofp"
	case_err 2 "--profile wall needs root or CAP_PERFMON" -p "$own" --profile wall
	stop_bg "$own"
fi
kill -0 "$pid" || fail "the target is gone"
stop_bg "$pid"
pass "$n bad inputs: one error line and a hint each, the terminal untouched"
