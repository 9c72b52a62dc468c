#!/bin/bash
# top_tty: cprof top on a terminal (a tmux pane of fixed size). The hot
# functions of calltree (a 50%, b_leaf 30%, c_leaf 20% of its work, by
# construction) show within 3 s of the view with their shares within 10
# points; the keys sort, filter by thread and pause; a smaller window is
# followed. Each way out - q, Ctrl-C, SIGTERM, SIGHUP, the target's exit -
# exits 0 and leaves the terminal as it found it: `stty -a` unchanged, the
# alternate screen left, the cursor shown; the target runs on, not
# stopped. A SIGTSTP gives the terminal back while cprof is stopped and
# the view comes back with SIGCONT.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/top_lib.bash"
t_init

wl="$WORKLOAD_DIR/calltree_nofp"
start_bg "$wl" 240 2	# two threads; ends by itself (killed at the end)
pid=$BG_PID
wait_exec "$pid" "$wl"
tm_start 120 40

target_running() {	# not stopped, not gone
	local state
	state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) ||
		fail "$1: the target is gone"
	case $state in
	T|t) fail "$1: the target is left stopped (state $state)" ;;
	esac
}

check_end() {	# TAG
	local tag=$1 rc
	top_wait_end "$tag"
	rc=$(cat "$T/$tag.rc")
	[ "$rc" = 0 ] || fail "$tag: cprof top exited $rc: $(cat "$T/$tag.err")"
	diff -u "$T/$tag.before" "$T/$tag.after" >"$T/$tag.diff" ||
		fail "$tag: stty -a differs after cprof top: $(cat "$T/$tag.diff")"
	[ "$(pane_flag '#{alternate_on}')" = 0 ] || fail "$tag: still in the alternate screen"
	[ "$(pane_flag '#{cursor_flag}')" = 1 ] || fail "$tag: the cursor is left hidden"
	! pane_has 'SELF +TOTAL' || fail "$tag: cprof's view is left on the screen"
	target_running "$tag"
	note "$tag: exit 0, terminal as before"
}

# --- the view, the keys, the window size; q ---------------------------------
top_in_pane q -p "$pid" -F 999
wait_for 20 "the view" pane_has '^cprof top +pid '"$pid"
[ "$(pane_flag '#{alternate_on}')" = 1 ] || fail "the view is not in the alternate screen"
[ "$(pane_flag '#{cursor_flag}')" = 0 ] || fail "the cursor is shown over the view"
has_rows() {
	local p
	p=$(pane)
	for f in a b_leaf c_leaf; do
		grep -Eq "^ +[0-9.]+% +[0-9.]+% .* $f +calltree_nofp\$" <<<"$p" || return 1
	done
}
wait_for 3 "a, b_leaf and c_leaf in the view" has_rows
# The shares, once the window holds 2 s of samples.
wait_for 10 "a window of 2 s" pane_has 'window [2-9] s'
pane >"$T/view.txt"
sa=$(row_self "$T/view.txt" a)
sb=$(row_self "$T/view.txt" b_leaf)
sc=$(row_self "$T/view.txt" c_leaf)
[ -n "$sa" ] && [ -n "$sb" ] && [ -n "$sc" ] || fail "rows missing: $(cat "$T/view.txt")"
na=$(pct "$sa" "$sa" "$sb" "$sc")
nb=$(pct "$sb" "$sa" "$sb" "$sc")
nc=$(pct "$sc" "$sa" "$sb" "$sc")
note "self: a $sa% b_leaf $sb% c_leaf $sc%; of the three: $na / $nb / $nc (want 50 / 30 / 20)"
within "$na" 50 10 || fail "a has $na% of the leaves' self time, want 50±10: $(cat "$T/view.txt")"
within "$nb" 30 10 || fail "b_leaf has $nb%, want 30±10"
within "$nc" 20 10 || fail "c_leaf has $nc%, want 20±10"
# Two threads of 999 Hz each: the header counts them.
grep -q 'threads 2 ' "$T/view.txt" || fail "header: $(head -1 "$T/view.txt")"
# Keys: sort by total (run, in every stack of both threads, first), back
# to self.
tm send-keys -t top t
wait_for 5 "sort total" pane_has 'sort total'
first_total_all() {	# the first row by total is in (nearly) every sample: run
	pane | awk 'NR == 4 { sub("%", "", $2); f = $(NF - 1); exit !($2 + 0 >= 95 && f == "run") }'
}
wait_for 5 "run (in both threads' stacks) first by total" first_total_all
tm send-keys -t top s
wait_for 5 "sort self" pane_has 'sort self'
# Thread filter: each thread by name (in the order first sampled), then
# all again; one thread's rows are its own.
tm send-keys -t top f
wait_for 5 "thread filter 1" pane_has 'thread calltree(_nofp|-1) \([0-9]+\)'
t1=$(pane | grep -Eo 'thread calltree(_nofp|-1) \([0-9]+\)')
tm send-keys -t top f
wait_for 5 "thread filter 2" sh -c "tmux -L '$TM_SOCK' capture-pane -p -t top | grep -E 'thread calltree(_nofp|-1) \\([0-9]+\\)' | grep -vqF '$t1'"
t2=$(pane | grep -Eo 'thread calltree(_nofp|-1) \([0-9]+\)')
note "thread filter: '$t1', then '$t2'"
tm send-keys -t top f
wait_for 5 "all threads" pane_has 'thread all'
# Pause freezes the view, sampling goes on.
tm send-keys -t top p
wait_for 5 "paused" pane_has '\[PAUSED\]'
p1=$(pane | head -1)
sleep 2.2
p2=$(pane | head -1)
[ "$p1" = "$p2" ] || fail "the view changed while paused: '$p1' then '$p2'"
tm send-keys -t top ' '
wait_for 5 "unpaused" sh -c "! tmux -L '$TM_SOCK' capture-pane -p -t top | grep -q PAUSED"
# Help line.
tm send-keys -t top '?'
wait_for 5 "help line" pane_has 'q quit'
# A smaller terminal: the view fits it, the header stays on top.
tm resize-window -t top -x 90 -y 12
fits() {
	local p
	p=$(pane)
	[ "$(wc -l <<<"$p")" -eq 12 ] &&
		head -1 <<<"$p" | grep -q '^cprof top' &&
		sed -n 12p <<<"$p" | grep -Eq '^ +[0-9.]+%' &&
		[ "$(LC_ALL=C.UTF-8 wc -L <<<"$p")" -le 90 ]
}
wait_for 5 "the view to fit 90x12" fits
tm resize-window -t top -x 120 -y 40
tm send-keys -t top q
check_end q

