#!/bin/bash
# record_names: symbols of other toolchains are named in the profile as perf
# and gdb show them (docs/design.md §4.1): Rust legacy without its hash and
# ThinLTO's ".llvm.N", Rust v0 without crate disambiguators, C++ with its
# parameters, Go's ".abi0" ABI wrapper suffix dropped; the raw names stay as
# system names. perf report runs on the same process: its names must be
# ours (it keeps ".abi0", which Go's own tools never show).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/names_nofp"
# Runs until stopped (60 s at most): a loaded machine may take long to
# start cprof and perf.
start_bg "$wl" 60
pid=$BG_PID
wait_exec "$pid" "$wl"
# Both record until the workload used enough CPU for every name to be
# sampled (on CI's loaded machine a target once got 4% of a CPU).
record_cpu "$pid" "$T/names.pprof" 600 --seconds 40 -F 999 || fail "cprof record exited $?"
kill -0 "$pid" 2>/dev/null || fail "the workload ended before perf record"
perf record -e cpu-clock -F 499 -o "$T/perf.data" -p "$pid" >"$T/perf.out" 2>&1 &
perf_pid=$!
BG_PIDS+=("$perf_pid")
# (perf creates its file once its events are open)
wait_for 30 "perf record to start" test -s "$T/perf.data"
rc=0
stop_after_cpu "$pid" 500 "$perf_pid" || rc=$?
# (SIGINT is how perf record -p is ended: it exits 130)
case $rc in 0 | 130) ;; *) fail "perf record exited $rc: $(cat "$T/perf.out")" ;; esac
stop_bg "$pid"
check_profile "$T/names.pprof"
pp_stacks "$T/names.pprof" >"$T/stacks"
enough_samples names "$T/stacks" 150

# Full names (with blanks) as go tool pprof prints them, one per line.
gopprof -symbolize=none -top -nodecount=100 "$T/names.pprof" 2>/dev/null |
	awk 'f { sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +/, ""); print } /flat%/ { f = 1 }' \
	>"$T/top" || true
perf report -i "$T/perf.data" --stdio --sort sym -v 2>/dev/null |
	sed -n 's/.*\[\.\] //p' >"$T/perf.names" || true
[ -s "$T/perf.names" ] || fail "perf report gave no user-space names"

# Each of the five does a fifth of the work: 5% leaves room for a loaded
# machine and still fails when a name is missing or split.
for f in 'core::fmt::write' \
	'<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop' \
	'mycrate::inner::spin' \
	'names::cxx::spin(long, long)' \
	'main.spinAsm'; do
	grep -qxF -- "$f" "$T/top" ||
		fail "'$f' not in the profile; its functions: $(head -12 "$T/top" | tr '\n' '|')"
	share=$(awk -F '\t' -v f="$f" '{ t += $1; n = split($4, fr, ";"); if (fr[1] == f || index(f, fr[1] " ") == 1) s += $1 }
		END { printf "%.0f", t ? 100 * s / t : 0 }' "$T/stacks")
	[ "$share" -ge 5 ] || fail "'$f' is the leaf of $share% of the samples, expected about 20%"
	if [ "$f" = main.spinAsm ]; then
		grep -qxF 'main.spinAsm.abi0' "$T/perf.names" ||
			fail "perf does not show main.spinAsm.abi0: $(tr '\n' '|' <"$T/perf.names")"
	else
		grep -qxF -- "$f" "$T/perf.names" ||
			fail "perf names it otherwise: cprof '$f', perf $(tr '\n' '|' <"$T/perf.names")"
	fi
done
# No raw mangled name or toolchain suffix left as a function name.
if grep -E '^(_Z|_R)|\.llvm\.[0-9]+$|\.abi0$' "$T/top"; then
	fail "raw names in the profile's functions (above)"
fi
# The raw names stay in the file, as system names.
raw=$(gzip -dc "$T/names.pprof" | tr -c '[:print:]' '\n' |
	grep -o -E '_ZN4core3fmt5write17h0123456789abcdefE|_RNvNtCs1234_7mycrate5inner4spin|main\.spinAsm\.abi0|drop17hfedcba9876543210E\.llvm\.4711' |
	sort -u | wc -l)
[ "$raw" -eq 4 ] || fail "$raw of 4 raw names kept as system names"
pass "Rust legacy and v0, C++ and Go names as perf shows them (Go without .abi0)"
