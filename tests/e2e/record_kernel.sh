#!/bin/bash
# record_kernel: as root, time in system calls is kept and its kernel frames
# sit under a "[kernel]" mapping, above the user frames that made the call;
# --no-kernel drops them (and, as docs/design.md §1 measured, the time in system
# calls with them).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

[ "$(id -u)" -eq 0 ] || fail "needs root (kernel sampling)"

# dd copying 1-byte blocks: nearly all of its time is in read and write
# (400 kB: ~1 s alone here, some 1,000 samples at 999 Hz where 200 are asked
# for; samples follow its CPU, however loaded the machine)
dd_cmd=(dd if=/dev/zero of=/dev/null bs=1 count=400000 status=none)

# kernel_share PROF: "KERNEL USERBELOW TOTAL" sample counts: samples with a
# location in the [kernel] mapping, those of them that also have a location
# in another mapping (the user stack under the system call), all samples.
kernel_share() {
	pp_raw "$1" | awk '
	/^Samples:/ { s = "s"; next }
	/^Locations/ { s = "l"; next }
	/^Mappings/ { s = "m"; next }
	s == "s" && /^ *[0-9]+ +[0-9]+: / {
		n++; cnt[n] = $1; sub(/^[^:]*: /, ""); ids[n] = $0; next
	}
	s == "l" && /^ *[0-9]+: 0x/ { id = $1; sub(":", "", id); m = $3; sub("M=", "", m); lm[id] = m; next }
	s == "m" && /^[0-9]+: / { id = $1; sub(":", "", id); if ($3 == "[kernel]") km[id] = 1 }
	END {
		for (i = 1; i <= n; i++) {
			c = split(ids[i], a, " "); k = 0; u = 0
			for (j = 1; j <= c; j++) { if (lm[a[j]] in km) k = 1; else if (lm[a[j]] != "") u = 1 }
			tot += cnt[i]; if (k) { K += cnt[i]; if (u) KU += cnt[i] }
		}
		print K + 0, KU + 0, tot + 0
	}'
}

rc=0
"$CPROF" record -q -F 999 -o "$T/k.pprof" -- "${dd_cmd[@]}" || rc=$?
[ "$rc" -eq 0 ] || fail "cprof record -- dd exited $rc"
check_profile "$T/k.pprof"
read -r k ku tot < <(kernel_share "$T/k.pprof")
note "default: $k of $tot samples have kernel frames, $ku of them with user frames below"
[ "$tot" -ge 200 ] || fail "only $tot samples of dd"
[ $((k * 100)) -ge $((tot * 50)) ] || fail "only $k of $tot samples of a syscall loop have [kernel] frames"
[ $((ku * 100)) -ge $((k * 90)) ] || fail "only $ku of $k kernel samples keep the user stack below"
# the kernel frames are named from /proc/kallsyms, not left as addresses
names=$(pp_raw "$T/k.pprof" | awk '/^Locations/ { l = 1; next } /^Mappings/ { l = 0 } l && / M=/ { print $4 }' | sort -u)
grep -Eq '^(__x64_sys_|ksys_|vfs_|entry_SYSCALL|do_syscall)' <<<"$names" ||
	fail "no kernel system call function among the location names"

rc=0
"$CPROF" record -q -F 999 --no-kernel -o "$T/nk.pprof" -- "${dd_cmd[@]}" || rc=$?
[ "$rc" -eq 0 ] || fail "cprof record --no-kernel -- dd exited $rc"
check_profile "$T/nk.pprof"
read -r k ku tot < <(kernel_share "$T/nk.pprof")
note "--no-kernel: $k of $tot samples have kernel frames"
[ "$k" -eq 0 ] || fail "--no-kernel: $k samples with [kernel] frames"
raw=$(pp_raw "$T/nk.pprof")
if grep -q ' \[kernel\] ' <<<"$raw"; then
	fail "--no-kernel: a [kernel] mapping is present"
fi
pass
