# Sourced by bench/threads.sh and bench/unwinders.sh: a manythreads_nofp
# target with a heartbeat thread that reports its longest gap on SIGUSR2.
# Needs B (the build directory) set; sets CPROF, W, T and WPID, and a trap
# that kills the target and removes T on exit.
CPROF=$B/cprof
W=$B/workloads/manythreads_nofp
[ -x "$CPROF" ] && [ -x "$W" ] || { echo "build cprof and manythreads_nofp in $B first" >&2; exit 2; }
T=$(mktemp -d)
WPID=
cleanup() { [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

busy=$(ps -eo pcpu= | awk '$1 > 20' | wc -l)
[ "$busy" -gt 1 ] && echo "warning: $busy processes use > 20% CPU; figures will be noisy" >&2

gap_ms() {	# ask the heartbeat for its longest gap since the last ask
	rm -f "$T/gap"
	kill -USR2 "$WPID"
	for _ in $(seq 500); do [ -s "$T/gap" ] && break; sleep 0.01; done
	awk '{printf "%.2f", $1 / 1e6}' "$T/gap"
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

start_target() {	# N [rt]: N threads, heartbeat SCHED_FIFO with rt
	: > "$T/ready"
	"$W" "$1" 600 "$T/gap" ${2:-} > "$T/ready" &
	WPID=$!
	for _ in $(seq 200); do grep -q ready "$T/ready" && break; sleep 0.05; done
	sleep 0.5
	gap_ms > /dev/null
	sleep 0.5
}
stop_target() { kill -9 "$WPID"; wait "$WPID" 2>/dev/null; WPID=; }
