#!/bin/bash
# heap_errors: bad heap options are one-line errors with a hint (exit 64);
# a target the sampler may not enter (a seccomp filter) is refused with a
# hint naming --method uprobe, exit 2, and left untouched.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

expect_usage() {
	local what=$1 want=$2 rc=0
	shift 2
	"$CPROF" record "$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 64 ] || fail "$what: exit $rc, expected 64: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" -eq 2 ] && grep -q "^cprof: .*$want" "$T/err" &&
		grep -q '^hint: ' "$T/err" || fail "$what: '$(cat "$T/err")'"
}

start_bg "$WORKLOAD_DIR/mallocloop_nofp" 120 --seccomp >"$T/wl.out"
wl=$BG_PID
wait_for 10 "mallocloop to start" grep -q ready "$T/wl.out"

expect_usage "bad rate" "invalid --rate '12x'" -p "$wl" --profile heap --rate 12x
expect_usage "zero rate" "invalid --rate '0'" -p "$wl" --profile heap --rate 0
expect_usage "rate of cpu" "--rate and --method are options of the heap" -p "$wl" --rate 1m
expect_usage "bad method" "invalid --method 'gdb'" -p "$wl" --profile allocs --method gdb
expect_usage "children" "records one process" -p "$wl" --profile heap --children

# Its file mappings (its arenas may grow meanwhile: it allocates).
files() { awk '$6 ~ /^\// || $6 ~ /^\[/' "/proc/$wl/maps"; }
files >"$T/maps.before"
rc=0
"$CPROF" record -p "$wl" --profile heap -s 2 -o "$T/h.pprof" 2>"$T/err" || rc=$?
[ "$rc" -eq 2 ] || fail "seccomp target: exit $rc, expected 2: $(cat "$T/err")"
grep -q "^cprof: cannot record the heap of pid $wl: .*seccomp" "$T/err" ||
	fail "seccomp target: the error does not name seccomp: $(cat "$T/err")"
grep -q "^hint: .*--method uprobe" "$T/err" || fail "seccomp target: no uprobe hint: $(cat "$T/err")"
[ ! -e "$T/h.pprof" ] || fail "seccomp target: a profile was written"
files | cmp -s "$T/maps.before" - || fail "seccomp target: its mappings changed"
grep -q cprof-heap "/proc/$wl/maps" && fail "seccomp target: a cprof-heap mapping"
grep -q TracerPid:.0 "/proc/$wl/status" || fail "seccomp target left traced"
pass