# --- Ctrl-C, SIGTERM, SIGHUP ---------------------------------------------------
top_in_pane ctrlc -p "$pid"
wait_for 20 "the view" pane_has '^cprof top +pid '
tm send-keys -t top C-c
check_end ctrlc

for sig in TERM HUP; do
	top_in_pane "$sig" -p "$pid"
	wait_for 20 "the view" pane_has '^cprof top +pid '
	kill -"$sig" "$(cat "$T/$sig.pid")"
	check_end "$sig"
done

# --- SIGTSTP: the terminal as it was while cprof is stopped, the view back
# once continued ---------------------------------------------------------------
top_in_pane tstp -p "$pid"
wait_for 20 "the view" pane_has '^cprof top +pid '
tty=$(pane_flag '#{pane_tty}')
kill -TSTP "$(cat "$T/tstp.pid")"
stopped() {
	[ "$(awk '{ print $3 }' "/proc/$(cat "$T/tstp.pid")/stat")" = T ]
}
wait_for 10 "cprof to stop" stopped
wait_for 5 "the main screen while stopped" sh -c "[ \"\$(tmux -L '$TM_SOCK' display-message -p -t top '#{alternate_on}')\" = 0 ]"
[ "$(pane_flag '#{cursor_flag}')" = 1 ] || fail "tstp: the cursor is hidden while cprof is stopped"
stty -a -F "$tty" >"$T/tstp.stopped"
diff -u "$T/tstp.before" "$T/tstp.stopped" >"$T/tstp.diff" ||
	fail "tstp: stty -a differs while cprof is stopped: $(cat "$T/tstp.diff")"
target_running "tstp (cprof stopped)"
kill -CONT "$(cat "$T/tstp.pid")"
wait_for 5 "the view again" sh -c "[ \"\$(tmux -L '$TM_SOCK' display-message -p -t top '#{alternate_on}')\" = 1 ]"
wait_for 5 "the view drawn again" pane_has '^cprof top +pid '
tm send-keys -t top q
check_end tstp

# --- the target exits while watched --------------------------------------------
# Killed once the view shows it (a workload that ends by its own clock
# could end before cprof starts on a loaded machine).
start_bg "$WORKLOAD_DIR/spin_nofp" 60	# ends by itself
spid=$BG_PID
wait_exec "$spid" "$WORKLOAD_DIR/spin_nofp"
pid_save=$pid
top_in_pane exit -p "$spid"
wait_for 20 "the view of spin" pane_has '^cprof top +pid '"$spid"' \(spin_nofp\)'
wait_for 10 "spin_leaf in the view" pane_has ' spin_leaf +spin_nofp$'
stop_bg "$spid"
top_wait_end exit
[ "$(cat "$T/exit.rc")" = 0 ] || fail "target exit: cprof top exited $(cat "$T/exit.rc")"
diff -q "$T/exit.before" "$T/exit.after" >/dev/null || fail "target exit: stty -a differs"
[ "$(pane_flag '#{alternate_on}')" = 0 ] || fail "target exit: still in the alternate screen"
grep -q "pid $spid (spin_nofp) exited" "$T/exit.err" || fail "target exit: said $(cat "$T/exit.err")"
pid=$pid_save
target_running "end"
stop_bg "$pid"
pass "q, Ctrl-C, SIGTERM, SIGHUP, SIGTSTP/SIGCONT and the target's exit leave the terminal as it was"
