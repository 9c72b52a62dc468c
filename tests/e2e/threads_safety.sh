#!/bin/bash
# Kill cprof threads at random moments of a dump, 50 times with SIGKILL and
# 50 times with SIGINT: after each, no thread of the target may be stopped
# (t/T) or traced, and its heartbeat must resume within 1 s.
set -u
: "${CPROF:?}" "${WORKLOAD_DIR:?}" "${TEST_TMP:?}"
mkdir -p "$TEST_TMP"
T=$(mktemp -d "$TEST_TMP/threads_safety.XXXXXX")
WPID= CPID=
cleanup() {
	[ -n "$CPID" ] && kill -9 "$CPID" 2>/dev/null
	[ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null
	wait 2>/dev/null; rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$WORKLOAD_DIR/parked_nofp" 240 "$T/hb" > "$T/ready" &
WPID=$!
for _ in $(seq 100); do grep -q ready "$T/ready" && [ -s "$T/hb" ] && break; sleep 0.05; done
grep -q ready "$T/ready" || fail "parked_nofp did not start"

# How long one dump takes here, to spread the kills over it.
start=$(date +%s%N)
"$CPROF" threads -p "$WPID" > /dev/null || fail "a plain dump failed"
dur_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$dur_ms" -ge 1 ] || dur_ms=1
echo "one dump: ${dur_ms} ms"

check_target() {	# $1: what happened
	local s tracer c0 c1
	# One awk for all threads (a sed and a cut per thread took 0.26 s of
	# each 0.4 s round); the state follows the last ')' of the line.
	s=$(awk '{ t = $0; sub(/.*\) /, "", t); split(t, f, " ")
		if (f[1] == "t" || f[1] == "T") { n = split(FILENAME, p, "/"); print p[n - 1], f[1] } }' \
		/proc/"$WPID"/task/*/stat 2>/dev/null)
	[ -z "$s" ] || fail "$1: thread left stopped (tid state): $s"
	tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$WPID/status")
	[ "$tracer" = 0 ] || fail "$1: target still traced by $tracer"
	read -r c0 <"$T/hb"
	for _ in $(seq 50); do
		sleep 0.02
		read -r c1 <"$T/hb"
		[ "$c1" != "$c0" ] && return 0
	done
	fail "$1: heartbeat stuck at $c0 for 1 s"
}

in_trace_stop() {	# a thread of the target in a trace stop (state t)
	local f l
	for f in /proc/"$WPID"/task/*/stat; do
		read -r l 2>/dev/null <"$f" || continue
		[[ "${l##*) }" == t\ * ]] && return 0
	done
	return 1
}

modes=("" "--one-at-a-time" "--unwinder libunwind" "--unwinder libunwind --one-at-a-time")
# 40 kills of each signal; 16 in the sanitizer build, where each dump takes
# 3-4 times as long (the races are the same, its checks are of memory).
kills=40; [ "${CPROF_SANITIZED:-0}" = 1 ] && kills=16
for sig in KILL INT; do
	hits=0
	for i in $(seq "$kills"); do
		mode=${modes[$((i % 4))]}
		{ exec "$CPROF" threads -p "$WPID" $mode > /dev/null 2>&1; } &
		CPID=$!
		if [ $((i % 2)) = 0 ]; then
			printf -v d '0.%03d' $((RANDOM % (dur_ms + 1) % 1000))
			sleep "$d"
		else
			# Aim at the stop itself: kill as soon as a thread is
			# seen in a trace stop (bounded by cprof's own life).
			# Read by bash itself: a grep a turn, started without
			# pause, took the CPU from the cprof it watched.
			while kill -0 "$CPID" 2>/dev/null; do
				if in_trace_stop; then
					hits=$((hits + 1))
					break
				fi
			done
		fi
		kill -"$sig" "$CPID" 2>/dev/null
		# Bounded wait for cprof to end.
		for _ in $(seq 250); do kill -0 "$CPID" 2>/dev/null || break; sleep 0.02; done
		if kill -0 "$CPID" 2>/dev/null; then
			kill -9 "$CPID"
			fail "SIG$sig #$i: cprof did not exit within 5 s"
		fi
		wait "$CPID" 2>/dev/null
		CPID=
		check_target "SIG$sig #$i ($mode)"
	done
	echo "ok: $kills x SIG$sig ($hits of them sent while threads were in a trace stop)"
done
kill -0 "$WPID" || fail "the target died"
echo PASS
