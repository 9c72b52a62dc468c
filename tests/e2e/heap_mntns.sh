#!/bin/bash
# heap_mntns: a target in another mount namespace, run from a tmpfs that
# only its namespace sees (unshare -m), its module loaded from there too:
# the sampler is injected (remote memfd, no path in the target's
# namespace needed), the binaries are read through /proc, and the
# allocs profile has the workload's shares.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

mkdir "$T/ns"
HM_OUT=$T/hm.out
start_bg unshare -m --propagation private sh -c '
	mount -t tmpfs none "$1" && cp "$2/heapmix_nofp" "$2/libheapmod.so" "$1/" &&
	exec "$1/heapmix_nofp" -d 0 -s 60' sh "$T/ns" "$WORKLOAD_DIR" >"$HM_OUT"
HM_PID=$BG_PID
wait_for 20 "heapmix to start in its namespace" grep -q '^heapmix: pid .* ready' "$HM_OUT"
hm_wait_line 20 "the module to load" '^heapmix: module loaded'
[ "$(readlink "/proc/$HM_PID/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] || fail "the target is in our mount namespace"
[ -e "$T/ns/heapmix_nofp" ] && fail "the target's binary is visible from here: the test would prove nothing"

heap_record "$HM_PID" "$T/mntns.pprof" --profile allocs --rate 16384 --seconds 4 || fail "cprof record exited $?"
task_states_ok "$HM_PID" || fail "a thread of the target is left stopped or traced"
hm_stop
check_heap_types "$T/mntns.pprof" alloc_space
check_alloc_shares mntns "$T/mntns.pprof"
pass "a target in another mount namespace: shares within 5 points"
