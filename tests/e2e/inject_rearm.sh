#!/bin/bash
# A sampler that turned itself off is turned on again, whole. The driver
# is stopped (SIGSTOP) until a hook sees its heartbeat's deadline pass and
# clears live; the test then zeroes the copies of the real malloc and free
# that a live hook jumps through (the private area losing them), and lets
# the driver go: its next poll must write the copies again before it sets
# live (a live malloc through a zero copy would kill the target), samples
# must come again, and detach must leave the target as it was.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/inject_lib.bash"

STATE=$(dirname "$CPROF")/heap_state
[ -x "$STATE" ] || fail "heap_state not built at $STATE"
LAYOUT=$(dirname "$0")/../../src/heapblob/layout.h
layout() { awk -v n="$1" '$1 == "#define" && $2 == n { print $3 }' "$LAYOUT"; }
code=$(layout HB_CODE_SIZE) shared=$(layout HB_SHARED_SIZE) copies=$(layout HB_PRIV_REAL_MALLOC)
[ -n "$code" ] && [ -n "$shared" ] && [ -n "$copies" ] || fail "no layout in $LAYOUT"

inj_start mallocloop_fp 290
start_bg "$DRIVE" $DRIVE_ARGS "$TPID" 100 4096 > "$T/drive.out"
DPID=$BG_PID
wait_for 20 "the driver to attach" grep -q '^attached' "$T/drive.out"
base=$(sed -n 's/^attached .*base=0x\([0-9a-f]*\).*/\1/p' "$T/drive.out")
[ -n "$base" ] || fail "driver: $(cat "$T/drive.out")"
state() { "$STATE" "$TPID" >"$T/state" 2>&1 && grep -q '^total ' "$T/state"; }
live_is() { state && grep -q "^total .* live=$1\$" "$T/state"; }
samples() { sed -n 's/^total samples=\([0-9]*\).*/\1/p' "$T/state"; }
wait_for 10 "the sampler to be live" live_is 1

# The target is this shell's child: dead, it stays a zombie.
gone() { ! [ -e "/proc/$TPID" ] || grep -q '^State:[[:space:]]*Z' "/proc/$TPID/status"; }
kill -STOP "$DPID"
# HEAPABI_HEARTBEAT_NS (1 s) after the last poll, the next sample turns
# the hooks off.
wait_for 15 "a hook to see the heartbeat stop and clear live" live_is 0
python3 -c 'import sys; f = open(f"/proc/{sys.argv[1]}/mem", "r+b"); f.seek(int(sys.argv[2])); f.write(bytes(16))' \
	"$TPID" "$((16#$base + code + shared + copies))"
gone && fail "the target died while the sampler was off"
state || fail "heap_state: $(cat "$T/state")"
before=$(samples)
kill -CONT "$DPID"
more() { state && [ "$(samples)" -gt "$before" ]; }
end=$((SECONDS + 10))
until live_is 1 && more; do
	gone && fail "the target died when the sampler came back on (a live hook through a zero copy?)"
	[ "$SECONDS" -lt "$end" ] || fail "no samples 10 s after the driver came back: $(cat "$T/state")"
	sleep 0.05
done
inj_detach "$DPID"
grep -q '^detached .*rearmed=[1-9]' "$T/drive.out" ||
	fail "not turned on again: $(tail -1 "$T/drive.out")"
note "$(grep '^detached' "$T/drive.out"); samples $before before, $(samples) after"
inj_target_ok
pass "a sampler that turned itself off came back on with its real functions, and sampled"
