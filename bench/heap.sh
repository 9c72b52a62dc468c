#!/bin/bash
# bench/heap.sh - what a heap profile costs a malloc-heavy process, side by
# side in one run: unprofiled; cprof record --profile allocs (the injected
# sampler, default rate); cprof --method uprobe; heaptrack -p (Debian's,
# which injects itself through gdb: the runs it kills are counted); and
# valgrind --tool=massif (from the start: it cannot attach), on a cut
# workload since it runs it tens of times slower.
#
# The workload (tests/workloads/mallocbench.c) is 2 threads (THREADS) of small
# malloc/free of varied sizes; with -w its threads run the loop uncounted
# until SIGUSR1, so a profiler attaches to a process busy in malloc and the
# timed work starts once it is in place. It prints its wall and CPU time,
# its calls and the bytes it asked for: slowdown = unprofiled calls/s over
# profiled calls/s (wall), and the same in CPU time per call (what a loaded
# machine disturbs less). For cprof: its peak RSS, and the error of its
# alloc_space total (the samples of the timed work) against the bytes the
# workload counted.
#
# usage: bench/heap.sh [BUILD_DIR]
#   env: RUNS (3), TARGET_SECONDS (4: unprofiled length of the work),
#        MASSIF_DIV (20: massif does 1/MASSIF_DIV of the calls),
#        HEAPTRACK_DIV (10: the same for heaptrack, which records every call),
#        UPROBE_DIV (100: the same for --method uprobe, ~20 us a call here),
#        WORK (0: as fast as malloc goes; e.g. 200: rounds of the workload's
#        own computation between two calls, the issue's "several million
#        calls a second"), THREADS (2: the workload's; 1 leaves this
#        2-core machine a core for cprof's reader), KINDS
#        ("base cprof uprobe heaptrack massif"), QUIET_WAIT (120), FORCE=1
#        (measure on a busy machine)
set -euo pipefail

BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
BUILD=$(cd "$BUILD" && pwd)	# massif runs from a scratch directory
RUNS=${RUNS:-3}
TARGET_SECONDS=${TARGET_SECONDS:-4}
MASSIF_DIV=${MASSIF_DIV:-20}
HEAPTRACK_DIV=${HEAPTRACK_DIV:-10}
KINDS=${KINDS:-"base cprof uprobe heaptrack massif"}
WORK=${WORK:-0}
THREADS=${THREADS:-2}
UPROBE_DIV=${UPROBE_DIV:-100}
CPROF=$BUILD/cprof
WL=$BUILD/workloads/mallocbench_nofp

die() { echo "bench: $*" >&2; exit 2; }
[ -x "$CPROF" ] || die "no cprof at $CPROF (build it, or pass the build directory)"
[ -x "$WL" ] || die "no workload at $WL (cmake --build $BUILD --target mallocbench_nofp)"
command -v heaptrack >/dev/null || die "heaptrack not found (apt-get install heaptrack)"
command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"
command -v go >/dev/null || die "go not found (apt-get install golang-go)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"

