#!/bin/bash
# record_command: `cprof record -- COMMAND ARGS` runs the command, lets its
# output through, reports its exit status and writes a valid profile of it;
# a command that does not exist is an error with a hint and no file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/calltree_nofp"
prof="$T/cmd.pprof"
rc=0
# A fixed amount of work (800 rounds, ~1.2 s of CPU), not a time: on a
# loaded machine 2 s of wall gave fewer than 500 samples.
"$CPROF" record -F 999 -o "$prof" -- "$wl" 60 1 800 >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 0 ] || fail "cprof record -- calltree_nofp 60 1 800 exited $rc: $(cat "$T/err")"
grep -q '^calltree: done (1 thread), cpu [0-9.]* s work [0-9.]* s, ended at [0-9.]*$' "$T/out" ||
	fail "workload output did not pass through to stdout: $(cat "$T/out")"
# stdout carries the command's data only
[ "$(wc -l <"$T/out")" -eq 1 ] || fail "stdout has more than the workload's line: $(cat "$T/out")"
check_profile "$prof"
pp_stacks "$prof" >"$T/cmd.stacks"
# ~1.2 s of CPU at 999 Hz, ~1200 samples however busy the machine; the
# shares are checked closely by record_calltree, here only roughly
enough_samples "command mode" "$T/cmd.stacks" 500
n=$(sample_count "$T/cmd.stacks")
# The events are enabled at exec: the profile's CPU time plus what the kernel
# dropped accounts for the CPU time the command reports for itself.
cpu=$(sed -n 's/.*, cpu \([0-9.]*\) s work .*/\1/p' "$T/out")
check_accounting "command mode" "$prof" "$(awk -v c="$cpu" 'BEGIN { printf "%d", c * 1000 }')"
sa=$(pp_share "$T/cmd.stacks" a run)
within "$sa" 50 5 || fail "a has $sa% of run, want 50±5"
within "$(pp_share "$T/cmd.stacks" main)" 100 5 || fail "main missing from command samples"
note "command mode: $n samples, a $sa% of run"
# the summary says where the profile went (on stderr: -q was not given)
grep -q "$prof" "$T/err" || fail "summary does not name the output file: $(cat "$T/err")"

# the exit status of the command is reported: as cprof's own status or in
# its messages
rc=0
"$CPROF" record -o "$T/st.pprof" -- sh -c "echo from-sh; $wl 1 >/dev/null; exit 7" >"$T/out" 2>"$T/err" || rc=$?
grep -qx from-sh "$T/out" || fail "sh output did not pass through"
if [ "$rc" -ne 7 ]; then
	grep -Eqi 'exit.*\b7\b|status.*\b7\b' "$T/err" ||
		fail "exit status 7 of the command is not reported (cprof exited $rc): $(cat "$T/err")"
fi
check_profile "$T/st.pprof"
note "command exiting 7: cprof exited $rc, said: $(tr '\n' ' ' <"$T/err")"

# a command that exits at once is recorded too (nothing sampled, but a
# valid profile): the child waits for cprof before it execs
# (several times: the command may be gone before cprof reads its modules)
for i in 1 2 3 4 5 6 7 8 9 10; do
	rc=0
	"$CPROF" record -o "$T/true.pprof" -- true >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq 0 ] || fail "cprof record -- true exited $rc (run $i): $(cat "$T/err")"
	check_profile "$T/true.pprof"
done

# a command killed by a signal is reported as such
rc=0
"$CPROF" record -o "$T/sig.pprof" -- sh -c 'kill -TERM $$' >"$T/out" 2>"$T/err" || rc=$?
grep -Eqi 'signal|terminated|SIGTERM' "$T/err" || [ "$rc" -eq 143 ] ||
	fail "command killed by SIGTERM not reported (cprof exited $rc): $(cat "$T/err")"

# command not found
for cmd in /nonexistent/prog no-such-command-cprof-e2e; do
	d="$T/nf-$(basename "$cmd")"
	mkdir "$d"
	run_cprof out err rc record -o "$d/out.pprof" -- "$cmd"
	[ "$rc" -ne 0 ] || fail "'$cmd': exit 0"
	grep -q '^cprof: ' <<<"$err" || fail "'$cmd': no 'cprof:' line: $err"
	grep -Fq "$cmd" <<<"$err" || fail "'$cmd': message does not name the command: $err"
	grep -Eqi 'not found|no such file' <<<"$err" || fail "'$cmd': message does not say not found: $err"
	grep -q '^hint: ' <<<"$err" || fail "'$cmd': no hint line: $err"
	[ -z "$(ls -A "$d")" ] || fail "'$cmd': files left behind: $(ls -A "$d")"
done
pass
