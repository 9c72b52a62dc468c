#!/bin/bash
# caps: threads, record and serve -p of a root-owned process whose binary
# lies in a directory only root may search, run as nobody with exactly the
# ambient capabilities cprof(1) documents for them (docs/design.md §11.1),
# work and name functions; without one of them, each stops at start-up
# with a one-line error naming the missing capability and a hint (exit 2),
# leaving the target untraced. serve keeps only what it needs once
# listening; started as root with --run-as nobody it becomes nobody with
# those capabilities in every thread, none ambient or inheritable, the
# bounding set cut, no-new-privs set.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
[ "$(id -u)" = 0 ] || fail "run as root (ctest as root, as CI does)"

pd=$(mktemp -d /tmp/cprof-e2e-caps.XXXXXX)
rm_on_exit "$pd"
chmod 755 "$pd"
cp "$CPROF" "$pd/cprof"
mkdir -m 700 "$pd/priv"
cp "$WORKLOAD_DIR/spin_nofp" "$pd/priv/spin_nofp"
mkdir -m 1777 "$pd/out"
start_bg "$pd/priv/spin_nofp" 120
pid=$BG_PID
wait_exec "$pid" "$pd/priv/spin_nofp"

# as_nobody CAPS CMD...: nobody with CAPS (cap_a,cap_b) ambient.
as_nobody() {
	local caps=$1 set=() c
	shift
	for c in ${caps//,/ }; do set+=("+$c"); done
	local list
	list=$(IFS=,; echo "${set[*]}")
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps="$list" --ambient-caps="$list" "$@"
}
untraced() {
	grep -q "^TracerPid:[[:space:]]*0$" "/proc/$pid/status" || fail "$1: the target was left traced"
	grep -q "^State:[[:space:]]*[RS]" "/proc/$pid/status" || fail "$1: the target was left $(grep ^State: "/proc/$pid/status")"
}
# refused WHAT CAP CMD...: exit 2, first line names CAP, then a hint.
refused() {
	local what=$1 cap=$2 rc=0
	shift 2
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 2 ] || fail "$what: exit $rc, want 2: $(cat "$T/err")"
	head -1 "$T/err" | grep -q "^cprof: .*$cap" || fail "$what: the first line does not name $cap: $(cat "$T/err")"
	grep -q "^hint: .*$cap" "$T/err" || fail "$what: no hint naming $cap: $(cat "$T/err")"
	untraced "$what"
	note "$what: $(head -1 "$T/err")"
}

THREADS=sys_ptrace,dac_read_search
RECORD=sys_ptrace,perfmon,dac_read_search
SERVE=sys_ptrace,perfmon,dac_read_search

# threads
as_nobody "$THREADS" "$pd/cprof" threads -p "$pid" >"$T/threads" 2>"$T/err" ||
	fail "threads with $THREADS: $(cat "$T/err")"
grep -q 'spin_leaf' "$T/threads" || fail "threads with $THREADS: no function names: $(head "$T/threads")"
untraced threads
refused "threads without CAP_SYS_PTRACE" CAP_SYS_PTRACE as_nobody dac_read_search "$pd/cprof" threads -p "$pid"
refused "threads without CAP_DAC_READ_SEARCH" CAP_DAC_READ_SEARCH as_nobody sys_ptrace "$pd/cprof" threads -p "$pid"

# record: CPU with kernel frames, and off-CPU (needs CAP_PERFMON)
as_nobody "$RECORD" "$pd/cprof" record -p "$pid" -s 2 -F 499 -o "$pd/out/cpu.pprof" 2>"$T/err" ||
	fail "record with $RECORD: $(cat "$T/err")"
grep -q 'warning' "$T/err" && fail "record with $RECORD warns: $(cat "$T/err")"
"$CPROF" report "$pd/out/cpu.pprof" >"$T/report" 2>&1 || fail "report: $(cat "$T/report")"
grep -q 'spin_leaf' "$T/report" || fail "record with $RECORD: no spin_leaf: $(cat "$T/report")"
as_nobody "$RECORD" "$pd/cprof" record -p "$pid" -s 1 --profile block -o "$pd/out/block.pprof" 2>"$T/err" ||
	fail "record --profile block with $RECORD: $(cat "$T/err")"
refused "record without CAP_SYS_PTRACE" CAP_SYS_PTRACE as_nobody perfmon,dac_read_search \
	"$pd/cprof" record -p "$pid" -s 1 -o "$pd/out/x.pprof"
refused "record without CAP_DAC_READ_SEARCH" CAP_DAC_READ_SEARCH as_nobody sys_ptrace,perfmon \
	"$pd/cprof" record -p "$pid" -s 1 -o "$pd/out/x.pprof"
