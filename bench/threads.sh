#!/bin/bash
# Thread dumps of 10, 100 and 1000-thread targets (manythreads: blocked on a
# condition variable, two busy half the time): wall time of cprof threads
# (both modes, both unwinders), eu-stack -p and gdb 'thread apply all bt',
# and the longest pause of the target, measured by its own heartbeat thread
# (the longest gap between ticks of a ~100 us nanosleep loop). Pauses are
# measured on a second target whose heartbeat runs SCHED_FIFO, so a gap is
# a stop, not the two busy threads and the tool keeping it off both CPUs
# (HEARTBEAT_MODE=normal: an ordinary thread there too, whose gaps include
# that scheduling jitter); wall times on a target with an ordinary one.
#
# Usage: bench/threads.sh [BUILD_DIR] [REPS]   (default build, 5)
# Prints one table; a wall time is the median of REPS runs, a pause the
# median of PAUSE_REPS (default 9): a longest gap is a maximum over the
# run, so one hiccup of the VM (process start-up and exit alone make gaps
# of 1-5 ms here now and then) moves a single figure, not the median.
# SIZES="10 100 1000" (default) picks the targets.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$SRC/build}
REPS=${2:-5}
PAUSE_REPS=${PAUSE_REPS:-9}
SIZES=${SIZES:-10 100 1000}
HEARTBEAT=rt
[ "${HEARTBEAT_MODE:-rt}" = normal ] && HEARTBEAT=
. "$SRC/bench/manythreads.sh"

declare -A TOOLS=(
	[a_cprof]="$CPROF threads -p PID -f summary"
	[b_cprof_1]="$CPROF threads -p PID -f summary --one-at-a-time"
	[c_cprof_lu]="$CPROF threads -p PID -f summary --unwinder libunwind"
	[d_cprof_lu_1]="$CPROF threads -p PID -f summary --unwinder libunwind --one-at-a-time"
	[e_eu-stack]="eu-stack -p PID"
	[f_gdb]="gdb -p PID -batch -ex 'thread apply all bt'"
)
declare -A NAME=(
	[a_cprof]="cprof (default: libdw, snapshot)" [b_cprof_1]="cprof (libdw, one-at-a-time)"
	[c_cprof_lu]="cprof (libunwind, snapshot)" [d_cprof_lu_1]="cprof (libunwind, one-at-a-time)"
	[e_eu-stack]="eu-stack -p" [f_gdb]="gdb thread apply all bt"
)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

keys=$(printf '%s\n' "${!TOOLS[@]}" | sort)

printf '%-7s %-34s %9s %9s %9s %12s\n' threads tool "wall s" "eu/this" "gdb/this" "pause ms"
for n in $SIZES; do
	declare -A WALLS=() PAUSES=() WALL=() PAUSE=()
	# Two targets: wall times with an ordinary heartbeat, whose 10,000
	# wake-ups a second at real-time priority would preempt the tools
	# themselves; pauses with the real-time one. Tools alternate within
	# each round so that drifts of the machine hit them alike.
	for pass in wall pause; do
		if [ "$pass" = pause ]; then start_target "$n" $HEARTBEAT; else start_target "$n"; fi
		reps=$REPS
		if [ "$pass" = pause ]; then
			idle=$(gap_ms)
			reps=$PAUSE_REPS
		fi
		for _ in $(seq "$reps"); do
			for k in $keys; do
				cmd=${TOOLS[$k]//PID/$WPID}
				gap_ms > /dev/null
				s=$(date +%s%N)
				# eval, not bash -c: no shell start-up (~3 ms) in the figure.
				eval "timeout 120 $cmd" > /dev/null 2>&1
				e=$(date +%s%N)
				if [ "$pass" = wall ]; then
					WALLS[$k]+=" $(awk -v d=$((e - s)) 'BEGIN {printf "%.3f", d / 1e9}')"
				else
					PAUSES[$k]+=" $(gap_ms)"
				fi
				# gdb and eu-stack burn a second of CPU: let the
				# machine settle before the next tool.
				sleep 0.5
			done
		done
		stop_target
	done
	for k in $keys; do
		WALL[$k]=$(printf '%s\n' ${WALLS[$k]} | median)
		PAUSE[$k]=$(printf '%s\n' ${PAUSES[$k]} | median)
	done
	for k in $keys; do
		printf '%-7s %-34s %9s %9s %9s %12s\n' "$n" "${NAME[$k]}" "${WALL[$k]}" \
			"$(awk -v a="${WALL[e_eu-stack]}" -v b="${WALL[$k]}" 'BEGIN {printf "%.1fx", a / b}')" \
			"$(awk -v a="${WALL[f_gdb]}" -v b="${WALL[$k]}" 'BEGIN {printf "%.1fx", a / b}')" \
			"${PAUSE[$k]}"
	done
	printf '%-7s %-34s %9s %9s %9s %12s\n' "$n" "(no tool: heartbeat jitter)" - - - "$idle"
	unset WALLS PAUSES WALL PAUSE
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
