# inject_lib.bash - helpers of the injector's end-to-end tests
# (tests/e2e/inject_*.sh; source it after lib.sh and t_init).
#
#   DRIVE                 the injector's test driver (inject_drive beside $CPROF);
#                         the tests fail, not skip, when it is missing
#   DRIVE_ARGS            arguments given to it before the PID (none: the
#                         real sampler; --passthrough: hooks that only count)
#   inj_maps PID          /proc/PID/maps with runs of anonymous lines merged
#                         into one range ([heap] by its start): what a malloc
#                         loop changes by itself (arenas growing inside their
#                         reservations) is left out, a mapping more or less is not
#   inj_got PID           "MODULE NAME ADDR VALUE" for every GOT entry of the
#                         hooked names in every mapped module, found with
#                         readelf (independently of src/inject.c) and read
#                         from /proc/PID/mem
#   inj_start WORKLOAD ARGS...   start it, wait for "ready"; PID in $TPID,
#                         its output in $T/target.out
#   inj_attach_check W    attach to workload W, check the hooks are in place and
#                         sample, detach, check maps, GOT, the target's result
#   inj_target_ok         end the target (SIGALRM: its own end), wait for it
#                         and check its own line
#   inj_detach DPID [W]   end the driver (SIGTERM: it detaches), check that it
#                         exited 0 and left nothing mapped (W: a label for
#                         the messages)

DRIVE=$(dirname "$CPROF")/inject_drive
DRIVE_ARGS=${DRIVE_ARGS:-}
[ -x "$DRIVE" ] || fail "the injector's driver is missing ($DRIVE)"
command -v readelf >/dev/null || fail "readelf not found (binutils)"

inj_maps() {
	# A malloc loop's arenas grow while the file is read a page at a
	# time: a range read in one page may show up again, grown, in the
	# next (seen under ASan: 7f..0000-7f..0040000, then 7f..0000-7f..4000000).
	# Overlapping anonymous ranges are merged with the contiguous ones.
	# (Hex addresses compare as strings when of one length: no strtonum
	# in mawk.)
	awk 'function le(a, b) { return length(a) < length(b) || (length(a) == length(b) && a <= b) }
	function flush() { if (cur != "") print cur "-" end " anon"; cur = "" }
	{
		anon = (NF < 6) || $6 == "[heap]"
		split($1, r, "-")
		if (anon) {
			if ($6 == "[heap]") { flush(); print r[1] " [heap]"; next }
			if (cur != "" && le(r[1], end)) {
				if (!le(r[2], end)) end = r[2]
				next
			}
			flush()
			cur = r[1]; end = r[2]; next
		}
		flush()
		print
	}
	END { flush() }' "/proc/$1/maps"
}

inj_got() {
	T=$T python3 - "$1" <<'PY'
import os, re, subprocess, sys
pid = sys.argv[1]
names = {"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
         "aligned_alloc", "memalign", "valloc", "pvalloc"}
first = {}
for line in open(f"/proc/{pid}/maps"):
    f = line.split()
    if len(f) < 6 or not f[5].startswith("/") or f[5].startswith("/memfd:"):
        continue
    start = int(f[0].split("-")[0], 16)
    if int(f[2], 16) == 0 and f[5] not in first:
        first[f[5]] = start
mem = open(f"/proc/{pid}/mem", "rb")
for path, start in sorted(first.items()):
    real = f"/proc/{pid}/root{path}"
    # readelf's output kept per file (its device and inode): the same
    # libc is read for every target of a test.
    try:
        st = os.stat(real)
    except OSError:
        continue
    cache = os.path.join(os.environ["T"], f"readelf.{st.st_dev}.{st.st_ino}")
    if os.path.exists(cache):
        hdr, rel = open(cache).read().split("\0")
    else:
        hdr = subprocess.run(["readelf", "-lhW", real], capture_output=True,
                             text=True).stdout
        rel = subprocess.run(["readelf", "-rW", real], capture_output=True,
                             text=True).stdout
        open(cache, "w").write(hdr + "\0" + rel)
    loads = [int(m.group(1), 16) for m in
             re.finditer(r"^\s*LOAD\s+0x[0-9a-f]+\s+0x([0-9a-f]+)", hdr, re.M)]
    if not loads:
        continue
    bias = 0 if "EXEC (Executable" in hdr else start - (min(loads) & ~0xfff)
    for m in re.finditer(r"^([0-9a-f]+)\s+[0-9a-f]+\s+R_X86_64_(JUMP_SLO|GLOB_DAT)\w*"
                         r"\s+[0-9a-f]+\s+(\w+)", rel, re.M):
        if m.group(3) not in names:
            continue
        addr = bias + int(m.group(1), 16)
        mem.seek(addr)
        v = int.from_bytes(mem.read(8), "little")
        print(os.path.basename(path), m.group(3), hex(addr), hex(v))
PY
}

inj_start() {
	local w=$1
	shift
	: > "$T/target.out"
	start_bg "$WORKLOAD_DIR/$w" "$@" > "$T/target.out"
	TPID=$BG_PID
	wait_for 20 "$w to start" grep -q ready "$T/target.out"
}

inj_detach() {
	local d=$1 w=${2:+$2: }
	kill -TERM "$d"
	wait "$d" || fail "${w}the driver failed: $(cat "$T/drive.out")"
	forget_bg "$d"
	grep -q '^detached .*left_mapped=0' "$T/drive.out" || fail "${w}$(tail -1 "$T/drive.out")"
}

inj_target_ok() {
	local rc=0
	kill -ALRM "$TPID" 2>/dev/null || true
	wait "$TPID" || rc=$?
	forget_bg "$TPID"
	grep -q "checksum=" "$T/target.out" || fail "the target printed no result (rc $rc): $(cat "$T/target.out")"
	[ "$rc" -eq 0 ] || fail "the target's own check failed (rc $rc): $(tail -1 "$T/target.out")"
	note "target: $(tail -1 "$T/target.out")"
}

# inj_attach_check WORKLOAD: attach to it while it runs its malloc loop,
# check that malloc's GOT entry points into the blob and samples come,
# detach, and check maps and GOT as before and the target's own result.
inj_attach_check() {
	local w=$1 base hooked samples tr mod name val DPID
	inj_start "$w" 290
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
	# The private area (anonymous, after code and shared area) is wiped
	# in a fork (VmFlags wf), so a child's hooks start off.
	python3 - "$TPID" "$base" <<'PYEOF' ||
import sys
pid, base = sys.argv[1], int(sys.argv[2], 16)
blob = False
for line in open(f"/proc/{pid}/smaps"):
    f = line.split()
    if "-" in f[0] and ":" not in f[0]:
        lo = int(f[0].split("-")[0], 16)
        blob = base <= lo < base + (8 << 20) and len(f) == 5
    elif blob and f[0] == "VmFlags:" and "wf" in f[1:]:
        sys.exit(0)
sys.exit(1)
PYEOF
		fail "$w: the sampler's private area is not MADV_WIPEONFORK"
	sleep 0.5
	inj_detach "$DPID" "$w"
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
}