W=$(mktemp -d /tmp/cprof-heapbench.XXXXXX)
KIDS=()
cleanup() {
	local p
	for p in "${KIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib.sh"
export HOME=$W/gohome GOCACHE=$W/gohome/cache PPROF_TMPDIR=$W/gohome/pprof GOFLAGS=-mod=mod GOPROXY=off
quiet_wait

# Calibrate the calls to about TARGET_SECONDS unprofiled (the fastest of 3).
t=
for i in 1 2 3; do
	out=$("$WL" -t "$THREADS" -k "$WORK" -n 2000000)
	ti=$(sed -n 's/.* work \([0-9.]*\) s.*/\1/p' <<<"$out")
	t=$(awk -v a="${t:-1e9}" -v b="$ti" 'BEGIN { print (b < a) ? b : a }')
done
CALLS=$(awk -v t="$t" -v s="$TARGET_SECONDS" 'BEGIN { printf "%d", 2000000 * s / t }')
echo "workload: mallocbench $THREADS threads x $CALLS malloc+free, $WORK rounds of work between calls (~${TARGET_SECONDS} s unprofiled); $RUNS runs each, in turn"

waited_pid() { sed -n 's/^mallocbench: pid \([0-9]*\) waiting$/\1/p' "$W/wl.out"; }

# wait_until SECS CMD...: poll CMD every 0.05 s
wait_until() {
	local end=$(($(date +%s) + $1))
	shift
	while ! "$@" 2>/dev/null; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

has_maps() { grep -q "$2" "/proc/$1/maps"; }
# ready_or_gone PID CMD...: CMD succeeds, or PID (the profiler) has exited
ready_or_gone() {
	local p=$1
	shift
	"$@" || ! kill -0 "$p" 2>/dev/null
}
has_perf_fds() {
	local p
	for p in $(pgrep -P "$1") "$1"; do
		[ "$(ls -l /proc/"$p"/fd 2>/dev/null | grep -c perf_event)" -gt 0 ] && return 0
	done
	return 1
}

# alloc_space of the timed work: the samples without mb_spin (the loop
# before SIGUSR1) in their stack.
alloc_space_of_work() {
	go tool pprof -symbolize=none -raw "$1" 2>/dev/null | awk '
	/^Samples:/ { s = 1; next }
	/^Locations/ { s = 0; l = 1; next }
	/^Mappings/ { l = 0 }
	s && /^ *[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+: / {
		split($0, h, ":"); split(h[1], v, " "); n++; val[n] = v[2]; ids[n] = h[2]; next
	}
	l && /^ *[0-9]+: 0x/ { id = $1; sub(":", "", id); for (i = 3; i <= NF; i++) if ($i == "mb_spin") spin[id] = 1 }
	END {
		for (i = 1; i <= n; i++) {
			m = split(ids[i], x, " "); bad = 0
			for (j = 1; j <= m; j++) if (x[j] in spin) bad = 1
			if (!bad) t += val[i]
		}
		printf "%.0f\n", t
	}'
}

# run_one KIND: prints "status wall_s cpu_s calls bytes rss_kb est_bytes"
# (status ok, or killed: the target did not finish its work)
run_one() {
	local kind=$1 wl prof=$W/prof rc tool= st=ok est=0 rss=0
	rm -f "$prof" "$W"/time "$W"/wl.out "$W"/tool.err "$W"/massif.out "$W"/heaptrack.*
	if [ "$kind" = massif ]; then
		rc=0
		( cd "$W" && timeout 900 /usr/bin/time -o "$W/time" -f %M valgrind -q --tool=massif \
			--massif-out-file="$W/massif.out" "$WL" -t "$THREADS" -k "$WORK" -n $((CALLS / MASSIF_DIV)) >"$W/wl.out" 2>"$W/tool.err" ) || rc=$?
		grep -q '^mallocbench: work' "$W/wl.out" || st=killed
		rss=$(tail -1 "$W/time" 2>/dev/null || echo 0)
	else
		local n=$CALLS
		[ "$kind" = heaptrack ] && n=$((CALLS / HEAPTRACK_DIV))
		[ "$kind" = uprobe ] && n=$((CALLS / UPROBE_DIV))
		"$WL" -t "$THREADS" -w -k "$WORK" -n "$n" -s 900 >"$W/wl.out" &
		wl=$!
		KIDS+=("$wl")
		wait_until 10 grep -q waiting "$W/wl.out" || die "mallocbench did not start"
		case $kind in
		base)
			sleep 0.3
			;;
		cprof|uprobe)
			local m=()
			[ "$kind" = uprobe ] && m=(--method uprobe)
			/usr/bin/time -o "$W/time" -f %M "$CPROF" record -q -p "$wl" --profile allocs "${m[@]}" \
				--seconds 3600 -o "$prof" 2>"$W/tool.err" &
			tool=$!
			KIDS+=("$tool")
			if [ "$kind" = cprof ]; then
				wait_until 60 ready_or_gone "$tool" has_maps "$wl" cprof-heap || st=failed
			else
				wait_until 60 ready_or_gone "$tool" has_perf_fds "$tool" || st=failed
				sleep 0.5
			fi
			if [ "$st" = failed ] || ! kill -0 "$tool" 2>/dev/null; then
				kill -KILL "$wl" "$tool" 2>/dev/null || true
				wait "$wl" "$tool" 2>/dev/null || true
				echo "failed 0 0 0 0 0 0 ($kind: $(head -1 "$W/tool.err"))"
				return
			fi
			;;
		heaptrack)
			( cd "$W" && exec /usr/bin/time -o "$W/time" -f %M timeout 300 heaptrack -p "$wl" ) >"$W/tool.err" 2>&1 &
			tool=$!
			KIDS+=("$tool")
			wait_until 120 has_maps "$wl" libheaptrack || true
			;;
		esac
		kill -USR1 "$wl" 2>/dev/null || true
		rc=0
		wait "$wl" || rc=$?
		[ "$rc" = 0 ] && grep -q '^mallocbench: work' "$W/wl.out" || st=killed
		if [ -n "$tool" ]; then
			# the profiler ends with its target; give it a while to write
			local i
			for i in $(seq 1 600); do
				kill -0 "$tool" 2>/dev/null || break
				sleep 0.1
			done
			kill -INT "$tool" 2>/dev/null || true
			wait "$tool" 2>/dev/null || true
			rss=$(tail -1 "$W/time" 2>/dev/null || echo 0)
			[[ $rss =~ ^[0-9]+$ ]] || rss=0
		fi
		if [ "$kind" = cprof ] || [ "$kind" = uprobe ]; then
			if [ ! -s "$prof" ]; then
				echo "failed 0 0 0 0 0 0 ($kind wrote no profile: $(head -1 "$W/tool.err"))"
				return
			fi
			est=$(alloc_space_of_work "$prof")
			# the samples the ring had no room for (cprof's reader behind)
			go tool pprof -symbolize=none -raw "$prof" 2>/dev/null |
				sed -n 's/^Comment: cprof: \([0-9]*\) sampled allocations, \([0-9]*\) dropped.*/\1 \2/p' >"$W/drops"
			read -r ns nd <"$W/drops" || true
			DROPS[$kind]+="$(awk -v s="${ns:-0}" -v d="${nd:-0}" 'BEGIN { printf "%.1f", (s + d) ? 100 * d / (s + d) : 0 }') "
		fi
	fi
	if [ "$st" = killed ]; then
		echo "killed 0 0 0 0 $rss 0 (exit $rc: $(tail -2 "$W/tool.err" | tr '\n' ' '))"
		return
	fi
	sed -n "s/^mallocbench: work \([0-9.]*\) s cpu \([0-9.]*\) s calls \([0-9]*\) calls\/s [0-9]* bytes \([0-9]*\)$/ok \1 \2 \3 \4 $rss $est/p" "$W/wl.out"
}

