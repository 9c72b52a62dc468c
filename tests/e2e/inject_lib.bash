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
#   inj_target_ok         end the target (SIGALRM: its own end), wait for it
#                         and check its own line

DRIVE=$(dirname "$CPROF")/inject_drive
DRIVE_ARGS=${DRIVE_ARGS:-}
[ -x "$DRIVE" ] || fail "the injector's driver is missing ($DRIVE)"
command -v readelf >/dev/null || fail "readelf not found (binutils)"

inj_maps() {
	awk '{
		anon = (NF < 6) || $6 == "[heap]"
		split($1, r, "-")
		if (anon) {
			if ($6 == "[heap]") { print r[1] " [heap]"; prev = ""; next }
			if (prev == r[1]) { prev = r[2]; next }
			if (cur != "") print cur "-" prev " anon"
			cur = r[1]; prev = r[2]; next
		}
		if (cur != "") print cur "-" prev " anon"
		cur = ""; prev = ""
		print
	}
	END { if (cur != "") print cur "-" prev " anon" }' "/proc/$1/maps"
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

inj_target_ok() {
	local rc=0
	kill -ALRM "$TPID" 2>/dev/null || true
	wait "$TPID" || rc=$?
	forget_bg "$TPID"
	grep -q "checksum=" "$T/target.out" || fail "the target printed no result (rc $rc): $(cat "$T/target.out")"
	[ "$rc" -eq 0 ] || fail "the target's own check failed (rc $rc): $(tail -1 "$T/target.out")"
	note "target: $(tail -1 "$T/target.out")"
}
