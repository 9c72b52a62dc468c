#!/bin/bash
# A target under a seccomp filter is refused before anything is done to
# it: one line naming seccomp and the uprobe method, exit 1, the target
# untouched (maps, GOT, not traced) and its results right.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/inject_lib.bash"

inj_start mallocloop_fp 290 --seccomp
grep -q '^Seccomp:[[:space:]]*2' "/proc/$TPID/status" || fail "the workload has no seccomp filter"
inj_maps "$TPID" > "$T/maps.before"
inj_got "$TPID" > "$T/got.before"
rc=0
"$DRIVE" $DRIVE_ARGS "$TPID" 1 > "$T/drive.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1: $(cat "$T/drive.out")"
grep -q '^error: .*seccomp.*--method uprobe' "$T/drive.out" || fail "unexpected message: $(cat "$T/drive.out")"
[ "$(grep -c . "$T/drive.out")" -eq 1 ] || fail "more than one line: $(cat "$T/drive.out")"
inj_maps "$TPID" > "$T/maps.after"
inj_got "$TPID" > "$T/got.after"
diff "$T/maps.before" "$T/maps.after" || fail "maps changed"
diff "$T/got.before" "$T/got.after" || fail "GOT changed"
note "$(cat "$T/drive.out")"
inj_target_ok
pass "seccomp target refused, untouched"
