#!/bin/bash
# noaranges_go: a Go binary (DWARF 4 in compressed sections, no
# .debug_aranges) gets Go's names, file:line and inlined frames as Go's own
# profiler shows them (docs/design.md §4.2). The workload
# (tests/workloads/golang/goinline.go) writes a runtime/pprof CPU profile of
# itself; cprof records it meanwhile, then `cprof threads` must show the
# main goroutine in main.mix inlined into main.(*worker).spin, called by
# main.main, with their lines; then the workload stops (SIGUSR1) and the hot
# stacks of the two profiles must have the same frames, files and lines.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/goinline"
[ -x "$wl" ] || fail "$wl is not built"
sections=$(readelf -S -W "$wl")
grep -q ' \.debug_info ' <<<"$sections" || fail "$wl has no .debug_info"
if grep -q '\.debug_aranges' <<<"$sections"; then
	fail "$wl has .debug_aranges: this test needs a build without"
fi

src="$SOURCE_DIR/tests/workloads/golang/goinline.go"
srcline() {
	local n
	n=$(grep -n -F -m1 "$1" "$src" | cut -d: -f1)
	[ -n "$n" ] || fail "'$1' not found in $src"
	echo "$n"
}
mix_first=$(srcline 'func mix(')
mix_last=$(srcline 'return x')
spin_call=$(srcline 'SPIN_CALL_LINE')
main_call=$(srcline 'MAIN_CALL_LINE')

start_bg "$wl" 60 "$T/own.pprof"
pid=$BG_PID
wait_exec "$pid" "$wl"
sleep 0.5	# past the runtime's start and StartCPUProfile

# 1. cprof record while the program profiles itself
record_cpu "$pid" "$T/cprof.pprof" 1000 --seconds 25 -F 999 || fail "cprof record exited $?"
check_profile "$T/cprof.pprof"

# 2. cprof threads: the thread running the main goroutine, stopped inside
#    main.mix (most of its time). A stop in the runtime (preemption, GC
#    assist) or in spin's own loop code, with its line, is tried again.
own_chain() {	# JSON FILE: the main.* frames of the thread in main.main, or "retry"
	python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for t in d['threads']:
    fns = [f['function'] or '' for f in t['frames']]
    if 'main.main' not in fns:
        continue
    fr = [f for f in t['frames'] if (f['function'] or '').startswith('main.')]
    if not fns[0].startswith('main.') or (fr[0]['function'] != 'main.mix' and fr[0]['line'] > 0):
        print('retry')
    else:
        print(';'.join('%s %s:%d%s' % (f['function'], f['file'], f['line'],
                                       ' [inlined]' if f['inlined'] else '')
                       for f in fr))
    break
else:
    print('retry')
PY
}
chain=retry
for try in $(seq 20); do
	timeout 60 "$CPROF" threads -p "$pid" -f json >"$T/threads.json" 2>"$T/threads.err" ||
		fail "cprof threads exited $?: $(cat "$T/threads.err")"
	chain=$(own_chain "$T/threads.json") || fail "bad JSON from cprof threads"
	[ "$chain" != retry ] && break
	sleep 0.1
done
[ "$chain" != retry ] || fail "cprof threads never showed the main goroutine in main.mix: $(head -c 2000 "$T/threads.json")"
note "threads: $chain"
awk -v f="$src" -v a="$mix_first" -v b="$mix_last" -v s="$spin_call" -v m="$main_call" '
	BEGIN { ok = 0 }
	{
		n = split($0, fr, ";")
		if (n != 3) exit
		if (split(fr[1], x, " ") != 3 || x[1] != "main.mix" || x[3] != "[inlined]") exit
		l = x[2]; sub(/.*:/, "", l)
		if (x[2] != f ":" l || l + 0 < a || l + 0 > b) exit
		if (fr[2] != "main.(*worker).spin " f ":" s) exit
		if (fr[3] != "main.main " f ":" m) exit
		ok = 1
	}
	END { exit !ok }' <<<"$chain" ||
	fail "threads: expected main.mix $src:$mix_first-$mix_last [inlined];main.(*worker).spin $src:$spin_call;main.main $src:$main_call"

# Then the program stops (SIGUSR1) and writes its profile.
kill -USR1 "$pid"
rc=0
wait "$pid" || rc=$?
forget_bg "$pid"
[ "$rc" -eq 0 ] || fail "goinline exited $rc"
[ -s "$T/own.pprof" ] || fail "goinline wrote no profile of itself"

# The Go frames of each sample, "NAME FILE:LINE" (main.* and runtime.main:
# Go's own traceback ends there, cprof's goes on to runtime.goexit), with
# their share of the samples that have any.
go_chains() {
	pp_stacks "$1" lines | awk -F '\t' '
	{
		n = split($4, fr, ";"); c = ""
		for (i = 1; i <= n; i++)
			if (fr[i] ~ /^(main\.|runtime\.main )/)
				c = c (c == "" ? "" : ";") fr[i]
		if (c == "")
			next
		w[c] += $1; t += $1
	}
	END { for (c in w) printf "%.1f\t%d\t%s\n", 100 * w[c] / t, w[c], c }' | sort -t$'\t' -k1,1nr
}
go_chains "$T/own.pprof" >"$T/own.chains"
go_chains "$T/cprof.pprof" >"$T/cprof.chains"
sum() { awk -F '\t' '{ n += $2 } END { print n + 0 }' "$1"; }
own_n=$(sum "$T/own.chains")
cprof_n=$(sum "$T/cprof.chains")
note "Go's profile: $own_n samples in Go frames; cprof's: $cprof_n"
note "Go's hottest: $(head -1 "$T/own.chains" | cut -f1,3)"
note "cprof's hottest: $(head -1 "$T/cprof.chains" | cut -f1,3)"
[ "$own_n" -ge 30 ] || fail "Go's own profile has only $own_n samples (machine too busy? $(cut -d' ' -f1-3 /proc/loadavg))"
[ "$cprof_n" -ge 100 ] || fail "cprof's profile has only $cprof_n samples in Go frames"

# Every chain holding 20% of either profile is in the other one, with the
# same names, files and lines; so is the hottest chain of each.
for pair in "own cprof" "cprof own"; do
	read -r a b <<<"$pair"
	while IFS=$'\t' read -r share _ c; do
		cut -f3 "$T/$b.chains" | grep -qxF "$c" ||
			fail "$a's chain ($share%) is not in $b's profile: $c; $b's: $(cut -f1,3 "$T/$b.chains" | head -5)"
	done < <(awk -F '\t' 'NR == 1 || $1 + 0 >= 20' "$T/$a.chains")
done
# The inlined main.mix under main.(*worker).spin at the call's line
inl="main.(*worker).spin $src:$spin_call;main.main $src:$main_call;runtime.main"
share_of() {	# CHAINS: share of chains with main.mix as leaf and inl after it
	awk -F '\t' -v inl="$inl" '
	{ if ($3 ~ /^main\.mix [^;]*;/ && index($3, inl) > 0) s += $1 }
	END { printf "%.1f\n", s }' "$1"
}
own_share=$(share_of "$T/own.chains")
cprof_share=$(share_of "$T/cprof.chains")
note "main.mix (inline) in spin:$spin_call: $own_share% in Go's profile, $cprof_share% in cprof's"
within "$cprof_share" "$own_share" 10 || fail "main.mix inlined in spin: $cprof_share% in cprof's profile, $own_share% in Go's"
within "$cprof_share" 100 20 || fail "main.mix inlined in spin in only $cprof_share% of cprof's samples"
pass
