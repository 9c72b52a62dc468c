#!/bin/bash
# record_lines: the program's own DWARF gives files and lines; a library
# whose DWARF is a separate debug file (libc with libc6-dbg) is named from
# its symbol table and its mapping says it has no line numbers, unless
# --system-lines is given. Flags checked with pprof's own reading of the
# mappings (-raw), names with pp_stacks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
dpkg-query -W -f='${Status}' libc6-dbg 2>/dev/null | grep -q "ok installed" ||
	fail "libc6-dbg is not installed (scripts/setup.sh installs it)"

wl="$WORKLOAD_DIR/qsort_memcpy_nofp"
start_bg "$wl" 60	# killed once recorded; two recordings, slow under ASan and load
pid=$BG_PID
wait_exec "$pid" "$wl"
# (each until the workload used 700 ms of CPU: ~350 samples, however
# loaded the machine)
record_cpu "$pid" "$T/default.pprof" 700 --seconds 30 -F 499 || fail "cprof record exited $?"
record_cpu "$pid" "$T/all.pprof" 700 --seconds 30 -F 499 --system-lines ||
	fail "cprof record --system-lines exited $?"
stop_bg "$pid"

mapping_flags() {	# FILE PATH-SUFFIX: the [FN][FL]... flags pprof prints
	{ pp_raw "$1" | sed -n '/^Mappings/,$p' | grep -F "$2 " | grep -o '\[[A-Z][A-Z]\]' || true; } | tr -d '\n'
}
# (the main binary has no [FL]: _start, from crt1.o, has no file, and the
# flags claim "every location"; a sample in a PLT stub, which has no
# symbol, clears [FN] as rightly)
main_default=$(mapping_flags "$T/default.pprof" /qsort_memcpy_nofp)
libc_default=$(mapping_flags "$T/default.pprof" /libc.so.6)
libc_all=$(mapping_flags "$T/all.pprof" /libc.so.6)
case $main_default in *"[IN]"*) ;; *) fail "main binary flags by default: '$main_default'" ;; esac
pp_raw "$T/default.pprof" >"$T/default.raw"	# (not piped into grep -q: pipefail)
grep -q -E ' (main|sort_phase|copy_phase) [^ ]*/qsort_memcpy\.c:[0-9]+' "$T/default.raw" ||
	fail "the program's own functions have no file:line by default"
# (a sample in libc's PLT, which has no symbol, rightly clears [FN] too)
case $libc_default in ""|"[FN]") ;; *) fail "libc flags by default: '$libc_default' (expected names only)" ;; esac

# names are there either way: the qsort callback's callers through libc
for f in default all; do
	pp_stacks "$T/$f.pprof" >"$T/$f.stacks"
	share=$(pp_share "$T/$f.stacks" main cmp_ints)
	within "$share" 100 5 || fail "$f: $share% of cmp_ints samples reach main"
	grep -q 'qsort' "$T/$f.stacks" || grep -q 'msort' "$T/$f.stacks" ||
		fail "$f: no libc sort function named in the stacks"
done
# and libc frames get a file only with --system-lines
# (glibc's sources are named relative to its build directory: ../sysdeps/...)
libc_files() { pp_raw "$1" | sed -n '/^Locations/,/^Mappings/p' | grep -c -E ' \.\./[a-z_]+/[^ ]*:[0-9]+' || true; }
[ "$(libc_files "$T/default.pprof")" -eq 0 ] || fail "glibc source files named without --system-lines"
[ "$(libc_files "$T/all.pprof")" -gt 0 ] || fail "no glibc source file named with --system-lines"
pass "main $main_default; libc $libc_default by default, $libc_all with --system-lines"