declare -A RATE CPUNS RSS ERR KILLS DONE FAILS DROPS PAIRED LASTCPU
for r in $(seq 1 "$RUNS"); do
	LASTCPU[base]=
	for k in $KINDS; do
		quiet_wait
		run_one "$k" >"$W/res"
		read -r st wall cpu calls bytes rss est rest <"$W/res"
		if [ "$st" = failed ]; then
			FAILS[$k]=$((${FAILS[$k]:-0} + 1))
			printf '  run %d %-9s could not run: %s\n' "$r" "$k" "$rest" >&2
			continue
		fi
		if [ "$st" = killed ]; then
			KILLS[$k]=$((${KILLS[$k]:-0} + 1))
			printf '  run %d %-9s target KILLED or did not finish %s\n' "$r" "$k" "$rest" >&2
			continue
		fi
		DONE[$k]=$((${DONE[$k]:-0} + 1))
		RATE[$k]+="$(awk -v c="$calls" -v w="$wall" 'BEGIN { printf "%.0f", c / w }') "
		CPUNS[$k]+="$(awk -v c="$calls" -v u="$cpu" 'BEGIN { printf "%.2f", 1e9 * u / c }') "
		# This run's CPU per call over the unprofiled run just before it:
		# the host moves this VM's speed by the minute (a malloc loop at
		# 6.5 or 11 ns a call), which medians of runs apart can mistake
		# for a profiler's cost.
		LASTCPU[$k]=$(awk -v c="$calls" -v u="$cpu" 'BEGIN { printf "%.4f", 1e9 * u / c }')
		if [ "$k" != base ] && [ -n "${LASTCPU[base]:-}" ]; then
			PAIRED[$k]+="$(awk -v a="${LASTCPU[$k]}" -v b="${LASTCPU[base]}" 'BEGIN { printf "%.4f", a / b }') "
		fi
		RSS[$k]+="$rss "
		if [ "$est" != 0 ]; then
			ERR[$k]+="$(awk -v e="$est" -v b="$bytes" 'BEGIN { printf "%.2f", 100 * (e - b) / b }') "
		fi
		printf '  run %d %-9s %6.3f s %10.0f calls/s  cpu %5.2f ns/call  rss %7s KiB  %s\n' "$r" "$k" "$wall" \
			"$(awk -v c="$calls" -v w="$wall" 'BEGIN { print c / w }')" \
			"$(awk -v c="$calls" -v u="$cpu" 'BEGIN { print 1e9 * u / c }')" "$rss" \
			"$([ "$est" != 0 ] && awk -v e="$est" -v b="$bytes" 'BEGIN { printf "alloc_space %.0f vs %.0f bytes (%+.2f%%)", e, b, 100 * (e - b) / b }')" >&2
	done
