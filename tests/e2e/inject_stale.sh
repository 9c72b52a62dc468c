#!/bin/bash
# A sampler left by a killed injector (SIGKILL while attached: its hooks
# stay in the GOT, its heartbeat stops): the target runs on with right
# results, and the next attach finds the "/memfd:cprof-heap" mapping,
# restores the GOT entries that still hold its hooks and unmaps it
# (removed_stale=1); after that one's detach, maps and GOT are as before
# the first attach.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/inject_lib.bash"

inj_start mallocloop_now 290
inj_maps "$TPID" > "$T/maps.before"
inj_got "$TPID" > "$T/got.before"
start_bg "$DRIVE" $DRIVE_ARGS "$TPID" 100 > "$T/first.out"
D1=$BG_PID
wait_for 20 "the first driver to attach" grep -q '^attached' "$T/first.out"
kill -KILL "$D1"
wait "$D1" 2>/dev/null || true
forget_bg "$D1"
grep -q "memfd:cprof-heap" "/proc/$TPID/maps" || fail "no sampler left by the killed driver"
inj_got "$TPID" > "$T/got.stale"
diff -q "$T/got.before" "$T/got.stale" >/dev/null && fail "the killed driver's hooks are not in the GOT"
# The target keeps running on the stale hooks (heartbeat stopped).
sleep 1.5
kill -0 "$TPID" || fail "the target died with a stale sampler"
"$DRIVE" $DRIVE_ARGS "$TPID" 0.5 > "$T/second.out" 2>&1 || fail "second attach: $(cat "$T/second.out")"
grep -q '^attached .*removed_stale=1' "$T/second.out" || fail "stale sampler not removed: $(head -1 "$T/second.out")"
grep -q '^detached .*left_mapped=0 removed_stale=1' "$T/second.out" || fail "$(tail -1 "$T/second.out")"
inj_maps "$TPID" > "$T/maps.after"
inj_got "$TPID" > "$T/got.after"
diff "$T/maps.before" "$T/maps.after" || fail "maps differ after the second detach"
diff "$T/got.before" "$T/got.after" || fail "GOT entries differ after the second detach"
note "$(head -1 "$T/second.out")"
inj_target_ok
pass "stale sampler found and removed, GOT and maps as before"
