#!/bin/bash
# The injector on a malloc loop (tests/workloads/mallocloop.c), linked three
# ways: PIE with lazy binding and partial RELRO, full RELRO (-z now: the GOT
# read-only), no RELRO and not PIE. While attached the GOT entries of the
# allocation functions point into the injected mapping and the hooks are
# called; after detach /proc/PID/maps and every such GOT entry are as
# before, and the target's own checksums are right.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/inject_lib.bash"

for w in mallocloop_fp mallocloop_now mallocloop_lazy mallocloop_nopie; do
	inj_start "$w" 120
	inj_maps "$TPID" > "$T/maps.before"
	inj_got "$TPID" > "$T/got.before"
	grep -q " malloc " "$T/got.before" || fail "$w: no GOT entry of malloc found by readelf"
	start_bg "$DRIVE" $DRIVE_ARGS "$TPID" 100 4096 > "$T/drive.out"
	DPID=$BG_PID
	wait_for 20 "$w: the driver to attach" grep -q '^attached' "$T/drive.out"
	inj_got "$TPID" > "$T/got.during"
	base=$(sed -n 's/^attached .*base=0x\([0-9a-f]*\).*/\1/p' "$T/drive.out")
	[ -n "$base" ] || fail "$w: driver: $(cat "$T/drive.out")"
	# Independently of the driver: the main program's malloc entry now
	# points into the injected code.
	hooked=0
	while read -r mod name _ val; do
		[ "$mod" = "$w" ] && [ "$name" = malloc ] &&
			[ $((val)) -ge $((16#$base)) ] && [ $((val)) -lt $((16#$base + 16384)) ] &&
			hooked=$((hooked + 1))
	done < "$T/got.during"
	[ "$hooked" -ge 1 ] || fail "$w: malloc's GOT entry not pointing into the blob at 0x$base: $(grep malloc "$T/got.during")"
	grep -q "memfd:cprof-heap" "/proc/$TPID/maps" || fail "$w: no cprof-heap mapping while attached"
	sleep 0.5
	kill -TERM "$DPID"
	wait "$DPID" || fail "$w: the driver failed: $(cat "$T/drive.out")"
	forget_bg "$DPID"
	grep -q '^detached .*left_mapped=0' "$T/drive.out" || fail "$w: $(tail -1 "$T/drive.out")"
	samples=$(sed -n 's/^samples=\([0-9]*\).*/\1/p' "$T/drive.out")
	[ "${samples:-0}" -gt 0 ] || fail "$w: no sample at a rate of 4 KiB: $(cat "$T/drive.out")"
	inj_maps "$TPID" > "$T/maps.after"
	inj_got "$TPID" > "$T/got.after"
	diff "$T/maps.before" "$T/maps.after" || fail "$w: /proc/PID/maps differs after detach"
	diff "$T/got.before" "$T/got.after" || fail "$w: GOT entries differ after detach"
	grep -q "cprof-heap" "/proc/$TPID/maps" && fail "$w: cprof-heap still mapped"
	tr=$(awk '/^TracerPid:/ { print $2 }' "/proc/$TPID/status")
	[ "$tr" = 0 ] || fail "$w: still traced by $tr"
	note "$w: $(grep -c . "$T/got.before") GOT entries, $(sed -n 's/^attached .*stop_ms=\([0-9.]*\).*/\1/p' "$T/drive.out") ms stopped at attach, $samples samples"
	inj_target_ok
done
pass "GOT and maps restored, checksums right (PIE lazy, full RELRO, no RELRO, non-PIE)"
