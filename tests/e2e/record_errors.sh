#!/bin/bash
# record_errors: every error of issue 2 requirement 8 gives one "cprof: ..."
# line naming the problem, a "hint: ..." line, the documented exit status
# (64 for a bad command line, 2 for anything else) and no file: neither the
# output nor a temporary file is left in the output directory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/calltree_nofp"
# The live target of the cases below: a process that sleeps (no case
# samples it; a spinning one took a CPU from the machine the whole test).
start_bg sleep 280
live=$BG_PID
wait_exec "$live" "$(command -v sleep)"

ncase=0
nbad=0
# expect NAME WANT_RC REGEX ARGS... : runs cprof in a fresh empty directory
# (also its cwd, for the default cpu.pprof) with -o DIR/out.pprof appended
# after "record" unless ARGS bring their own -o.
expect() {
	local name=$1 want=$2 re=$3 out err rc d
	shift 3
	ncase=$((ncase + 1))
	d="$T/case$ncase"
	mkdir "$d"
	local args=("$@")
	if [ "${args[0]}" = record ] && ! printf '%s\n' "${args[@]}" | grep -qx -- -o; then
		args=(record -o "$d/out.pprof" "${args[@]:1}")
	fi
	rc=0
	(cd "$d" && exec "$CPROF" "${args[@]}") >"$T/out" 2>"$T/err" || rc=$?
	err=$(cat "$T/err")
	local why=
	if [ "$rc" -ne "$want" ]; then
		why="exit $rc, want $want"
	elif ! head -1 <<<"$err" | grep -q '^cprof: '; then
		why="first line is not 'cprof: ...'"
	elif ! grep -Eqi -- "$re" <<<"$(head -1 <<<"$err")"; then
		why="message does not match /$re/"
	elif ! grep -q '^hint: ' <<<"$err"; then
		why="no 'hint:' line"
	elif [ -s "$T/out" ]; then
		why="something on stdout: $(cat "$T/out")"
	elif [ -n "$(ls -A "$d")" ]; then
		why="files left behind: $(ls -A "$d")"
	fi
	if [ -n "$why" ]; then
		# go on: one run shows every case that is wrong
		echo "BAD: $name: $why; stderr was: $err" >&2
		nbad=$((nbad + 1))
	else
		note "ok: $name -> $(head -1 <<<"$err")"
	fi
}

# no such process: a PID above every live one, under pid_max
pid_max=$(cat /proc/sys/kernel/pid_max)
gone=$((pid_max - 1))
while [ -e "/proc/$gone" ]; do gone=$((gone - 1)); done
expect "no such pid" 2 "$gone.*(no such|not exist|not found)|(no such|not exist|not found|no process).*$gone" record -p "$gone" --seconds 1

expect "kernel thread" 2 'kernel thread' record -p 2 --seconds 1

# zombie: sh forks a short sleep, then execs a long one that never reaps it
start_bg sh -c 'sleep 0.1 & exec sleep 20'
parent=$BG_PID
zombie=
t_find_zombie() {
	local c
	for c in $(cat "/proc/$parent/task/$parent/children" 2>/dev/null); do
		if [ "$(awk '{ print $3 }' "/proc/$c/stat" 2>/dev/null)" = Z ]; then
			zombie=$c
			return 0
		fi
	done
	return 1
}
wait_for 10 "a zombie child of $parent" t_find_zombie
t_find_zombie
expect "zombie" 2 "zombie" record -p "$zombie" --seconds 1
stop_bg "$parent"

# a thread id (it has a /proc entry too) is not a process id
start_bg "$wl" 280 2
mt=$BG_PID
wait_exec "$mt" "$wl"
t_second_thread() { [ "$(ls "/proc/$mt/task" | wc -l)" -ge 2 ]; }
wait_for 10 "a second thread of $mt" t_second_thread
tid=$(ls "/proc/$mt/task" | grep -vx "$mt" | head -1)
expect "thread id" 2 "$tid.*thread of process $mt" record -p "$tid" --seconds 1
stop_bg "$mt"

for s in 0 -1 abc 1x ""; do
	expect "--seconds '$s'" 64 'seconds' record -p "$live" --seconds "$s"
done
max=$(cat /proc/sys/kernel/perf_event_max_sample_rate)
for f in 0 -5 abc; do
	expect "-F '$f'" 64 '-F|freq' record -p "$live" --seconds 1 -F "$f"
done
expect "-F above the limit" 64 "$max" record -p "$live" --seconds 1 -F $((max + 1))
expect "--call-graph bogus" 64 'call-graph' record -p "$live" --seconds 1 --call-graph bogus
expect "--profile bogus" 64 'profile.*cpu, block, mutex, wall, heap or allocs' record -p "$live" --seconds 1 --profile bogus
for ss in 13 0 70000 abc; do
	expect "--stack-size '$ss'" 64 'stack-size' record -p "$live" --seconds 1 --stack-size "$ss"
