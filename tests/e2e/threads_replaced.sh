#!/bin/bash
# Files deleted or replaced while the process runs, as a package upgrade
# does to every daemon (docs/design.md §4.3). The replaced workload spends
# its time in a library of ours, loaded from a copy:
#   1. the copy deleted, and another file renamed over the running binary;
#   2. another build of the library (other code) renamed over the copy;
# cprof threads must give every thread the frames eu-stack gives (same
# return addresses, same names where eu-stack names them), through the
# library to main and to the threads' start, complete, both unwinders.
#   3. a library without .eh_frame (.debug_frame only), deleted, in a
# process of nobody dumped by nobody, who may not open
# /proc/PID/map_files: the stacks stop in the library, and every format
# says so, and the exit status is 1; root reads the deleted file through
# map_files and libdw unwinds to main with its .debug_frame (libunwind
# reads no .debug_frame: incomplete there too, and said so).
# CASES (default "1 2 3") runs some of them.
set -u
source "$(dirname "$0")/lib.sh"
t_init
CASES=${CASES:-1 2 3}
has_case() { [[ " $CASES " == *" $1 "* ]]; }

command -v eu-stack >/dev/null || fail "eu-stack missing (apt-get install elfutils)"
command -v setpriv >/dev/null || fail "setpriv missing (apt-get install util-linux)"

start() {	# start ARGS...: the workload, until its "ready" line
	: > "$T/ready"
	start_bg "$@" > "$T/ready"
	WPID=$BG_PID
	wait_for 10 "the replaced workload to start" grep -q ready "$T/ready"
}

# One line per thread, "TID ADDR NAME ADDR NAME ...", from eu-stack's
# "TID n:" and "#k 0xADDR [name]" lines (a missing name is "-", symbol
# versions dropped).
eustack_frames() {
	timeout 60 eu-stack -p "$1" > "$T/eu.txt" 2> "$T/eu.err" ||
		{ cat "$T/eu.txt" "$T/eu.err"; fail "$2: eu-stack failed"; }
	python3 - "$T/eu.txt" <<'PY'
import re, sys
tid, out = None, {}
for line in open(sys.argv[1]):
    m = re.match(r'^TID (\d+):', line)
    if m:
        tid = int(m.group(1)); out[tid] = []
        continue
    m = re.match(r'^#\d+\s+0x([0-9a-f]+)(?:\s+(\S+))?', line)
    if m and tid is not None:
        name = (m.group(2) or '-').split('@')[0]
        out[tid] += [int(m.group(1), 16), name]
for t in sorted(out):
    print(t, ' '.join(str(x) for x in out[t]))
PY
}

# Compares cprof threads -f json ($1) with eu-stack's frames ($2): the same
# threads, the same return addresses (the leaf of the spinning main thread
# aside: it moved between the two stops), the same names where eu-stack
# has one, the library's functions named in order, every stack complete.
same_as_eustack() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
eu = {}
for line in open(sys.argv[2]):
    f = line.split()
    eu[int(f[0])] = list(zip([int(a) for a in f[1::2]], f[2::2]))
ours = {}
for t in d['threads']:
    assert t.get('incomplete') is None, (t['tid'], t['incomplete'])
    ours[t['tid']] = [(int(f['address'], 16), f['function'] or '-')
                      for f in t['frames'] if not f['inlined']]
show = lambda v: ' '.join('%x:%s' % x for x in v)
assert sorted(ours) == sorted(eu), ('threads', sorted(ours), sorted(eu))
for tid in ours:
    a, b = ours[tid], eu[tid]
    spinning = tid == d['pid']
    assert len(a) == len(b), 'thread %d: %d frames, eu-stack %d: %s | eu-stack %s' % (
        tid, len(a), len(b), show(a), show(b))
    for i, ((pa, na), (pb, nb)) in enumerate(zip(a, b)):
        if not (spinning and i == 0):
            assert pa == pb, 'thread %d frame %d: %s | eu-stack %s' % (tid, i, show(a), show(b))
        if nb != '-' and (nb.startswith('rl_') or nb == 'main'):
            assert na == nb, (tid, i, na, nb)
    names = ' '.join(n for _, n in a)
    want = ('rl_spin_c rl_spin_b rl_spin_a main' if spinning else
            'rl_park_c rl_park_b rl_park_a rl_park_thread start_thread')
    assert want in names, (tid, names)
