#!/bin/bash
# record_plt: a sample that lands in a PLT stub keeps its callers up to main
# (the stub's CFI computes the CFA from %rip: docs/design.md §2), the stub is
# named "plt_leaf@plt" as perf and gdb name it, and every walk that stops
# before the bottom of the stack is counted as an unwind failure - those of
# badcfi_spin, whose CFA no unwinder can compute, and no others.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

# comment_count PROF WORD: N from the profile's "N WORD" comment (WORD singular:
# the comment says "1 unwind failure", "2 unwind failures").
comment_count() {
	pp_raw "$1" | sed -n "s/^Comment: cprof: .*[^0-9]\([0-9][0-9]*\) $2.*/\1/p" | head -1
}

# --- plt_loop (clang): >= 99% of the samples reach main ---------------------
wl="$WORKLOAD_DIR/plt_loop"
start_bg "$wl" 60	# stopped once recorded
pid=$BG_PID
wait_exec "$pid" "$wl"
prof="$T/plt.pprof"
# plt_loop calls the stub through a flushed pointer too, so that most samples
# land on the stub's first instruction on any host (a plain loop of calls put
# 10% there here, 1 in 1,000 on CI's host).
# 1 s of its CPU, however little of a CPU a loaded machine leaves it.
record_cpu "$pid" "$prof" 1000 --seconds 45 -F 999 || fail "cprof record on plt_loop exited $?"
check_accounting plt "$prof" "$REC_CPU_MS"
check_profile "$prof"
pp_stacks "$prof" >"$T/plt.stacks"
enough_samples plt "$T/plt.stacks" 300
# Samples in the stub: named plt_leaf@plt, or _init (the symbol before .plt,
# which is what a stub got before it had a name of its own).
read -r total main stub stub_main init < <(awk -F '\t' '
{
	n = split($4, fr, ";"); m = 0
	for (i = 1; i <= n; i++)
		if (fr[i] == "main") m = 1
	s = fr[1] == "plt_leaf@plt" || fr[1] == "_init"
	T += $1; if (m) M += $1; if (s) S += $1; if (s && m) SM += $1
	if (fr[1] == "_init") I += $1
}
END { print T + 0, M + 0, S + 0, SM + 0, I + 0 }' "$T/plt.stacks")
stop_bg "$pid"
failures=$(comment_count "$prof" "unwind failure")
note "plt_loop: $total samples, $main reach main; $stub in the PLT stub ($stub_main of them reach main, $init named _init); $failures unwind failures"
[ "$stub" -ge 100 ] || fail "only $stub of $total samples in the PLT stub: too few to judge"
[ "$init" -eq 0 ] || fail "$init samples in the PLT stub named _init, not plt_leaf@plt"
[ $((stub_main * 100)) -ge $((stub * 99)) ] ||
	fail "$stub_main of the $stub samples in the PLT stub reach main (< 99%)"
[ $((main * 100)) -ge $((total * 99)) ] ||
	fail "$main of $total samples reach main (< 99%)"
[ -n "$failures" ] && [ $((failures * 100)) -le "$total" ] ||
	fail "$failures unwind failures in $total samples of a program that unwinds everywhere"

# --- badcfi: exactly the stacks through badcfi_spin are failures -------------
wl="$WORKLOAD_DIR/badcfi_nofp"
start_bg "$wl" 60
pid=$BG_PID
wait_exec "$pid" "$wl"
prof="$T/badcfi.pprof"
record_cpu "$pid" "$prof" 1000 --seconds 45 -F 999 || fail "cprof record on badcfi exited $?"
stop_bg "$pid"
check_profile "$prof"
pp_stacks "$prof" >"$T/badcfi.stacks"
enough_samples badcfi "$T/badcfi.stacks" 300
read -r total bad good good_main < <(awk -F '\t' '
{
	n = split($4, fr, ";"); b = 0; g = 0; m = 0
	for (i = 1; i <= n; i++) {
		if (fr[i] == "badcfi_spin") b = 1
		if (fr[i] ~ /^good_spin/) g = 1	# gcc may clone it: good_spin.constprop.0
		if (fr[i] == "main") m = 1
	}
	T += $1; if (b) B += $1; if (g) G += $1; if (g && m) GM += $1
}
END { print T + 0, B + 0, G + 0, GM + 0 }' "$T/badcfi.stacks")
failures=$(comment_count "$prof" "unwind failure")
note "badcfi: $total samples, $bad in badcfi_spin, $good in good_spin ($good_main reach main); $failures unwind failures"
[ "$bad" -ge 50 ] && [ "$good" -ge 50 ] ||
	fail "badcfi: $bad samples in badcfi_spin and $good in good_spin: too few to judge"
[ $((good_main * 100)) -ge $((good * 99)) ] ||
	fail "badcfi: $good_main of $good good_spin samples reach main (< 99%)"
[ -n "$failures" ] || fail "badcfi: no 'N unwind failures' comment"
# Every sample in badcfi_spin stops there; a few others may fail too (a
# sample at a function's first instruction), not more than 1% of all.
[ $((failures * 100)) -ge $((bad * 95)) ] ||
	fail "badcfi: only $failures unwind failures counted for $bad stacks that stop in badcfi_spin"
[ $(((failures - bad) * 100)) -le "$total" ] ||
	fail "badcfi: $failures unwind failures, but only $bad stacks stop in badcfi_spin (of $total)"
pass "plt_loop reaches main, badcfi's stops counted"
