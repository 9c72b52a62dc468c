#!/bin/bash
# noaranges_clang: inline.c built by clang -O2 -g (DWARF 5), which writes no
# .debug_aranges, libdw's only way from an address to its compile unit.
# cprof finds the unit from the units' own ranges (docs/design.md §4.2):
# `cprof record` gives the same file:line and inlined inl_mix frame as the
# gcc build does (record_inline), and `cprof threads` gives, frame for frame
# with file:line, what gdb's bt shows for the same stopped thread. The same
# clang object linked with a gcc-built main (inline_mixed), whose aranges
# leave the clang unit out, gets its own files and lines too, not those of
# the gcc unit around it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

# WORKLOAD SETS: it has DWARF, and SETS aranges sets (inline_clang none,
# inline_mixed one: the gcc unit's)
aranges_sets() {
	local sections n
	sections=$(readelf -S -W "$1") || fail "$1 is not built"
	grep -q ' \.debug_info ' <<<"$sections" || fail "$1 has no .debug_info"
	n=$(readelf --debug-dump=aranges "$1" | grep -c 'Offset into .debug_info' || true)
	[ "$n" = "$2" ] || fail "$1 has $n aranges sets, this test needs $2"
}
wl="$WORKLOAD_DIR/inline_clang"
mixed="$WORKLOAD_DIR/inline_mixed"
aranges_sets "$wl" 0
aranges_sets "$mixed" 1

src="$SOURCE_DIR/tests/workloads/inline.c"
srcline() {	# the line of the first match of a fixed string in inline.c
	local n
	n=$(grep -n -F -m1 "$1" "$src" | cut -d: -f1)
	[ -n "$n" ] || fail "'$1' not found in $src"
	echo "$n"
}
mix_first=$(srcline 'uint64_t inl_mix(')
mix_last=$(srcline 'INL_MIX_LINE')
call_hot=$(srcline 'INL_CALL_LINE')
call_middle=$(srcline 'hot(seed + 1);')
call_outer=$(srcline 'middle(seed * 3);')
call_main=$(srcline 'outer(i++);')

mixed_src="$SOURCE_DIR/tests/workloads/mixed/inline_mixed.c"
call_run=$(grep -n -F -m1 'inline_main(argc, argv);' "$mixed_src" | cut -d: -f1)
[ -n "$call_run" ] || fail "no call of inline_main in $mixed_src"

