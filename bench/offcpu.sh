#!/bin/bash
# bench/offcpu.sh - what an off-CPU profile costs a thread that blocks very
# often: the pingpong workload (two threads handing a token through pipes,
# ~100k context switches a second) unprofiled, under `cprof record --profile
# block -p`, and under `perf record -e context-switches -c 1 --call-graph
# dwarf -p` (the same events and stack copies), each attached while the
# workload waits 0.5 s before its timed work, side by side. The workload is
# pinned to CPU 0 (both threads): on 2 vCPUs its speed otherwise depends on
# whether the scheduler puts its threads on one CPU or two (2.2 s against
# 6.4 s for the same work, unprofiled), which no profiler controls; the
# profiler runs on the other CPU; plus each profiler's
# peak RSS and, for cprof, the share of waits whose stack was taken at their
# own switch-out. bcc's offcputime too when it is installed and runs.
#
# usage: bench/offcpu.sh [BUILD_DIR]
#   env: RUNS (3), TARGET_SECONDS (5: unprofiled length of the work),
#        QUIET_WAIT (120), FORCE=1 (measure on a busy machine)
set -euo pipefail

BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
RUNS=${RUNS:-3}
TARGET_SECONDS=${TARGET_SECONDS:-5}
CPROF=$BUILD/cprof
WL=$BUILD/workloads/pingpong_nofp

die() { echo "bench: $*" >&2; exit 2; }
[ -x "$CPROF" ] || die "no cprof at $CPROF (build it, or pass the build directory)"
[ -x "$WL" ] || die "no workload at $WL (cmake --build $BUILD)"
command -v perf >/dev/null || die "perf not found (apt-get install linux-perf)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
[ "$(id -u)" = 0 ] || die "run it as root: off-CPU profiles need kernel sampling"

W=$(mktemp -d /tmp/cprof-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib.sh"
quiet_wait

work_s() { sed -n 's/.* work \([0-9.]*\) s.*/\1/p'; }

# Calibrate: ROUNDS for about TARGET_SECONDS unprofiled.
t=$(taskset -c 0 "$WL" 60 200000 | work_s)
ROUNDS=$(awk -v t="$t" -v s="$TARGET_SECONDS" 'BEGIN { printf "%d", 200000 * s / t }')
echo "workload: pingpong, $ROUNDS hand-offs (~${TARGET_SECONDS} s, $(awk -v r=200000 -v t="$t" 'BEGIN { printf "%.0f", 2 * r / t }') switches/s unprofiled); $RUNS runs each, alternating"

# bcc's offcputime compiles its BPF program against the running kernel's
# headers: it runs only where those are installed.
HAVE_BCC=
BCC_NOTE="offcputime-bpfcc: not installed (apt-get install bpfcc-tools)"
for c in /usr/sbin/offcputime-bpfcc offcputime-bpfcc; do
	command -v "$c" >/dev/null 2>&1 || continue
	if timeout 60 "$c" -p $$ 1 >/dev/null 2>"$W/bcc.probe"; then
		HAVE_BCC=$c
	else
		BCC_NOTE="offcputime-bpfcc: does not run here ($(grep -v '^ ' "$W/bcc.probe" | tail -1))"
	fi
	break
done

# run_one KIND: prints "work_s rss_kb own_pct"
run_one() {
	local kind=$1 out rss own=-
	rm -f "$W"/prof "$W"/perf.data "$W"/time "$W"/out
	case $kind in
	base)
		taskset -c 0 "$WL" 120 "$ROUNDS" 500 >"$W/out"
		rss=0 ;;
	cprof)
		taskset -c 0 "$WL" 120 "$ROUNDS" 500 >"$W/out" &
		local pid=$!
		sleep 0.2
		/usr/bin/time -f %M -o "$W/time" "$CPROF" record -q --profile block \
			-p "$pid" -s 120 -o "$W/prof"
		wait "$pid" || true
		rss=$(tail -1 "$W/time")
		own=$("$CPROF" report "$W/prof" 2>/dev/null | sed -n \
			's/.*cprof: \([0-9]*\) off-CPU intervals\{0,1\}, \([0-9]*\) with.*/\1 \2/p' |
			awk '{ printf "%.1f", $1 ? 100 * $2 / $1 : 0 }') ;;
	perf)
		taskset -c 0 "$WL" 120 "$ROUNDS" 500 >"$W/out" &
		local pid=$!
		sleep 0.2
		/usr/bin/time -f %M -o "$W/time" perf record -q -e context-switches -c 1 \
			--call-graph dwarf -p "$pid" -o "$W/perf.data" 2>/dev/null
		wait "$pid" || true
		rss=$(tail -1 "$W/time") ;;
	bcc)
		taskset -c 0 "$WL" 120 "$ROUNDS" 500 >"$W/out" &
		local pid=$!
		timeout 120 "$HAVE_BCC" -p "$pid" -f >"$W/bcc.out" 2>"$W/bcc.err" &
		local b=$!
		wait "$pid" || true
		kill -INT "$b" 2>/dev/null || true
		wait "$b" 2>/dev/null || true
		rss=0 ;;
	esac
	echo "$(work_s <"$W/out") $rss $own"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

KINDS="base cprof perf"
[ -n "$HAVE_BCC" ] && KINDS="$KINDS bcc"
for r in $(seq 1 "$RUNS"); do
	order=$KINDS
	[ $((r % 2)) = 0 ] && order="base perf cprof${HAVE_BCC:+ bcc}"
	for k in $order; do
		run_one "$k" >>"$W/$k.runs"
	done
done

base=$(cut -d' ' -f1 "$W/base.runs" | median)
printf '%-28s %10s %8s %10s %12s\n' tool work_s slowdown rss_MiB own_stack_%
printf '%-28s %10.3f %8s %10s %12s\n' unprofiled "$base" 1.00 - -
for k in cprof perf ${HAVE_BCC:+bcc}; do
	w=$(cut -d' ' -f1 "$W/$k.runs" | median)
	rss=$(cut -d' ' -f2 "$W/$k.runs" | median)
	own=$(cut -d' ' -f3 "$W/$k.runs" | head -1)
	case $k in
	cprof) name="cprof record --profile block" ;;
	perf) name="perf record -e cs -c1 dwarf" ;;
	bcc) name="offcputime-bpfcc" ;;
	esac
	printf '%-28s %10.3f %8.2f %10s %12s\n' "$name" "$w" \
		"$(awk -v a="$w" -v b="$base" 'BEGIN { print a / b }')" \
		"$(awk -v r="$rss" 'BEGIN { print r ? sprintf("%.1f", r / 1024) : "-" }')" "$own"
done
cprof_w=$(cut -d' ' -f1 "$W/cprof.runs" | median)
perf_w=$(cut -d' ' -f1 "$W/perf.runs" | median)
echo "ratio cprof/perf slowdown: $(awk -v a="$cprof_w" -v b="$perf_w" 'BEGIN { printf "%.2f", a / b }')"
[ -n "$HAVE_BCC" ] || echo "$BCC_NOTE"
