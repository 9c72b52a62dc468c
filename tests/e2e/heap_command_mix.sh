#!/bin/bash
# heap_command_mix: cprof record --profile allocs -- COMMAND runs the command,
# samples its allocations, and the command's results are those of an
# unprofiled run (its checksum, its exit status 0), with the shares it
# measured of itself within 5 points.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

bin=$WORKLOAD_DIR/heapmix_nofp
HM_OUT=$T/hm.out
rc=0
"$CPROF" record -q --profile allocs --rate 16384 -o "$T/cmd.pprof" -- "$bin" -d 0 -r 64 >"$HM_OUT" 2>"$T/cprof.err" || rc=$?
[ "$rc" = 0 ] || fail "cprof record -- heapmix exited $rc: $(tail -3 "$T/cprof.err") $(tail -2 "$HM_OUT")"
read -r rounds sum errors < <(sed -n 's/^heapmix: rounds \([0-9]*\) checksum \(0x[0-9a-f]*\) errors \([0-9]*\)$/\1 \2 \3/p' "$HM_OUT")
[ "${rounds:-}" = 64 ] || fail "heapmix did not finish its 64 rounds: $(tail -3 "$HM_OUT")"
[ "$errors" = 0 ] || fail "heapmix found $errors damaged blocks"
want=$(hm_reference "$bin" 64 -d 0)
[ "$sum" = "$want" ] || fail "checksum $sum under cprof, $want without"
check_heap_types "$T/cmd.pprof" alloc_space
check_alloc_shares command "$T/cmd.pprof"
pass "-- COMMAND: same results, shares within 5 points"
