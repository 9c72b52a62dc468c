#!/bin/bash
# record_tty: on a terminal, cprof draws one self-updating progress line
# (time left, samples so far), clears it, then prints the summary; off a
# terminal there is no carriage-return drawing at all, and -q prints nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
command -v script >/dev/null || fail "script(1) from util-linux is needed to give cprof a terminal"

start_bg "$WORKLOAD_DIR/spin_nofp" 60 1	# killed at the end; three recordings
pid=$BG_PID
wait_exec "$pid" "$WORKLOAD_DIR/spin_nofp"

# script(1) runs cprof on a pseudo-terminal and copies what it drew.
script -qfec "$CPROF record -p $pid --seconds 1.5 -o $T/tty.pprof" /dev/null \
	</dev/null >"$T/tty.out" 2>&1 || fail "cprof record on a terminal exited $?"
check_profile "$T/tty.pprof"
draws=$(grep -o $'\rcprof: recording pid '"$pid"': [0-9]* s left, [0-9]* samples' "$T/tty.out" | wc -l)
[ "$draws" -ge 3 ] || fail "expected the progress line redrawn at least 3 times in 1.5 s, got $draws: $(cat -A "$T/tty.out")"
# the last drawing is erased before the summary
grep -q $'\r\e\\[Kcprof: [0-9]* samples (0 lost' "$T/tty.out" ||
	fail "progress line not cleared before the summary: $(cat -A "$T/tty.out")"
grep -q "wrote $T/tty.pprof" "$T/tty.out" || fail "no summary naming the file"

# not a terminal: plain lines only
"$CPROF" record -p "$pid" --seconds 0.5 -o "$T/pipe.pprof" 2>"$T/pipe.err" ||
	fail "cprof record to a pipe exited $?"
! grep -q $'\r' "$T/pipe.err" || fail "carriage returns written to a non-terminal: $(cat -A "$T/pipe.err")"
grep -q "recording pid $pid for 0.5 s" "$T/pipe.err" || fail "no start line off a terminal"

# -q: silence, on a terminal too
script -qfec "$CPROF record -q -p $pid --seconds 0.5 -o $T/quiet.pprof" /dev/null \
	</dev/null >"$T/quiet.out" 2>&1 || fail "cprof record -q exited $?"
[ ! -s "$T/quiet.out" ] || fail "-q printed: $(cat -A "$T/quiet.out")"
check_profile "$T/quiet.pprof"
pass "progress line drawn $draws times and cleared; plain off a terminal; -q silent"
