#!/bin/bash
# record_signals: SIGINT (and SIGTERM) to cprof stop a recording early with a
# valid profile and exit 0; a target that dies mid-recording gives a valid
# profile and a message that it exited. Never a truncated file under the
# final name.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/calltree_nofp"

# Sends SIG to cprof once it samples, checks exit 0 and the profile.
stop_with() {
	local sig=$1 d="$T/$1" cp rc=0 dur
	local prof="$d/cpu.pprof"
	mkdir "$d"
	start_bg "$wl" 30
	local pid=$BG_PID
	wait_exec "$pid" "$wl"
	start_bg "$CPROF" record -p "$pid" --seconds 25 -F 999 -o "$prof"
	cp=$BG_PID
	wait_perf_fds "$cp"
	wait_cpu "$pid" 400 "$cp"	# ~400 samples, however loaded the machine
	kill -"$sig" "$cp"
	wait "$cp" || rc=$?
	forget_bg "$cp"
	stop_bg "$pid"
	[ "$rc" -eq 0 ] || fail "cprof exited $rc after SIG$sig"
	check_profile "$prof"
	pp_stacks "$prof" >"$T/$sig.stacks"
	local n
	n=$(sample_count "$T/$sig.stacks")
	[ "$n" -ge 100 ] || fail "SIG$sig: only $n samples"
	# stopped early: the profile covers much less than the 25 s asked for
	# pprof -raw prints the duration cut to 4 characters; -top in full
	dur=$(gopprof -symbolize=none -top "$prof" 2>/dev/null | sed -n 's/^Duration: \([^,]*\),.*/\1/p')
	note "SIG$sig: $n samples, duration $dur"
	[ -n "$dur" ] || fail "SIG$sig: no duration in the profile"
	awk -v d="$dur" 'BEGIN { exit !(d ~ /ms$/ || (d ~ /^[0-9.]+s$/ && d + 0 < 20)) }' ||
		fail "SIG$sig: profile duration $dur is not that of an early stop"
	[ "$(ls -A "$d")" = cpu.pprof ] || fail "SIG$sig: temporary files left: $(ls -A "$d")"
}

stop_with INT
stop_with TERM

# target killed mid-recording
start_bg "$wl" 30
pid=$BG_PID
wait_exec "$pid" "$wl"
mkdir "$T/died"
prof="$T/died/cpu.pprof"
"$CPROF" record -p "$pid" --seconds 25 -F 999 -o "$prof" >"$T/out" 2>"$T/err" &
cp=$!
BG_PIDS+=("$cp")
wait_perf_fds "$cp"
wait_cpu "$pid" 400 "$cp"
kill -KILL "$pid"
rc=0
wait "$cp" || rc=$?
forget_bg "$cp"
[ "$rc" -eq 0 ] || fail "cprof exited $rc when the target died: $(cat "$T/err")"
grep -Eqi 'exit|terminat|gone|ended' "$T/err" || fail "no message that the target exited: $(cat "$T/err")"
check_profile "$prof"
pp_stacks "$prof" >"$T/died.stacks"
n=$(sample_count "$T/died.stacks")
[ "$n" -ge 100 ] || fail "target died: only $n samples"
note "target killed: $n samples; cprof said: $(tr '\n' ' ' <"$T/err")"
[ "$(ls -A "$T/died")" = cpu.pprof ] || fail "temporary files left: $(ls -A "$T/died")"
pass
