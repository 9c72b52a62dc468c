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
CPROF=$B/cprof
W=$B/workloads/manythreads_nofp
[ -x "$CPROF" ] && [ -x "$W" ] || { echo "build cprof and manythreads_nofp in $B first" >&2; exit 2; }
T=$(mktemp -d)
WPID=
cleanup() { [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

busy=$(ps -eo pcpu= | awk '$1 > 20' | wc -l)
[ "$busy" -gt 1 ] && echo "warning: $busy processes use > 20% CPU; figures will be noisy" >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

gap_ms() {
	rm -f "$T/gap"
	kill -USR2 "$WPID"
	for _ in $(seq 500); do [ -s "$T/gap" ] && break; sleep 0.01; done
	awk '{printf "%.2f", $1 / 1e6}' "$T/gap"
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

printf '%-7s %-10s %10s %9s %8s %9s\n' threads unwinder "unwind ms" "stop ms" "gap ms" "wall ms"
for n in 10 100 1000; do
	: > "$T/ready"
	"$W" "$n" 600 "$T/gap" rt > "$T/ready" &
	WPID=$!
	for _ in $(seq 200); do grep -q ready "$T/ready" && break; sleep 0.05; done
	sleep 0.5
	gap_ms > /dev/null
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
	kill -9 "$WPID"
	wait "$WPID" 2>/dev/null
	WPID=
	for u in libdw libunwind; do
		printf '%-7s %-10s' "$n" "$u"
		for c in 1 2 3 4; do
			printf ' %9s' "$(awk -v c=$c '{print $c}' "$T/$u" | median)"
		done
		echo
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
