#!/bin/bash
# The two unwinders of cprof threads side by side, snapshot mode, on
# manythreads_nofp targets of 10, 100 and 1000 threads with a SCHED_FIFO
# heartbeat: medians of REPS alternating dumps of
#   unwind ms  - the unwinding phase alone (cprof threads -v), the only
#                code that differs between the two
#   stop ms    - cprof's longest stop of a thread, interrupt to detach (-v)
#   gap ms     - the target heartbeat's longest gap (its own view of it)
#   wall ms    - the whole command
# Usage: bench/unwinders.sh [BUILD_DIR] [REPS]   (default build, 11)
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$SRC/build}
REPS=${2:-11}
. "$SRC/bench/manythreads.sh"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

printf '%-7s %-10s %10s %9s %8s %9s\n' threads unwinder "unwind ms" "stop ms" "gap ms" "wall ms"
for n in 10 100 1000; do
	start_target "$n" rt
	for u in libdw libunwind; do : > "$T/$u"; done
	for _ in $(seq "$REPS"); do
		for u in libdw libunwind; do
			gap_ms > /dev/null
			s=$(date +%s%N)
			"$CPROF" threads -p "$WPID" -f summary -v --unwinder "$u" \
				2> "$T/v" > /dev/null
			e=$(date +%s%N)
			g=$(gap_ms)
			f=$(sed -n 's/.*unwind \([0-9.]*\),.*longest stop \([0-9.]*\) ms.*/\1 \2/p' "$T/v")
			[ -n "$f" ] || { echo "cprof threads failed: $(cat "$T/v")" >&2; exit 1; }
			echo "$f $g $(awk -v d=$((e - s)) 'BEGIN {printf "%.1f", d / 1e6}')" >> "$T/$u"
			sleep 0.3
		done
	done
	stop_target
	for u in libdw libunwind; do
		printf '%-7s %-10s' "$n" "$u"
		for c in 1 2 3 4; do
			printf ' %9s' "$(awk -v c=$c '{print $c}' "$T/$u" | median)"
		done
		echo
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