# record_chain LABEL WORKLOAD SPEC: cprof record of WORKLOAD; 80% of the
# samples must start (past kernel frames) with the frames of SPEC,
# "NAME FILE LO HI;...": NAME at a line LO..HI of a file named .../FILE.
record_chain() {
	local label=$1 w=$2 spec=$3 p good total
	start_bg "$w" 45
	p=$BG_PID
	wait_exec "$p" "$w"
	record_cpu "$p" "$T/$label.pprof" 500 --seconds 30 -F 999 || fail "$label: cprof record exited $?"
	stop_bg "$p"
	check_profile "$T/$label.pprof"
	pp_stacks "$T/$label.pprof" lines >"$T/$label.stacks"
	enough_samples "$label" "$T/$label.stacks" 100
	read -r good total < <(awk -F '\t' -v spec="$spec" '
	BEGIN { n = split(spec, want, ";") }
	function at(fr, w,   x, k, l, f) {
		split(w, x, " ")
		k = index(fr, " ")
		if (k == 0 || substr(fr, 1, k - 1) != x[1])
			return 0
		f = substr(fr, k + 1); l = f
		if (!sub(/:[0-9]+$/, "", f) || substr(f, length(f) - length(x[2])) != "/" x[2])
			return 0
		sub(/.*:/, "", l)
		return l + 0 >= x[3] && l + 0 <= x[4]
	}
	{
		# from the first frame with a file: kernel frames (a sample
		# taken as the thread was preempted) have none
		m = split($4, f, ";"); s = 1; ok = 1
		while (s < m && f[s] ~ / :0$/)
			s++
		for (i = 1; i <= n && ok; i++)
			ok = at(f[s + i - 1], want[i])
		if (ok)
			g += $1
		t += $1
	}
	END { print g + 0, t + 0 }' "$T/$label.stacks")
	note "$label: $good of $total samples start with $spec"
	if [ $((good * 100)) -lt $((total * 80)) ]; then
		fail "$label: only $good of $total samples start with $spec; the most common stacks: $(sort -t$'\t' -k1,1nr "$T/$label.stacks" | head -3 | cut -f1,4)"
	fi
}

# 1. cprof record: the whole chain with the lines of the calls
chain="inl_mix inline.c $mix_first $((mix_last + 1));hot inline.c $call_hot $call_hot"
chain="$chain;middle inline.c $call_middle $call_middle;outer inline.c $call_outer $call_outer"
record_chain inline_clang "$wl" "$chain;main inline.c $call_main $call_main"
lines=$(gopprof -symbolize=none -lines -top "$T/inline_clang.pprof" 2>/dev/null)
grep -Eq "inl_mix .*inline\.c:[0-9]+" <<<"$lines" ||
	fail "pprof -lines -top shows no inl_mix file:line: $(head -15 <<<"$lines")"
record_chain inline_mixed "$mixed" \
	"$chain;inline_main inline.c $call_main $call_main;run inline_mixed.c $call_run $call_run"

start_bg "$wl" 60
pid=$BG_PID
wait_exec "$pid" "$wl"

# 2. cprof threads against gdb, on the thread stopped (SIGSTOP) so that both
#    see the same registers: the workload's frames (inlined ones included)
#    with file:line, in order. The comparison that counts is one stopped
#    inside inl_mix (99% of the workload's time): cprof threads, which
#    leaves a stopped process stopped, is retried until it shows one; gdb
#    runs once, on that stop (it takes 3-5 s to start on a loaded machine,
#    time the workload's wall-clock budget pays for).
OWN='inl_mix|hot|middle|outer|main|now'
t_stopped() { [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status")" = T ]; }
own_frames() {	# JSON FILE: "function file:line" of the workload's frames
	python3 - "$1" "$OWN" <<'PY'
import json, sys
own = set(sys.argv[2].split('|'))
d = json.load(open(sys.argv[1]))
for f in d['threads'][0]['frames']:
    if f['function'] in own:
        print(f['function'], (f['file'] or '?').rsplit('/', 1)[-1] + ':' + str(f['line']))
PY
}
stopped_in_mix=
for try in $(seq 20); do
	kill -STOP "$pid"
	wait_for 10 "pid $pid to stop" t_stopped "$pid"
	timeout 60 "$CPROF" threads -p "$pid" -f json >"$T/threads.json" 2>"$T/threads.err" ||
		fail "cprof threads exited $?: $(cat "$T/threads.err")"
	own_frames "$T/threads.json" >"$T/cprof.own" || fail "bad JSON from cprof threads"
	if [ "$(head -1 "$T/cprof.own" | cut -d' ' -f1)" = inl_mix ]; then
		stopped_in_mix=1
		break
	fi
	kill -CONT "$pid"
	sleep 0.05
done
[ -n "$stopped_in_mix" ] ||
	fail "cprof threads never showed inl_mix in 20 stops: $(tr '\n' ';' <"$T/cprof.own")"
env -u DEBUGINFOD_URLS timeout 60 gdb -nx -batch -p "$pid" -ex bt >"$T/gdb.txt" 2>/dev/null ||
	fail "gdb -p $pid failed: $(tail -3 "$T/gdb.txt")"
t_stopped "$pid" || fail "the workload did not stay stopped"
python3 - "$T/gdb.txt" "$OWN" >"$T/gdb.own" <<'PY' || fail "cannot parse gdb's output: $(cat "$T/gdb.txt")"
import re, sys
own = set(sys.argv[2].split('|'))
for line in open(sys.argv[1]):
    m = re.match(r'^#\d+\s+(?:0x[0-9a-f]+ in )?([A-Za-z_]\w*) \(.*\) at (\S+):(\d+)\s*$', line)
    if m and m.group(1) in own:
        print(m.group(1), m.group(2).rsplit('/', 1)[-1] + ':' + m.group(3))
PY
diff -u "$T/gdb.own" "$T/cprof.own" >"$T/diff" ||
	fail "cprof threads differs from gdb's bt: $(cat "$T/diff")"
grep -q "^hot inline.c:$call_hot\$" "$T/cprof.own" ||
	fail "threads: hot is not at inline.c:$call_hot: $(tr '\n' ';' <"$T/cprof.own")"
note "threads = gdb: $(tr '\n' ';' <"$T/cprof.own")"
stop_bg "$pid"
pass