refused "record --profile block without CAP_PERFMON" CAP_PERFMON as_nobody sys_ptrace,dac_read_search \
	"$pd/cprof" record -p "$pid" -s 1 --profile block -o "$pd/out/x.pprof"
[ ! -e "$pd/out/x.pprof" ] || fail "a refused record wrote a profile"
# A CPU profile without CAP_PERFMON is made, without kernel frames, and says why.
as_nobody sys_ptrace,dac_read_search "$pd/cprof" record -p "$pid" -s 1 -o "$pd/out/u.pprof" 2>"$T/err" ||
	fail "record without CAP_PERFMON: $(cat "$T/err")"
grep -q 'warning: kernel frames .*CAP_PERFMON' "$T/err" || fail "record without CAP_PERFMON does not name it: $(cat "$T/err")"

# serve -p
serve_check() {	# LOG: listening, a dump with names, a CPU profile
	local log=$1 port
	wait_for 20 "cprof serve to listen" grep -q 'listening on http://' "$log"
	port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/debug/pprof/.*|\1|p' "$log" | head -1)
	[ -n "$port" ] || fail "no port: $(cat "$log")"
	curl -sS --max-time 60 "http://127.0.0.1:$port/debug/pprof/goroutine?debug=1" >"$T/dump" ||
		fail "serve: dump request failed"
	grep -q spin_leaf "$T/dump" || fail "serve: no spin_leaf in the dump: $(head -5 "$T/dump")"
	curl -sS --max-time 60 -o "$T/cpu.pprof" "http://127.0.0.1:$port/debug/pprof/profile?seconds=1" ||
		fail "serve: profile request failed"
	"$CPROF" report "$T/cpu.pprof" >/dev/null 2>&1 || fail "serve: the CPU profile does not decode"
}
# caps_of PID: every thread's "Uid CapEff CapPrm CapInh CapAmb CapBnd NoNewPrivs", sorted, unique
caps_of() {
	local t
	for t in /proc/"$1"/task/*; do
		awk '/^(Uid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):/ { sub(/^[^:]*:[ \t]*/, ""); printf "%s|", $0 } END { print "" }' "$t/status"
	done | sort -u
}
start_bg as_nobody "$SERVE" "$pd/cprof" serve -p "$pid" --http 127.0.0.1:0 2>"$T/serve.log"
spid=$BG_PID
serve_check "$T/serve.log"
grep -q 'running as uid 65534 with CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, CAP_PERFMON$' "$T/serve.log" ||
	fail "serve does not say what it kept: $(cat "$T/serve.log")"
stop_bg "$spid"
untraced serve
refused "serve without CAP_SYS_PTRACE" CAP_SYS_PTRACE as_nobody perfmon,dac_read_search \
	"$pd/cprof" serve -p "$pid" --http 127.0.0.1:0
refused "serve without CAP_DAC_READ_SEARCH" CAP_DAC_READ_SEARCH as_nobody sys_ptrace,perfmon \
	"$pd/cprof" serve -p "$pid" --http 127.0.0.1:0

# serve as root --run-as nobody: nobody, with the five it keeps (bits 2,
# 14, 19, 34, 38 = 0x4400084004) in every thread and set but the inheritable
# and ambient ones.
start_bg "$pd/cprof" serve -p "$pid" --http 127.0.0.1:0 --run-as nobody 2>"$T/serve2.log"
spid=$BG_PID
serve_check "$T/serve2.log"
caps_of "$spid" >"$T/caps"
note "serve --run-as nobody, per thread: $(cat "$T/caps")"
[ "$(wc -l <"$T/caps")" = 1 ] || fail "threads of serve differ in ids or capabilities: $(cat "$T/caps")"
want="65534	65534	65534	65534|0000000000000000|0000004400084004|0000004400084004|0000004400084004|0000000000000000|1|"
[ "$(cat "$T/caps")" = "$want" ] || fail "serve --run-as nobody: $(cat "$T/caps"), want $want"
[ "$(ls /proc/"$spid"/task | wc -l)" -ge 2 ] || fail "serve has no server thread: the check saw one thread only"
stop_bg "$spid"
untraced "serve --run-as"
# Root without CAP_DAC_READ_SEARCH reads its own 0700 directory as its
# owner; nobody cannot: checked after the switch, and named.
refused "serve --run-as nobody without CAP_DAC_READ_SEARCH" CAP_DAC_READ_SEARCH \
	setpriv --bounding-set=-dac_read_search,-dac_override \
	"$pd/cprof" serve -p "$pid" --http 127.0.0.1:0 --run-as nobody
rc=0
"$pd/cprof" serve -p "$pid" --http 127.0.0.1:0 --run-as no-such-user-here 2>"$T/err" || rc=$?
[ "$rc" = 64 ] && grep -q "no such user" "$T/err" || fail "--run-as of an unknown user: exit $rc: $(cat "$T/err")"
stop_bg "$pid"
pass
