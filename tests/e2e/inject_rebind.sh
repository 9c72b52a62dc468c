#!/bin/bash
# A hook the loader writes over is put back. A thread stopped in a PLT
# stub on its way to the lazy-binding resolver (not yet in ld.so, so not
# let go at the attach) stores the real function into the GOT entry just
# patched once it runs. The test plays the loader: while the driver is
# attached it writes each patched entry of the workload's own malloc and
# free back to the value it held before (what the resolver writes), and
# the driver's next poll must point it at the hook again; detach then
# leaves the GOT as before.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/inject_lib.bash"

inj_start mallocloop_fp 290
inj_got "$TPID" > "$T/got.before"
start_bg "$DRIVE" $DRIVE_ARGS "$TPID" 100 > "$T/drive.out"
DPID=$BG_PID
wait_for 20 "the driver to attach" grep -q '^attached' "$T/drive.out"
# The workload's own entries for malloc and free, as readelf finds them.
mapfile -t entries < <(awk '$1 == "mallocloop_fp" && ($2 == "malloc" || $2 == "free") { print $3 }' "$T/got.before")
[ "${#entries[@]}" -ge 2 ] || fail "no GOT entries of malloc and free in mallocloop_fp: $(cat "$T/got.before")"
# For each: the driver's patch line (ADDR ORIG HOOK) and the entry's value now.
for a in "${entries[@]}"; do
	grep -q "^patch $a " "$T/drive.out" || fail "entry $a not patched: $(grep '^patch' "$T/drive.out")"
done
entry_value() {
	python3 -c 'import sys; f = open(f"/proc/{sys.argv[1]}/mem", "rb"); f.seek(int(sys.argv[2], 16)); print(hex(int.from_bytes(f.read(8), "little")))' "$TPID" "$1"
}
for a in "${entries[@]}"; do
	read -r _ _ orig hook < <(grep "^patch $a " "$T/drive.out")
	[ "$(entry_value "$a")" = "$hook" ] || fail "entry $a holds $(entry_value "$a"), not the hook $hook"
	# What the resolver does: the real function back into the entry.
	python3 -c 'import sys; f = open(f"/proc/{sys.argv[1]}/mem", "r+b"); f.seek(int(sys.argv[2], 16)); f.write(int(sys.argv[3], 16).to_bytes(8, "little"))' "$TPID" "$a" "$orig"
done
holds() { [ "$(entry_value "$1")" = "$2" ]; }
for a in "${entries[@]}"; do
	read -r _ _ orig hook < <(grep "^patch $a " "$T/drive.out")
	wait_for 10 "entry $a to hold the hook again" holds "$a" "$hook"
done
inj_detach "$DPID"
# Each entry written over once, each put back once (the next poll may
# come before this test reads the entry back: it is not read in between).
grep -q "^detached .*rebound=${#entries[@]}\$" "$T/drive.out" ||
	fail "${#entries[@]} entries written over, not as many put back: $(tail -1 "$T/drive.out")"
inj_got "$TPID" > "$T/got.after"
diff "$T/got.before" "$T/got.after" > "$T/got.diff" || fail "GOT differs after detach: $(head -5 "$T/got.diff")"
note "$(grep '^detached' "$T/drive.out")"
inj_target_ok
pass "hooks written over by the loader were put back by the next poll; detach restored the GOT"