print(len(ours), 'threads,', sum(len(v) for v in ours.values()), 'frames')
PY
}

# Dumps $WPID with both unwinders and compares each with eu-stack.
check_dumps() {
	local what=$1 unwinder out err rc
	eustack_frames "$WPID" "$what" > "$T/eu.frames"
	for unwinder in libdw libunwind; do
		run_cprof out err rc threads -p "$WPID" -f json --unwinder "$unwinder"
		[ "$rc" = 0 ] || { echo "$err"; fail "$what: cprof threads --unwinder $unwinder exited $rc"; }
		[ -z "$err" ] || fail "$what: cprof threads --unwinder $unwinder warned: $err"
		printf '%s\n' "$out" > "$T/cprof.json"
		res=$(same_as_eustack "$T/cprof.json" "$T/eu.frames" 2>&1) ||
			{ cat "$T/eu.txt"; echo "$res"; fail "$what: --unwinder $unwinder differs from eu-stack"; }
		note "$what, --unwinder $unwinder: as eu-stack ($res)"
	done
	tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$WPID/status")
	[ "$tracer" = 0 ] || fail "$what: target still traced by $tracer"
}

# --- 1. library deleted, binary replaced ------------------------------------
if has_case 1; then
mkdir -p "$T/bin1" "$T/lib1"
cp "$WORKLOAD_DIR/replaced_nofp" "$T/bin1/replaced"
cp "$WORKLOAD_DIR/libreplaced_a.so" "$T/lib1/libreplaced.so"
start "$T/bin1/replaced" "$T/lib1/libreplaced.so" 120
rm "$T/lib1/libreplaced.so"
cp "$WORKLOAD_DIR/spin_nofp" "$T/bin1/.new" && mv "$T/bin1/.new" "$T/bin1/replaced"
grep -q 'libreplaced.so (deleted)' "/proc/$WPID/maps" || fail "the library is not shown deleted"
grep -q 'bin1/replaced (deleted)' "/proc/$WPID/maps" || fail "the binary is not shown deleted"
check_dumps "library deleted, binary replaced"
stop_bg "$WPID"
fi

# --- 2. another build of the library renamed over it ------------------------
if has_case 2; then
mkdir -p "$T/lib2"
cp "$WORKLOAD_DIR/libreplaced_a.so" "$T/lib2/libreplaced.so"
start "$WORKLOAD_DIR/replaced_nofp" "$T/lib2/libreplaced.so" 120
cp "$WORKLOAD_DIR/libreplaced_b.so" "$T/lib2/.new" && mv "$T/lib2/.new" "$T/lib2/libreplaced.so"
check_dumps "library replaced by another build"
stop_bg "$WPID"
fi

# --- 3. no unwind information to be found ------------------------------------
if has_case 3; then
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
mkdir -p "$T/lib3"
chmod 755 "$T" "$T/lib3"
cp "$WORKLOAD_DIR/libreplaced_nocfi.so" "$T/lib3/libreplaced.so"
chmod 644 "$T/lib3/libreplaced.so"
start "${NOBODY[@]}" "$WORKLOAD_DIR/replaced_nofp" "$T/lib3/libreplaced.so" 120
rm "$T/lib3/libreplaced.so"
"${NOBODY[@]}" cat "/proc/$WPID/map_files/$(awk '/libreplaced/ { print $1; exit }' "/proc/$WPID/maps")" \
	> /dev/null 2>&1 && fail "nobody may read map_files: this case tests nothing"