done
expect "-p and a command" 64 'exclusive|both|and a command|not both' record -p "$live" --seconds 1 -- "$wl" 1
expect "neither -p nor a command" 64 'pid|command' record --seconds 1
expect "bad pid" 64 'pid' record -p abc --seconds 1

# output location, checked before recording
expect "output dir missing" 2 "$T/nodir" record -p "$live" --seconds 1 -o "$T/nodir/out.pprof"
[ ! -e "$T/nodir" ] || fail "output dir was created"
expect "output under a file" 2 "/etc/passwd" record -p "$live" --seconds 1 -o /etc/passwd/cpu.pprof
expect "output dir not writable" 2 "/proc" record -p "$live" --seconds 1 -o /proc/cprof-e2e.pprof
# a directory root cannot write to either: immutable (ext4 and others)
imm="$T/immutable"
mkdir "$imm"
if chattr +i "$imm" 2>/dev/null; then
	expect "output dir immutable" 2 "$imm" record -p "$live" --seconds 1 -o "$imm/out.pprof"
	chattr -i "$imm"
	[ -z "$(ls -A "$imm")" ] || fail "immutable dir: files appeared"
else
	note "no chattr +i on this file system: immutable directory case not run"
fi
expect "command not found" 2 'no-such-cmd-e2e.*not found|not found.*no-such-cmd-e2e' record -- no-such-cmd-e2e

# a command whose events cannot be opened (no fd left for them): cprof must
# let go of the waiting child and exit 2, not wait for it forever
rc=0
# (fds 0-2 only, and a limit of 7: room for the two pipes to the child, not
# for the events)
timeout 20 bash -c 'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -le 2 ] || eval "exec $n>&-"; done
	ulimit -n 7; exec "$0" record -o "$1/fd.pprof" -- "$2" 1' \
	"$CPROF" "$T" "$wl" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 124 ] || fail "command mode, events not opened: cprof hung waiting for the child"
[ "$rc" -eq 2 ] || fail "command mode, events not opened: exit $rc, want 2: $(cat "$T/err")"
grep -q '^hint: ' "$T/err" || fail "command mode, events not opened: no hint: $(cat "$T/err")"
[ ! -e "$T/fd.pprof" ] || fail "command mode, events not opened: a profile was written"
note "ok: command, no fds -> $(head -1 "$T/err")"

# no permission: nobody against a root process. cprof and the output dir
# live where nobody can reach them.
pd=$(mktemp -d /tmp/cprof-e2e-perm.XXXXXX)
rm_on_exit "$pd"
chmod 755 "$pd"
cp "$CPROF" "$pd/cprof"
mkdir -m 1777 "$pd/out"
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid)
rc=0
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$pd/cprof" record -p "$live" --seconds 1 -o "$pd/out/out.pprof" >"$T/out" 2>"$T/err" || rc=$?
err=$(cat "$T/err")
[ "$rc" -eq 2 ] || fail "nobody vs root process: exit $rc, want 2: $err"
grep -q '^cprof: ' <<<"$err" || fail "permission: no 'cprof:' line: $err"
grep -Eqi 'permission|not permitted|denied' <<<"$err" || fail "permission: the message does not say so: $err"
grep -q '^hint: ' <<<"$err" || fail "permission: no hint line: $err"
grep -q "perf_event_paranoid" <<<"$err" || fail "permission: perf_event_paranoid not named: $err"
grep -q "$paranoid" <<<"$err" || fail "permission: the current paranoid value $paranoid is not given: $err"
grep -Eq 'CAP_PERFMON|CAP_SYS_PTRACE|root' <<<"$err" || fail "permission: neither root nor a capability is named: $err"
grep -q 'another user' <<<"$err" || fail "permission: the real cause (another user's process) is not named: $err"
[ -z "$(ls -A "$pd/out")" ] || fail "permission: files left behind: $(ls -A "$pd/out")"
note "ok: permission -> $(tr '\n' ' ' <<<"$err")"

# help and usage
rc=0
"$CPROF" record --help >"$T/out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "record --help exited $rc"
grep -q -- '--seconds' "$T/out" && grep -q -- '--call-graph' "$T/out" || fail "record --help does not list the options"
rc=0
"$CPROF" record --no-such-flag -p "$live" >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -eq 64 ] || fail "unknown flag: exit $rc, want 64"
grep -q '^cprof: ' "$T/err" || fail "unknown flag: no 'cprof:' line: $(cat "$T/err")"
[ "$nbad" -eq 0 ] || fail "$nbad of $ncase error cases are wrong (lines BAD above)"
pass "$ncase error cases"
