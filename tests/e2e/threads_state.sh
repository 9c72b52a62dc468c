#!/bin/bash
# A stopped target (SIGSTOP, state T) stays stopped after a dump and runs
# again on SIGCONT; a target traced by another process (strace, else a
# ptrace holder of our own) is refused with the tracer's pid named.
set -u
: "${CPROF:?}" "${WORKLOAD_DIR:?}" "${TEST_TMP:?}"
mkdir -p "$TEST_TMP"
T=$(mktemp -d "$TEST_TMP/threads_state.XXXXXX")
WPID= HPID=
cleanup() {
	[ -n "$HPID" ] && kill -9 "$HPID" 2>/dev/null
	[ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null
	wait 2>/dev/null; rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
states() { for f in /proc/"$WPID"/task/*/stat; do sed 's/.*) //' "$f" | cut -d' ' -f1; done | sort | uniq -c | tr -s ' \n' ' '; }

"$WORKLOAD_DIR/parked_nofp" 60 > "$T/ready" &
WPID=$!
for _ in $(seq 100); do grep -q ready "$T/ready" && break; sleep 0.05; done
grep -q ready "$T/ready" || fail "parked_nofp did not start"

# --- stopped target -------------------------------------------------------
kill -STOP "$WPID"
for _ in $(seq 100); do [ "$(states)" = " 7 T " ] && break; sleep 0.02; done
[ "$(states)" = " 7 T " ] || fail "SIGSTOP did not stop every thread: $(states)"
for mode in "" --one-at-a-time "--unwinder libunwind"; do
	"$CPROF" threads -p "$WPID" $mode > "$T/out" 2> "$T/err" || { cat "$T/err"; fail "dump of a stopped target ($mode)"; }
	grep -q "^thread $WPID (parked_nofp) \[stopped" "$T/out" || fail "state not shown as stopped ($mode)"
	grep -q "park_cond" "$T/out" || fail "no stack for a stopped target ($mode)"
	sleep 0.05
	[ "$(states)" = " 7 T " ] || fail "target not stopped after the dump ($mode): $(states)"
done
kill -CONT "$WPID"
for _ in $(seq 100); do grep -q ' T ' <<< "$(states)" || break; sleep 0.02; done
grep -q ' T ' <<< "$(states)" && fail "target did not resume on SIGCONT: $(states)"
echo "ok: stopped target stays stopped"

# --- traced target --------------------------------------------------------
if command -v strace > /dev/null; then
	strace -p "$WPID" -o /dev/null &
	HPID=$!
else
	cat > "$T/hold.c" <<'C'
#include <stdlib.h>
#include <sys/ptrace.h>
#include <unistd.h>
int main(int argc, char **argv) {
	alarm(30);
	if (ptrace(PTRACE_SEIZE, atoi(argv[1]), 0L, 0L) < 0) return 1;
	pause();
	return 0;
}
C
	cc -o "$T/hold" "$T/hold.c" || fail "cannot build the ptrace holder"
	"$T/hold" "$WPID" &
	HPID=$!
fi
for _ in $(seq 100); do [ "$(awk '/^TracerPid:/ {print $2}' "/proc/$WPID/status")" = "$HPID" ] && break; sleep 0.02; done
[ "$(awk '/^TracerPid:/ {print $2}' "/proc/$WPID/status")" = "$HPID" ] || fail "the tracer did not attach"
"$CPROF" threads -p "$WPID" > "$T/out" 2> "$T/err"
st=$?
[ "$st" = 2 ] || fail "traced target: exit status $st, expected 2"
grep -q "already traced by pid $HPID" "$T/err" || { cat "$T/err"; fail "the tracer pid is not named"; }
grep -q "^hint:" "$T/err" || fail "no hint for a traced target"
[ -s "$T/out" ] && fail "output on stdout for a failed dump"
kill "$HPID"; wait "$HPID" 2>/dev/null; HPID=
echo "ok: traced target refused: $(head -1 "$T/err")"
echo PASS
