#!/bin/bash
# threads_names: in `cprof threads` text and summary, a C++ name that
# carries its parameter list is not given a second "(...)", every other
# name is ("mycrate::park(...)", "idle_thread(...)"); debug1 names the same
# functions. Thread names that are terminal escapes (an OSC title sequence,
# a raw C1 CSI byte, DEL) come out escaped: no control byte reaches stdout
# or stderr in any text format (docs/design.md §4.1).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/names_nofp"
start_bg "$wl" 30
pid=$BG_PID
wait_exec "$pid" "$wl"
# The parked thread has named itself and waits in pause(). (LC_ALL=C: its
# name is not UTF-8, and sed's "." would not match its bytes otherwise.)
parked() {
	local t
	for t in /proc/"$pid"/task/*; do
		if LC_ALL=C grep -q '^csi' "$t/comm" 2>/dev/null &&
			[ "$(LC_ALL=C sed 's/.*) //' "$t/stat" | cut -d' ' -f1)" = S ]; then
			return 0
		fi
	done
	return 1
}
wait_for 10 "the parked thread" parked

# Bytes a terminal acts on: C0 controls but newline and tab, DEL, and the
# C1 range (as raw bytes; UTF-8 is not expected in these outputs).
no_controls() {
	local what=$1 file=$2 n
	n=$(LC_ALL=C tr -d '\n\t\040-\176' <"$file" | wc -c)
	[ "$n" -eq 0 ] || fail "$what: $n raw control or non-ASCII bytes: $(LC_ALL=C tr -d '\n\t\040-\176' <"$file" | od -An -tx1 | head -2)"
}

for fmt in text summary debug1; do
	"$CPROF" threads -p "$pid" -f "$fmt" >"$T/$fmt" 2>"$T/$fmt.err" ||
		fail "cprof threads -f $fmt exited $?: $(cat "$T/$fmt.err")"
	no_controls "threads -f $fmt stdout" "$T/$fmt"
	no_controls "threads -f $fmt stderr" "$T/$fmt.err"
done
"$CPROF" threads -p "$pid" -f json >"$T/json" 2>"$T/json.err" || fail "cprof threads -f json exited $?"
LC_ALL=C grep -q $'\033' "$T/json" && fail "a raw ESC in the JSON output"

for fmt in text summary; do
	f=$T/$fmt
	grep -qxF '  names::cxx::park(int)' "$f" ||
		fail "$fmt: no 'names::cxx::park(int)' line (a doubled parameter list?): $(grep -F 'park' "$f" | head -3)"
	grep -qF 'park(int)(...)' "$f" && fail "$fmt: C++ parameters followed by (...)"
	grep -qxF '  mycrate::park(...)' "$f" ||
		fail "$fmt: no 'mycrate::park(...)' line: $(grep -F 'park' "$f" | head -3)"
	grep -qxF '  idle_thread(...)' "$f" || fail "$fmt: no 'idle_thread(...)' line"
	grep -qxF '  pause(...)' "$f" || fail "$fmt: no 'pause(...)' line"
done
grep -qF 'thread '"$pid"' (\x1b]0;pwned\a) [' "$T/text" ||
	fail "text: the main thread's name is not shown escaped: $(grep "^thread $pid " "$T/text")"
grep -qE '^thread [0-9]+ \(csi\\x9b2J\\x7f\) \[sleeping, in pause' "$T/text" ||
	fail "text: the parked thread's name is not shown escaped: $(grep '^thread' "$T/text")"
grep -qF ' (\x1b]0;pwned\a)' "$T/summary" || fail "summary: the main thread's name is not escaped"
grep -qF ' (csi\x9b2J\x7f)' "$T/summary" || fail "summary: the parked thread's name is not escaped"
grep -qP '^#\t0x[0-9a-f]+\tnames::cxx::park\(int\)\+0x[0-9a-f]+\t' "$T/debug1" ||
	fail "debug1: no names::cxx::park(int) frame"
grep -qP '^#\t0x[0-9a-f]+\tmycrate::park\+0x' "$T/debug1" || fail "debug1: no mycrate::park frame"
pass "parameter lists once, thread names escaped in text, summary and debug1"
