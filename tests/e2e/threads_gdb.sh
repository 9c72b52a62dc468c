#!/bin/bash
# cprof threads against gdb on the parked workload built without frame
# pointers: for every thread, the sequence of the workload's own functions
# (inlined one included) must equal gdb's 'thread apply all bt', and the
# blocking system calls must be named. Both unwinders, both modes.
set -u
: "${CPROF:?}" "${WORKLOAD_DIR:?}" "${TEST_TMP:?}"
source "$(dirname "$0")/lib.sh"	# its python3 (Debian's)
mkdir -p "$TEST_TMP"
T=$(mktemp -d "$TEST_TMP/threads_gdb.XXXXXX")
WPID=
cleanup() { [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v gdb >/dev/null || { apt-get install -y gdb >/dev/null 2>&1 || fail "gdb missing"; }

"$WORKLOAD_DIR/parked_nofp" 280 > "$T/ready" &
WPID=$!
for _ in $(seq 100); do grep -q ready "$T/ready" && break; sleep 0.05; done
grep -q ready "$T/ready" || fail "parked_nofp did not start"

OWN='main|thread_main|level_a|level_b|park_cond|wait_inlined|park_sleep|park_pipe|park_busy|park_handler|on_usr1|handler_sleep|park_clock'

# gdb first; it detaches when done.
timeout 60 gdb -p "$WPID" -batch -ex 'thread apply all bt' > "$T/gdb.txt" 2>/dev/null ||
	fail "gdb failed"
python3 - "$T/gdb.txt" "$OWN" > "$T/gdb.own" <<'PY' || fail "cannot parse gdb output"
import re, sys
own = set(sys.argv[2].split('|'))
tid, seqs = None, {}
for line in open(sys.argv[1]):
    m = re.match(r'^Thread \d+ \(.*LWP (\d+)\)', line)
    if m:
        tid = int(m.group(1)); seqs[tid] = []
        continue
    m = re.match(r'^#\d+\s+(?:0x[0-9a-f]+ in )?([A-Za-z_][\w.]*) \(', line)
    if m and tid is not None and m.group(1) in own:
        seqs[tid].append(m.group(1))
for t in sorted(seqs):
    print(t, ' '.join(seqs[t]))
PY
[ "$(wc -l < "$T/gdb.own")" -eq 7 ] || { cat "$T/gdb.txt"; fail "gdb saw $(wc -l < "$T/gdb.own") threads, expected 7"; }
grep -q 'wait_inlined park_cond level_b level_a thread_main' "$T/gdb.own" ||
	fail "gdb output lacks the inlined frame: $(cat "$T/gdb.own")"

for unwinder in libunwind libdw; do
	for mode in "" --one-at-a-time; do
		what="--unwinder $unwinder $mode"
		timeout 60 "$CPROF" threads -p "$WPID" -f json --unwinder "$unwinder" $mode \
			> "$T/cprof.json" 2> "$T/cprof.err" || { cat "$T/cprof.err"; fail "cprof threads $what"; }
		python3 - "$T/cprof.json" "$OWN" > "$T/cprof.own" <<'PY' || fail "bad json ($what)"
import json, sys
own = set(sys.argv[2].split('|'))
d = json.load(open(sys.argv[1]))
for t in sorted(d['threads'], key=lambda t: t['tid']):
    print(t['tid'], ' '.join(f['function'] for f in t['frames'] if f['function'] in own))
PY
		if ! diff -u "$T/gdb.own" "$T/cprof.own"; then
			fail "own functions differ from gdb ($what)"
		fi
		# Blocking system calls by name (a sleep restarted after an
		# earlier stop shows as restart_syscall).
		python3 - "$T/cprof.json" <<'PY' || fail "system calls ($what)"
import json, sys
d = json.load(open(sys.argv[1]))
by = {t['name']: t for t in d['threads']}
assert by['pipe']['syscall'] == 'read', by['pipe']
assert by['cond']['syscall'] == 'futex', by['cond']
assert by['sleep']['syscall'] in ('clock_nanosleep', 'nanosleep', 'restart_syscall'), by['sleep']
assert by['cond']['state'] == 'sleeping'
assert d['threads'][0]['tid'] == d['pid']
PY
		echo "ok: $what"
	done
done
tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$WPID/status")
[ "$tracer" = 0 ] || fail "target still traced by $tracer"
echo "PASS"
