#!/bin/bash
# Remote system calls made by a thread stopped inside a blocking system
# call: mallocloop --idle has every thread in nanosleep or read() whenever
# it is stopped. Each attach and detach interrupts them; the kernel's
# restart (or, once cprof is dead, the stub's own) must resume them so that
# no sleep ends early and the read gets its data. Then cprof is killed
# (SIGKILL, CPROF_INJECT_KILL_AT) right after it pointed the thread at the
# stub for each of its remote calls: the thread must run the call and the
# stub's restore on its own, and the next attach removes what was left (a
# memfd, a mapping), so that in the end the maps are those before the
# first attach.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/inject_lib.bash"

inj_start mallocloop_fp 290 --idle
maps0=$(inj_maps "$TPID")
for i in 1 2 3; do
	"$DRIVE" $DRIVE_ARGS "$TPID" 0.3 > "$T/drive.out" 2>&1 ||
		fail "attach $i: $(cat "$T/drive.out")"
	grep -q '^detached .*left_mapped=0' "$T/drive.out" || fail "attach $i: $(cat "$T/drive.out")"
done
note "3 attach/detach cycles: $(grep '^attached' "$T/drive.out")"

# Remote calls: 1 memfd_create, 2 mmap (code, over the whole range),
# 3 mmap (shared area), 4 mmap (private area), 5 madvise, 6 close.
for k in 1 2 3 4 5 6; do
	rc=0
	CPROF_INJECT_KILL_AT=$k "$DRIVE" $DRIVE_ARGS "$TPID" 0.3 > "$T/kill.out" 2>&1 || rc=$?
	[ "$rc" -eq 137 ] || fail "kill at call $k: the driver was not killed (rc $rc): $(cat "$T/kill.out")"
	# The thread ran on by itself: not stopped, not traced.
	wait_for 10 "pid $TPID untraced" sh -c "grep -q '^TracerPid:[[:space:]]*0\$' /proc/$TPID/status"
	st=$(awk '{ print $3 }' "/proc/$TPID/stat")
	case $st in t|T) fail "kill at call $k: the target is left stopped ($st)" ;; esac
	case $k in
	1) ls -l "/proc/$TPID/fd" | grep -q "memfd:cprof-heap" ||
		fail "kill at call 1: memfd_create did not run on its own" ;;
	2) grep -q "memfd:cprof-heap" "/proc/$TPID/maps" ||
		fail "kill at call 2: the code mmap did not run on its own" ;;
	esac
	"$DRIVE" $DRIVE_ARGS "$TPID" 0.3 > "$T/drive.out" 2>&1 ||
		fail "attach after the kill at call $k: $(cat "$T/drive.out")"
	ls -l "/proc/$TPID/fd" | grep -q "memfd:cprof-heap" &&
		fail "after the kill at call $k: a memfd is left open"
	grep -q "memfd:cprof-heap" "/proc/$TPID/maps" &&
		fail "after the kill at call $k: cprof-heap still mapped"
	if [ "$k" -ge 2 ]; then
		grep -q "^attached .*removed_stale=1" "$T/drive.out" ||
			fail "after the kill at call $k: the stale mapping was not counted: $(head -1 "$T/drive.out")"
	fi
	note "killed at remote call $k: target ran on; next attach: $(head -1 "$T/drive.out" | grep -o 'removed_stale=[0-9]*')"
done
# Whatever a kill at any call left was removed since.
[ "$(inj_maps "$TPID")" = "$maps0" ] || fail "maps differ from before the first attach: $(diff <(echo "$maps0") <(inj_maps "$TPID") | head -5)"
inj_target_ok
grep -q "short_sleeps=0 read_ok=1" "$T/target.out" || fail "a blocking call did not resume right: $(cat "$T/target.out")"
pass "blocking calls resumed (restart emulated), kills at remote calls left the target running"