done

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ a[NR] = $1 } END { if (!NR) print "nan"; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

base_rate=$(median <<<"${RATE[base]:-}")
base_cpu=$(median <<<"${CPUNS[base]:-}")
echo
echo "medians of the runs that finished; slowdown = unprofiled calls/s / calls/s (wall),"
echo "cpu = CPU time per malloc+free over unprofiled ($base_cpu ns); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu paired = the median over runs of CPU per call over that of the unprofiled run just before"
printf '%-10s %-6s %-8s %-7s %-12s %-9s %-9s %-11s %-10s %-s\n' profiler runs killed failed calls/s slowdown cpu "cpu paired" "RSS MiB" "alloc_space error"
for k in $KINDS; do
	rate=$(median <<<"${RATE[$k]:-}")
	cpu=$(median <<<"${CPUNS[$k]:-}")
	rss=$(median <<<"${RSS[$k]:-}")
	err=$(median <<<"${ERR[$k]:-}")
	drops=$(median <<<"${DROPS[$k]:-}")
	paired=$(median <<<"${PAIRED[$k]:-}")
	awk -v k="$k" -v n="$((${DONE[$k]:-0} + ${KILLS[$k]:-0} + ${FAILS[$k]:-0}))" -v kl="${KILLS[$k]:-0}" \
		-v fl="${FAILS[$k]:-0}" -v r="$rate" -v br="$base_rate" \
		-v c="$cpu" -v bc="$base_cpu" -v m="$rss" -v e="$err" -v dr="$drops" -v pc="$paired" 'BEGIN {
		if (r == "nan") { printf "%-10s %-6d %-8d %-7d (no run finished)\n", k, n, kl, fl; exit }
		printf "%-10s %-6d %-8d %-7d %-12.0f %-9.3f %-9.3f %-11s %-10s %s\n", k, n, kl, fl, r, br / r, c / bc,
			(k == "base" || pc == "nan") ? "-" : sprintf("%.3f", pc),
			(k == "base") ? "-" : sprintf("%.1f", m / 1024),
			(e == "nan") ? "-" : sprintf("%+.2f%% (%.1f%% of the samples dropped)", e, dr)
	}'
done
echo "(heaptrack ran 1/$HEAPTRACK_DIV of the calls, attached while the loop ran; cprof --method uprobe 1/$UPROBE_DIV; massif 1/$MASSIF_DIV, from the start, under valgrind)"
exit 0
