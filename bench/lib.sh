# bench/lib.sh - what the benchmarks share; source it after defining die.
#
#   quiet_wait   wait until the machine is idle (over 90% idle time across
#                all CPUs during a second, from /proc/stat), up to
#                QUIET_WAIT seconds (120); then give up, unless FORCE=1

idle_pct() {
	local a b
	a=$(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
		printf "%d", 100 * (y[2] - x[2]) / (y[1] - x[1] + 1e-9) }'
}

# Nothing else may compete for the 2 CPUs: one stray spinning process
# halves every figure measured after it.
quiet_wait() {
	local i idle
	for i in $(seq 1 "${QUIET_WAIT:-120}"); do
		idle=$(idle_pct)
		[ "$idle" -ge 90 ] && return 0
	done
	echo "bench: the machine is still busy after ${QUIET_WAIT:-120} s ($idle% idle):" >&2
	ps -eo pid=,pcpu=,etime=,comm= --sort=-pcpu | head -5 >&2
	[ "${FORCE:-0}" = 1 ] || die "other processes are running (FORCE=1 to measure anyway)"
}
