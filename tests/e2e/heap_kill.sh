#!/bin/bash
# heap_kill: SIGKILL of cprof at random moments while it attaches, while it
# samples and while it detaches, 100 trials on one running target
# (heapmix, which checks every block it frees and times its own
# malloc/free loop). After each kill every thread of the target runs on:
# not stopped, not traced. A killed cprof leaves its hooks (inert once
# the heartbeat stops) for the next cprof to remove; after a last cprof
# that runs to its end, the mappings and the GOT are as before the
# trials, the target's checksum is that of an unprofiled run of the same
# rounds, and its malloc loop runs within 5% of its cost before the
# trials (against the same loop calling libc straight).
# HEAP_KILL_TRIALS (100) for runs by hand.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

trials=${HEAP_KILL_TRIALS:-100}
bin=$WORKLOAD_DIR/heapmix_nofp
hm_start "$bin" -d 0 -s 240
hm_wait_line 20 "the module to load" '^heapmix: module loaded'
# The malloc loop's cost is read as heapmix's ratio of the loop through
# the GOT over the same loop straight to libc, batches taken in turn: the
# host changes this VM's speed by the minute (6.5 or 11 ns a call, with
# nothing running), which compared two timings apart, or the target with
# an unprofiled twin (6.83 against 6.44 ns once), by more than 5%.
before=$(hm_loop_best 1)
ratio0=$(hm_loop_ratio 5)
maps_snapshot "$HM_PID" "$T/maps.before"
got_snapshot "$HM_PID" "$T/got.before"

# ms since the epoch
ms() { echo $(($(date +%s%N) / 1000000)); }
# The trials poll without starting a process (date, grep and awk each
# time took half a second of CPU a trial, beside a cprof that takes 0.06
# s): NOW_MS from bash's clock, the maps read by mapfile.
now_ms() { local t=${EPOCHREALTIME/[.,]/}; NOW_MS=$((t / 1000)); }
injected() {
	local maps
	mapfile -t maps <"/proc/$1/maps" 2>/dev/null || return 1
	[[ "${maps[*]}" == *memfd:cprof-heap* ]]
}

# One trial: cprof record runs for up to 1.5 s; PHASE says when it dies.
#   attach: 0 to 300 ms after its start (it may not have mapped anything yet)
#   sample: 0 to 400 ms after the sampler appeared in the target's maps
#   detach: SIGINT (cprof starts to leave), then 0 to 60 ms later
trial() {
	local i=$1 phase=$2 rec t0 d rc sl
	"$CPROF" record -q -p "$HM_PID" -o "$T/kill.pprof" --profile heap --rate 65536 --seconds 1.5 \
		>/dev/null 2>>"$T/cprof.err" &
	rec=$!
	BG_PIDS+=("$rec")
	now_ms
	t0=$NOW_MS
	case $phase in
	attach)
		d=$((RANDOM % 300))
		;;
	sample|detach)
		while kill -0 "$rec" 2>/dev/null && ! injected "$HM_PID"; do
			now_ms
			[ $((NOW_MS - t0)) -lt 10000 ] || break
			sleep 0.01
		done
		if [ "$phase" = sample ]; then
			d=$((RANDOM % 400))
		else
			kill -INT "$rec" 2>/dev/null || true
			d=$((RANDOM % 60))
		fi
		;;
	esac
	printf -v sl '0.%03d' "$d"
	sleep "$sl"
	kill -KILL "$rec" 2>/dev/null || true
	rc=0
	wait "$rec" 2>/dev/null || rc=$?
	forget_bg "$rec"
	kill -0 "$HM_PID" 2>/dev/null || fail "trial $i ($phase, +${d} ms): the target died: $(tail -3 "$HM_OUT")"
	# cprof is reaped: the kernel has detached it from every thread.
	task_states_ok "$HM_PID" ||
		fail "trial $i ($phase, +${d} ms): a thread is left stopped or traced: $(grep -h -E '^(State|TracerPid)' /proc/"$HM_PID"/task/*/status | sort | uniq -c | tr '\n' ' ')"
	KILLED[$phase]=$((KILLED[$phase] + (rc == 137)))
}

declare -A KILLED=([attach]=0 [sample]=0 [detach]=0)
phases=(attach sample detach)
r0=$(cpu_ms "$HM_PID")
trials_t0=$(ms)
for i in $(seq 1 "$trials"); do
	trial "$i" "${phases[$((RANDOM % 3))]}"
done
r1=$(cpu_ms "$HM_PID")
note "$trials trials in $(($(ms) - trials_t0)) ms: killed while attaching ${KILLED[attach]}, sampling ${KILLED[sample]}, detaching ${KILLED[detach]} (the others ended first); the target used $((r1 - r0)) ms of CPU meanwhile"
[ $((KILLED[attach] + KILLED[sample] + KILLED[detach])) -ge $((trials / 2)) ] ||
	fail "cprof was killed in only $((KILLED[attach] + KILLED[sample] + KILLED[detach])) of $trials trials"

# What the last killed cprof left (if it was killed) must have stopped
# sampling within a second of its heartbeat's end. Seen in the target's
# memory, not timed (on CI the loop once took 13.96 ns a call against an
# unprofiled twin's 6.61: as much the host's change of speed as a hook):
# across the ~25 M mallocs of three loop timings, a hook still sampling
# adds samples or drops; an inert one adds neither.
STATE=$(dirname "$CPROF")/heap_state
[ -x "$STATE" ] || fail "heap_state not built at $STATE"
sleep 1.5
"$STATE" "$HM_PID" >"$T/state.1" || fail "heap_state: $(cat "$T/state.1")"
inert=$(hm_loop_ratio 3)
"$STATE" "$HM_PID" >"$T/state.2" || fail "heap_state: $(cat "$T/state.2")"
note "samplers left: $(grep -c '^sampler' "$T/state.2" || true); $(tail -1 "$T/state.2"); loop through the GOT over straight to libc: $ratio0 before the trials, $inert after them"
[ "$(tail -1 "$T/state.1")" = "$(tail -1 "$T/state.2")" ] ||
	fail "hooks left sampling 1.5 s after the last kill: before the loop $(tail -1 "$T/state.1"), after $(tail -1 "$T/state.2"): $(grep '^sampler' "$T/state.2" | tr '\n' ' ')"
grep -q '^total samples=' "$T/state.2" || fail "no total line from heap_state: $(cat "$T/state.2")"

# A cprof that runs to its end removes what a killed one left.
heap_record "$HM_PID" "$T/last.pprof" --profile heap --rate 65536 --seconds 1 ||
	fail "cprof record after the trials exited $?: $(tail -3 "$T/cprof.err")"
hm_as_before "after the trials and a last cprof"

# The loop through the GOT back to its cost before the trials, measured
# against the loop straight to libc.
ratio1=$(hm_loop_ratio 5)
after=$(hm_loop_best 1)
note "malloc loop through the GOT over straight to libc: $ratio0 before the trials, $ratio1 after the last cprof ($before -> $after ns/call)"
loop_unslowed "$ratio1" "$ratio0" ||
	fail "malloc loop after the trials at $ratio1 of its cost straight to libc, $ratio0 before (more than 5% slower)"

hm_results_right "$bin" "and $trials kills"
pass "$trials SIGKILLs: target running, untraced, right results (checksum $HM_SUM), malloc at $after ns/call (was $before)"
