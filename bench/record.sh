#!/bin/bash
# bench/record.sh - cprof record against perf record on a fixed amount of
# work (see bench/README.md for what is measured and how to read it).
#
# usage: bench/record.sh [BUILD_DIR]
#   env: RUNS (3), TARGET_SECONDS (10: unprofiled length of the work),
#        THREADS (2), FREQS ("99 999"), QUIET_WAIT (120: seconds to wait for
#        an idle machine before each run), FORCE=1 (measure on a busy one)
set -euo pipefail

BUILD=${1:-$(cd "$(dirname "$0")/.." && pwd)/build}
RUNS=${RUNS:-3}
TARGET_SECONDS=${TARGET_SECONDS:-10}
THREADS=${THREADS:-2}
FREQS=${FREQS:-"99 999"}
CPROF=$BUILD/cprof
WL=$BUILD/workloads/calltree_fp

die() { echo "bench: $*" >&2; exit 2; }
[ -x "$CPROF" ] || die "no cprof at $CPROF (build it, or pass the build directory)"
[ -x "$WL" ] || die "no workload at $WL (cmake --build $BUILD --target calltree_fp)"
command -v perf >/dev/null || die "perf not found (apt-get install linux-perf)"
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"

W=$(mktemp -d /tmp/cprof-bench.XXXXXX)
CHILD=
cleanup() {
	if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
		kill -KILL "$CHILD" 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$(dirname "$0")/lib.sh"
quiet_wait

# Calibrate the amount of work to about TARGET_SECONDS unprofiled: the
# fastest of three short runs, the one least disturbed.
t=
for i in 1 2 3; do
	out=$("$WL" 120 "$THREADS" 400)
	ti=$(sed -n 's/.* work \([0-9.]*\) s.*/\1/p' <<<"$out")
	t=$(awk -v a="${t:-1e9}" -v b="$ti" 'BEGIN { print (b < a) ? b : a }')
done
ROUNDS=$(awk -v t="$t" -v s="$TARGET_SECONDS" 'BEGIN { printf "%d", 400 * s / t }')
echo "workload: $(basename "$WL") $THREADS threads, $ROUNDS rounds (~${TARGET_SECONDS} s unprofiled); $RUNS runs each, alternating"

# One run: prints "work_s post_s rss_kb" where work_s is the workload's own
# time for the work, post_s the time from the end of the work to a
# symbolized profile, rss_kb the profiler's peak RSS (the largest of the
# process tree /usr/bin/time waits for: the profiler, not the tiny workload).
run_one() {
	local kind=$1 freq=$2 cg=$3 out end done_at rss post rep0 rep1
	rm -f "$W"/prof "$W"/perf.data "$W"/time
	case $kind in
	base)
		out=$("$WL" 120 "$THREADS" "$ROUNDS")
		rss=0
		done_at=
		;;
	cprof)
		out=$(/usr/bin/time -o "$W/time" -f %M "$CPROF" record -q -F "$freq" \
			--call-graph "$cg" -o "$W/prof" -- "$WL" 120 "$THREADS" "$ROUNDS")
		done_at=$EPOCHREALTIME
		rss=$(tail -1 "$W/time")
		[ -s "$W/prof" ] || die "cprof wrote no profile"
		;;
	perf)
		local g=(-g)
		[ "$cg" = dwarf ] && g=(--call-graph dwarf)
		out=$(/usr/bin/time -o "$W/time" -f %M perf record -q -F "$freq" "${g[@]}" \
			-o "$W/perf.data" -- "$WL" 120 "$THREADS" "$ROUNDS" 2>/dev/null)
		rss=$(tail -1 "$W/time")
		rep0=$EPOCHREALTIME
		perf report -i "$W/perf.data" --stdio >/dev/null 2>&1 || die "perf report failed"
		rep1=$EPOCHREALTIME
		# perf record's exit after the work, plus the report
		done_at=$(awk -v a="$rep0" -v b="$rep1" 'BEGIN { printf "%.6f", b - a }')
		;;
	esac
	local work endw
	work=$(sed -n 's/.* work \([0-9.]*\) s.*/\1/p' <<<"$out")
	endw=$(sed -n 's/.* ended at \([0-9.]*\).*/\1/p' <<<"$out")
	[ -n "$work" ] || die "$kind: no work time in '$out'"
	case $kind in
	base) post=0 ;;
	cprof) post=$(awk -v a="$endw" -v b="$done_at" 'BEGIN { printf "%.6f", b - a }') ;;
	perf) post=$(awk -v a="$endw" -v b="$rep0" -v r="$done_at" 'BEGIN { printf "%.6f", (b - a) + r }') ;;
	esac
	echo "$work $post $rss"
}

CONFIGS=(base)
for f in $FREQS; do
	CONFIGS+=("cprof $f fp" "perf $f fp" "cprof $f dwarf" "perf $f dwarf")
done

declare -A WORK POST RSS
# Even rounds run perf before cprof at each setting, so that neither tool
# always comes right after the unprofiled run.
SWAPPED=(base)
for f in $FREQS; do
	SWAPPED+=("perf $f fp" "cprof $f fp" "perf $f dwarf" "cprof $f dwarf")
done

for r in $(seq 1 "$RUNS"); do
	order=("${CONFIGS[@]}")
	[ $((r % 2)) = 0 ] && order=("${SWAPPED[@]}")
	for c in "${order[@]}"; do
		read -r kind freq cg <<<"$c"
		quiet_wait
		res=$(run_one "$kind" "${freq:-0}" "${cg:-none}")
		read -r w p m <<<"$res"
		WORK[$c]+="$w "
		POST[$c]+="$p "
		RSS[$c]+="$m "
		printf '  run %d %-16s work %8.3f s  post %7.3f s  rss %7s KiB\n' "$r" "$c" "$w" "$p" "$m" >&2
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

base=$(median <<<"${WORK[base]}")
echo
echo "medians of $RUNS runs; slowdown = work time / unprofiled work time ($base s);"
echo "to-profile = end of the work -> profile file written (cprof) or perf report done (perf)"
printf '%-6s %-6s | %-9s %-9s %-7s | %-10s %-10s %-7s | %-9s %-9s %-7s\n' \
	Hz stack "slow cprof" "slow perf" ratio "to-prof c" "to-prof p" ratio "RSS c MiB" "RSS p MiB" ratio
for f in $FREQS; do
	for cg in fp dwarf; do
		sc=$(median <<<"${WORK["cprof $f $cg"]}")
		sp=$(median <<<"${WORK["perf $f $cg"]}")
		pc=$(median <<<"${POST["cprof $f $cg"]}")
		pp=$(median <<<"${POST["perf $f $cg"]}")
		mc=$(median <<<"${RSS["cprof $f $cg"]}")
		mp=$(median <<<"${RSS["perf $f $cg"]}")
		awk -v f="$f" -v cg="$cg" -v b="$base" -v sc="$sc" -v sp="$sp" -v pc="$pc" \
			-v pp="$pp" -v mc="$mc" -v mp="$mp" 'BEGIN {
			printf "%-6s %-6s | %-10.3f %-9.3f %-7.2f | %-10.3f %-10.3f %-7.2f | %-9.1f %-9.1f %-7.2f\n",
				f, cg, sc / b, sp / b, (sc / b) / (sp / b), pc, pp, pc / pp,
				mc / 1024, mp / 1024, mc / mp
		}'
	done
done
