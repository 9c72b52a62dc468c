#!/bin/bash
# Output formats and errors of cprof threads: pprof read by go tool pprof
# with one count per thread, json parsed, summary and debug1 totals, frame
# truncation, and the error cases with their exit status and hint.
set -u
: "${CPROF:?}" "${WORKLOAD_DIR:?}" "${TEST_TMP:?}"
source "$(dirname "$0")/lib.sh"	# its python3 (Debian's)
mkdir -p "$TEST_TMP"
T=$(mktemp -d "$TEST_TMP/threads_formats.XXXXXX")
WPID=
cleanup() { [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$WORKLOAD_DIR/parked_nofp" 60 > "$T/ready" &
WPID=$!
for _ in $(seq 100); do grep -q ready "$T/ready" && break; sleep 0.05; done
grep -q ready "$T/ready" || fail "parked_nofp did not start"
nthreads=$(ls /proc/"$WPID"/task | wc -l)

# --- pprof ----------------------------------------------------------------
"$CPROF" threads -p "$WPID" -f pprof -o "$T/t.pprof" || fail "pprof to a file"
[ "$(head -c 2 "$T/t.pprof" | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail "not gzip"
"$CPROF" threads -p "$WPID" -f pprof > "$T/t2.pprof" || fail "pprof to a pipe"
export HOME="$T/home" GOCACHE="$T/gocache" GOFLAGS=-mod=mod GOPROXY=off
mkdir -p "$HOME"
if command -v go > /dev/null; then
	go tool pprof -raw "$T/t.pprof" > "$T/raw" 2> "$T/raw.err" || { cat "$T/raw.err"; fail "go tool pprof"; }
	grep -q '^threads/count' "$T/raw" || fail "sample type is not threads/count"
	total=$(awk '/^Samples:/ {s=1; next} /^Locations/ {s=0} s && $1 ~ /^[0-9]+:$/ {n += $1} END {print n+0}' "$T/raw")
	[ "$total" = "$nthreads" ] || fail "pprof counts $total threads, /proc has $nthreads"
	for name in cond handler clock; do
		grep -q "thread_name:\[$name\]" "$T/raw" || fail "no thread_name label $name"
	done
	grep -q 'park_handler' "$T/raw" || fail "park_handler missing from the profile"
	go tool pprof -raw "$T/t2.pprof" > /dev/null 2>&1 || fail "pprof written to a pipe unreadable"
else
	fail "go is not installed"
fi
# Never binary on a terminal.
if command -v script > /dev/null; then
	script -qec "$CPROF threads -p $WPID -f pprof" /dev/null > "$T/tty" 2>&1
	st=$?
	[ "$st" = 64 ] || fail "pprof on a terminal: status $st, expected 64"
	grep -q "terminal" "$T/tty" || fail "pprof on a terminal: no message"
fi

# --- json, summary, debug1, text -------------------------------------------
"$CPROF" threads -p "$WPID" -f json > "$T/j" || fail "json"
python3 - "$T/j" "$nthreads" <<'PY' || fail "json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["threads"]) == int(sys.argv[2]), len(d["threads"])
for t in d["threads"]:
    for k in ("tid", "name", "state", "syscall", "cpu_ns", "frames"):
        assert k in t, k
    for f in t["frames"]:
        for k in ("address", "function", "file", "line", "module", "inlined"):
            assert k in f, k
assert any(f["inlined"] for t in d["threads"] for f in t["frames"])
PY
"$CPROF" threads -p "$WPID" -f summary > "$T/s" || fail "summary"
grep -q "^pid $WPID: $nthreads threads, " "$T/s" || fail "summary header: $(head -1 "$T/s")"
"$CPROF" threads -p "$WPID" -f debug1 > "$T/d" || fail "debug1"
grep -q "^threads profile: total $nthreads\$" "$T/d" || fail "debug1 header"
grep -qP '^#\t0x[0-9a-f]+\tpark_cond\+0x[0-9a-f]+\t.*parked.c:\d+$' "$T/d" || fail "debug1 frame lines"
"$CPROF" threads -p "$WPID" --max-frames 3 > "$T/m" || fail "--max-frames"
grep -q "additional frames elided" "$T/m" || fail "truncation not shown"
"$CPROF" threads -p "$WPID" -o "$T/out.txt" > "$T/stdout" || fail "-o text"
[ -s "$T/stdout" ] && fail "-o still wrote to stdout"
grep -q "^thread $WPID (parked_nofp)" "$T/out.txt" || fail "-o content"
"$CPROF" threads --help | grep -q "examples:" || fail "--help without examples"

# --- errors -----------------------------------------------------------------
expect() {	# status pattern args...
	local want=$1 pat=$2; shift 2
	"$CPROF" threads "$@" > "$T/o" 2> "$T/e"
	local st=$?
	[ "$st" = "$want" ] || { cat "$T/e"; fail "'$*': status $st, expected $want"; }
	grep -q -- "$pat" "$T/e" || { cat "$T/e"; fail "'$*': no '$pat' in the message"; }
}
expect 64 "no process given"
expect 64 "invalid --format" -p "$WPID" -f yaml
expect 64 "invalid --max-frames" -p "$WPID" --max-frames 0
expect 64 "invalid --unwinder" -p "$WPID" --unwinder gdb
expect 64 "unknown option" -p "$WPID" --frobnicate
expect 2 "no process with pid" -p 999999999
expect 2 "kernel thread" -p 2
grep -q "^hint:" "$T/e" || fail "no hint for a kernel thread"
# A child of a process that never waits: a zombie until its parent ends.
sh -c 'sleep 0.05 & exec sleep 10' & zparent=$!
sleep 0.4
zpid=$(pgrep -P "$zparent")
[ -n "$zpid" ] || fail "no zombie made"
expect 2 "zombie" -p "$zpid"
kill "$zparent"; wait "$zparent" 2>/dev/null
expect 2 "no such file\|cannot write" -p "$WPID" -o "$T/no/such/dir/x"
# Another user's process (we run as root; the dump runs as nobody).
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$CPROF" threads -p "$WPID" > "$T/o" 2> "$T/e"
	st=$?
	[ "$st" = 2 ] || { cat "$T/e"; fail "other user's process: status $st, expected 2"; }
	grep -q "CAP_SYS_PTRACE" "$T/e" || { cat "$T/e"; fail "permission hint lacks CAP_SYS_PTRACE"; }
	grep -q "ptrace_scope" "$T/e" || fail "permission hint lacks Yama ptrace_scope"
	grep -q "belongs to uid 0" "$T/e" || fail "permission hint lacks the owner"
fi
echo PASS
