#!/bin/bash
# A module loaded after the attach (mallocloop dlopens libz.so.1, which
# calls malloc and free through its own GOT) is hooked by a later poll:
# libz's GOT entries point into the injected code while attached, and are
# as before once detached (maps too); libz's round trips stay right.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/inject_lib.bash"

inj_start mallocloop_fp 290 --dlopen-when "$T/go"
start_bg "$DRIVE" $DRIVE_ARGS "$TPID" 100 > "$T/drive.out"
DPID=$BG_PID
wait_for 20 "the driver to attach" grep -q '^attached' "$T/drive.out"
grep -q libz "/proc/$TPID/maps" && fail "libz loaded before the attach"
base=$(sed -n 's/^attached .*base=0x\([0-9a-f]*\).*/\1/p' "$T/drive.out")
touch "$T/go"
wait_for 20 "libz to be loaded" grep -q dlopened "$T/target.out"
libz_hooked() {
	local n=0 mod name val
	while read -r mod name _ val; do
		case $mod in libz.so*) ;; *) continue ;; esac
		[ $((val)) -ge $((16#$base)) ] && [ $((val)) -lt $((16#$base + 16384)) ] &&
			n=$((n + 1))
	done < <(inj_got "$TPID")
	[ "$n" -ge 2 ]
}
wait_for 30 "libz's malloc and free GOT entries to point into the blob" libz_hooked
inj_detach "$DPID"
inj_got "$TPID" | grep '^libz' > "$T/got.after"
# Not hooked any more: libz's entries hold what the loader put there
# (its PLT stubs or, bound, libc's functions), not the blob.
while read -r mod name _ val; do
	[ $((val)) -ge $((16#$base)) ] && [ $((val)) -lt $((16#$base + 16384)) ] &&
		fail "libz's $name still hooked after detach"
done < "$T/got.after"
grep -q "cprof-heap" "/proc/$TPID/maps" && fail "cprof-heap still mapped"
note "$(grep '^detached' "$T/drive.out")"
inj_target_ok
grep -q "zlib_rounds=[1-9]" "$T/target.out" || fail "no zlib round trip: $(cat "$T/target.out")"
pass "a module dlopened after the attach was hooked and restored"
