#!/bin/bash
# top_plain: cprof top with its output not a terminal: one block of plain
# lines a second (a '---' line with the time, a header, the top rows), no
# escape sequence and no control byte, --seconds N ends it after N seconds
# with the hot function of calltree on top and the shares of its leaves
# within 10 points of their design (50/30/20); `| head` ends it; a process
# name that is a terminal escape is printed escaped.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

pct() {	# X A B C: X as a percentage of A+B+C
	awk -v x="$1" -v a="$2" -v b="$3" -v c="$4" \
		'BEGIN { s = a + b + c; printf "%.1f\n", (s > 0 ? 100 * x / s : 0) }'
}

no_controls() {	# FILE: no byte below 0x20 but newline, no DEL, no raw C1
	! LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$1" &&
		! LC_ALL=C grep -q $'\xc2[\x80-\x9f]' "$1"
}

wl="$WORKLOAD_DIR/calltree_nofp"
start_bg "$wl" 60	# ends by itself
pid=$BG_PID
wait_exec "$pid" "$wl"
rc=0
"$CPROF" top -p "$pid" --seconds 3 -F 999 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 0 ] || fail "cprof top --seconds 3 exited $rc: $(cat "$T/err")"
no_controls "$T/out" || fail "control bytes in the plain output: $(od -c "$T/out" | head)"
nblocks=$(grep -c '^--- [0-9-]*T[0-9:]*Z$' "$T/out" || true)
[ "$nblocks" -ge 2 ] && [ "$nblocks" -le 4 ] || fail "$nblocks blocks in 3 s: $(cat "$T/out")"
# The last block.
awk '/^--- / { b = "" } { b = b $0 "\n" } END { printf "%s", b }' "$T/out" >"$T/last"
grep -q "^pid $pid (calltree_nofp)  cpu 999 Hz .* threads 1 .* sort self  thread all" "$T/last" ||
	fail "header: $(sed -n 2p "$T/last")"
first=$(awk 'NR == 4 { print $(NF - 1) }' "$T/last")
[ "$first" = a ] || fail "the top row is '$first', want a: $(cat "$T/last")"
self() {
	awk -v f="$1" 'NR > 3 && $(NF - 1) == f { sub("%", "", $1); print $1; exit }' "$T/last"
}
sa=$(self a); sb=$(self b_leaf); sc=$(self c_leaf)
[ -n "$sa" ] && [ -n "$sb" ] && [ -n "$sc" ] || fail "rows missing: $(cat "$T/last")"
na=$(pct "$sa" "$sa" "$sb" "$sc")
nb=$(pct "$sb" "$sa" "$sb" "$sc")
nc=$(pct "$sc" "$sa" "$sb" "$sc")
note "$nblocks blocks; last: a $sa% b_leaf $sb% c_leaf $sc%, of the three $na / $nb / $nc"
within "$na" 50 10 || fail "a has $na% of the leaves' self time, want 50±10"
within "$nb" 30 10 || fail "b_leaf has $nb%, want 30±10"
within "$nc" 20 10 || fail "c_leaf has $nc%, want 20±10"

# Without --seconds, a closed pipe ends it (at its next block).
rc=0
timeout 60 bash -c '"$0" top -p "$1" -n 3 2>"$2" | head -n 2 >"$3"; exit "${PIPESTATUS[0]}"' \
	"$CPROF" "$pid" "$T/head.err" "$T/head" || rc=$?
[ "$rc" = 0 ] || fail "cprof top | head: exit $rc: $(cat "$T/head.err")"
[ "$(wc -l <"$T/head")" = 2 ] || fail "head got: $(cat "$T/head")"
stop_bg "$pid"

# A process named with a terminal escape (OSC 0: set the title).
wl="$WORKLOAD_DIR/names_nofp"
start_bg "$wl" 30
pid=$BG_PID
wait_exec "$pid" "$wl"
wait_for 10 "the escape name" grep -q pwned "/proc/$pid/comm"
"$CPROF" top -p "$pid" --seconds 2 >"$T/names" 2>"$T/names.err" ||
	fail "cprof top on names exited $?: $(cat "$T/names.err")"
stop_bg "$pid"
no_controls "$T/names" || fail "control bytes in the output for names: $(od -c "$T/names" | head)"
grep -qF "pid $pid (\\x1b]0;pwned\\a)" "$T/names" || fail "process name not escaped: $(sed -n 2p "$T/names")"
pass "$nblocks blocks in 3 s, a $na% b_leaf $nb% c_leaf $nc% of the leaves"
