#!/bin/bash
# record_qsort: samples in a qsort callback (called from Debian's libc, which
# has no frame pointers) and in libc's memcpy (a frameless leaf) keep their
# callers up to main in >= 95% of cases with the default DWARF unwinding.
# Frame-pointer callchains reach main in ~2% of such samples (docs/design.md §2).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

for variant in nofp fp; do
	wl="$WORKLOAD_DIR/qsort_memcpy_$variant"
	start_bg "$wl" 60	# stopped once recorded
	pid=$BG_PID
	wait_exec "$pid" "$wl"
	prof="$T/$variant.pprof"
	# 1.5 s of the target's CPU: ~270 samples in cmp_ints (18%), ~500 in
	# memcpy, however little of a CPU a loaded machine leaves it.
	record_cpu "$pid" "$prof" 1500 --seconds 45 -F 999 ||
		fail "cprof record on qsort_memcpy_$variant exited $?"
	check_accounting "$variant" "$prof" "$REC_CPU_MS"
	stop_bg "$pid"
	check_profile "$prof"
	stacks="$T/$variant.stacks"
	pp_stacks "$prof" >"$stacks"

	# Samples in the callback or in a memcpy/memmove implementation, and
	# how many of them have main (and the right phase) above.
	read -r cmp cmp_main cmp_phase mem mem_main mem_phase < <(awk -F '\t' '
	{
		n = split($4, fr, ";"); c = 0; m = 0; hm = 0; sp = 0; cp = 0
		for (i = 1; i <= n; i++) {
			if (fr[i] == "cmp_ints") c = 1
			if (fr[i] ~ /memcpy|memmove/) m = 1
			if (fr[i] == "main") hm = 1
			if (fr[i] == "sort_phase") sp = 1
			if (fr[i] == "copy_phase") cp = 1
		}
		if (c) { C += $1; if (hm) CM += $1; if (sp) CS += $1 }
		if (m) { M += $1; if (hm) MM += $1; if (cp || sp) MC += $1 }
	}
	END { print C + 0, CM + 0, CS + 0, M + 0, MM + 0, MC + 0 }' "$stacks")
	note "$variant: cmp_ints $cmp samples ($cmp_main under main, $cmp_phase under sort_phase); memcpy $mem ($mem_main under main, $mem_phase under copy_phase or sort_phase)"
	[ "$cmp" -ge 100 ] || fail "$variant: only $cmp samples in cmp_ints"
	[ "$mem" -ge 100 ] || fail "$variant: only $mem samples in memcpy/memmove"
	[ $((cmp_main * 100)) -ge $((cmp * 95)) ] ||
		fail "$variant: $cmp_main of $cmp cmp_ints samples reach main (< 95%)"
	[ $((mem_main * 100)) -ge $((mem * 95)) ] ||
		fail "$variant: $mem_main of $mem memcpy samples reach main (< 95%)"
	# A frameless memcpy must not lose its caller: frame-pointer chains
	# skip copy_phase and hang memcpy under main. (glibc's merge sort
	# copies with memcpy too, hence either phase.)
	[ $((mem_phase * 100)) -ge $((mem * 95)) ] ||
		fail "$variant: $mem_phase of $mem memcpy samples are under copy_phase or sort_phase (< 95%)"
	[ $((cmp_phase * 100)) -ge $((cmp * 95)) ] ||
		fail "$variant: $cmp_phase of $cmp cmp_ints samples are under sort_phase (< 95%)"
done
pass