for fmt in text json summary debug1 pprof; do
	"${NOBODY[@]}" "$CPROF" threads -p "$WPID" -f "$fmt" > "$T/nb.$fmt" 2> "$T/nb.$fmt.err"
	rc=$?
	[ "$rc" = 1 ] || { cat "$T/nb.$fmt" "$T/nb.$fmt.err"; fail "as nobody, -f $fmt: exit status $rc, not 1 (partial)"; }
	grep -q '^cprof: warning: 3 of 3 stacks incomplete, the first in thread [0-9]*: no unwind information for 0x[0-9a-f]* (libreplaced.so (deleted))$' "$T/nb.$fmt.err" &&
		grep -q '^hint: .*/proc/[0-9]*/map_files' "$T/nb.$fmt.err" ||
		{ cat "$T/nb.$fmt.err"; fail "as nobody, -f $fmt: no warning and hint"; }
done
n=$(grep -c '^  \.\.\.stack incomplete: no unwind information for 0x[0-9a-f]* (libreplaced.so (deleted))$' "$T/nb.text")
[ "$n" = 3 ] || { cat "$T/nb.text"; fail "text: $n incomplete stacks, not 3"; }
grep -q '^pid [0-9]*: 3 threads, [0-9]* distinct stacks, 3 incomplete$' "$T/nb.summary" ||
	{ cat "$T/nb.summary"; fail "summary: no count of incomplete stacks"; }
grep -q '^# \.\.\.stack incomplete: no unwind information for ' "$T/nb.debug1" ||
	{ cat "$T/nb.debug1"; fail "debug1: no incomplete line"; }
pp_raw "$T/nb.pprof" | grep -q '^Comment: 3 of 3 stacks incomplete' ||
	{ pp_raw "$T/nb.pprof" | head -20; fail "pprof: no comment counting the incomplete stacks"; }
python3 - "$T/nb.json" "$T/lib3/libreplaced.so (deleted)" <<'PY' || { cat "$T/nb.json"; fail "json: incomplete stacks not described"; }
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d['threads']) == 3
for t in d['threads']:
    inc = t['incomplete']
    assert inc and inc['reason'] == 'no_unwind_info', t
    assert inc['module'] == sys.argv[2], inc
    last = [f for f in t['frames'] if not f['inlined']][-1]
    assert last['address'] == inc['address'] and last['module'] == sys.argv[2], (last, inc)
    # nothing guessed past it: no frame of the program's own
    assert not any(f['function'] in ('main', 'start_thread') for f in t['frames']), t
PY
note "as nobody: every stack stops in the deleted library, said in every format, exit status 1"

# Root may read the deleted file: libdw unwinds with its .debug_frame...
run_cprof out err rc threads -p "$WPID" -f json --unwinder libdw
[ "$rc" = 0 ] || { echo "$err"; fail "as root, libdw: exit status $rc"; }
python3 - <<PY || { echo "$out"; fail "as root, libdw: stacks not complete through the deleted library"; }
import json
d = json.loads('''$out''')
for t in d['threads']:
    assert t['incomplete'] is None, t
    names = ' '.join(f['function'] or '-' for f in t['frames'])
    assert ('rl_spin_c rl_spin_b rl_spin_a main' in names or
            'rl_park_c rl_park_b rl_park_a rl_park_thread start_thread' in names), names
PY
# ...which libunwind cannot read: incomplete, and it says so.
run_cprof out err rc threads -p "$WPID" --unwinder libunwind
[ "$rc" = 1 ] && grep -q '^  \.\.\.stack incomplete: no unwind information for 0x[0-9a-f]* (libreplaced.so (deleted))$' <<<"$out" ||
	{ echo "$out"; echo "$err"; fail "as root, libunwind: the stacks without CFI are not said incomplete (status $rc)"; }
note "as root: libdw complete through the deleted file's .debug_frame, libunwind says incomplete"
tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$WPID/status")
[ "$tracer" = 0 ] || fail "target still traced by $tracer"
stop_bg "$WPID"
fi
pass
