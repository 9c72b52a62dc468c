#!/bin/bash
# output_targets: what -o names is never damaged (issue 9, point 1). For
# `cprof record` and `cprof threads`, as root: a character device made with
# mknod (1,3 as /dev/null) stays a device; a FIFO stays a FIFO and its reader
# gets a whole profile (also when the reader comes late, after a message);
# a symbolic link stays a link and the file it points to gets the profile,
# keeping mode and owner; a dangling link creates its target; an existing
# file keeps mode 640 and owner 65534; `-o -` writes to standard output
# (a command's own output goes to stderr then) and refuses a terminal; no
# temporary file is left anywhere. Every case runs, the wrong ones are all
# reported, then the script fails.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
[ "$(id -u)" -eq 0 ] || fail "needs root (mknod, chown)"
command -v script >/dev/null || fail "script(1) from util-linux is needed to give cprof a terminal"

wl="$WORKLOAD_DIR/spin_nofp"
start_bg "$wl" 300 1
pid=$BG_PID
wait_exec "$pid" "$wl"

# rec/thr ARGS...: one short recording, one thread dump, as pprof.
rec() { "$CPROF" record -q -p "$pid" -s 1 "$@"; }
thr() { "$CPROF" threads -p "$pid" -f pprof "$@"; }

nbad=0
bad() {
	echo "BAD: $*" >&2
	nbad=$((nbad + 1))
}

# check_out TOOL FILE: a whole profile of the kind TOOL writes.
check_out() {
	if [ "$1" = rec ]; then
		(check_profile "$2") || bad "rec: no valid profile in $2"
	elif [ "$(head -c 3 "$2" 2>/dev/null | od -An -tx1 | tr -d ' \n')" != "1f8b08" ]; then
		bad "thr: $2 is not gzip"
	elif ! pp_raw "$2" | grep -q '^threads/count'; then
		bad "thr: go tool pprof does not read $2 as a threads/count profile"
	fi
}

# waits up to 60 s for the FIFO message, or for cprof to end
says_waiting() {
	local i
	for ((i = 0; i < 1200; i++)); do
		grep -q "waiting for a process to read the FIFO '$2'" "$3" && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

for tool in rec thr; do
	d="$T/$tool"
	mkdir "$d" "$d/sub"

	# A character device: written into, never replaced.
	mknod "$d/null" c 1 3
	"$tool" -o "$d/null" || bad "$tool -o a device node exited $?"
	if [ ! -c "$d/null" ]; then
		bad "$tool: the device node $d/null was replaced: $(ls -l "$d/null")"
	elif [ "$(stat -c '%t,%T' "$d/null")" != "1,3" ]; then
		bad "$tool: device numbers changed"
	fi

	# A FIFO with a reader.
	mkfifo "$d/fifo"
	start_bg sh -c "exec cat '$d/fifo' > '$d/fifo.out'"
	reader=$BG_PID
	"$tool" -o "$d/fifo" || bad "$tool -o a FIFO exited $?"
	if [ -p "$d/fifo" ]; then
		wait "$reader" || bad "$tool: the FIFO's reader failed"
		forget_bg "$reader"
		check_out "$tool" "$d/fifo.out"
	else
		bad "$tool: the FIFO was replaced: $(ls -l "$d/fifo")"
		stop_bg "$reader"	# blocked on a FIFO that has no name any more
	fi

	# A FIFO nobody reads yet: cprof says it waits, before any work
	# (it holds no perf event and has stopped no thread), then writes
	# when a reader comes.
	mkfifo "$d/late"
	if [ "$tool" = rec ]; then
		start_bg "$CPROF" record -p "$pid" -s 1 -o "$d/late" 2>"$d/late.err"
	else
		start_bg "$CPROF" threads -p "$pid" -f pprof -o "$d/late" 2>"$d/late.err"
	fi
	waiter=$BG_PID
	if says_waiting "$waiter" "$d/late" "$d/late.err"; then
		t_has_perf_fds "$waiter" && bad "$tool: recording started before the FIFO had a reader"
		grep -q "recording pid" "$d/late.err" && bad "$tool: recording started before the FIFO had a reader"
		kill -0 "$waiter" 2>/dev/null || bad "$tool: exited instead of waiting for a reader"
	else
		bad "$tool: no message about waiting for the FIFO's reader: $(cat "$d/late.err")"
	fi
	start_bg sh -c "exec cat '$d/late' > '$d/late.out'"
	reader=$BG_PID
	rc=0
	wait "$waiter" || rc=$?
	forget_bg "$waiter"
	[ "$rc" -eq 0 ] || bad "$tool -o a FIFO read late exited $rc: $(cat "$d/late.err")"
	if [ -p "$d/late" ]; then
		wait "$reader" || bad "$tool: the late reader failed"
		forget_bg "$reader"
		check_out "$tool" "$d/late.out"
	else
		bad "$tool: the late FIFO was replaced: $(ls -l "$d/late")"
		stop_bg "$reader"
	fi

	# A symbolic link to a file with its own mode and owner.
	echo old >"$d/real.pprof"
	chown 65534:65534 "$d/real.pprof"
	chmod 640 "$d/real.pprof"
	ln -s real.pprof "$d/link"
	"$tool" -o "$d/link" || bad "$tool -o a symlink exited $?"
	if [ ! -L "$d/link" ] || [ "$(readlink "$d/link")" != real.pprof ]; then
		bad "$tool: the symlink was replaced: $(ls -l "$d/link")"
	else
		check_out "$tool" "$d/real.pprof"
		[ "$(stat -c '%a %u %g' "$d/real.pprof")" = "640 65534 65534" ] ||
			bad "$tool: the link's target lost its mode or owner: $(stat -c '%a %u %g' "$d/real.pprof")"
	fi

	# A dangling link: its target is created, the link kept.
	ln -s sub/new.pprof "$d/dangling"
	"$tool" -o "$d/dangling" || bad "$tool -o a dangling symlink exited $?"
	if [ -L "$d/dangling" ]; then
		check_out "$tool" "$d/sub/new.pprof"
	else
		bad "$tool: the dangling symlink was replaced: $(ls -l "$d/dangling")"
	fi

	# An existing file: mode and owner kept.
	echo old >"$d/existing.pprof"
	chown 65534:65534 "$d/existing.pprof"
	chmod 640 "$d/existing.pprof"
	"$tool" -o "$d/existing.pprof" || bad "$tool -o an existing file exited $?"
	check_out "$tool" "$d/existing.pprof"
	[ "$(stat -c '%a %u %g' "$d/existing.pprof")" = "640 65534 65534" ] ||
		bad "$tool: the existing file lost its mode or owner: $(stat -c '%a %u %g' "$d/existing.pprof")"

	# -o -: standard output, from a clean directory (no file named "-").
	(cd "$d/sub" && "$tool" -o - >"$d/stdout.pprof") || bad "$tool -o - exited $?"
	check_out "$tool" "$d/stdout.pprof"
	[ ! -e "$d/sub/-" ] || bad "$tool: -o - wrote a file named '-'"
	rm -f "$d/sub/-"

	# ...never to a terminal.
	rc=0
	if [ "$tool" = rec ]; then
		cmd="$CPROF record -p $pid -s 1 -o -"
	else
		cmd="$CPROF threads -p $pid -f pprof -o -"
	fi
	(cd "$d/sub" && script -qec "$cmd" /dev/null </dev/null >"$d/tty.out" 2>&1) || rc=$?
	[ "$rc" -eq 64 ] || bad "$tool -o - on a terminal: exit $rc, want 64: $(cat -A "$d/tty.out")"
	grep -q "terminal" "$d/tty.out" || bad "$tool -o - on a terminal: no message: $(cat "$d/tty.out")"
	grep -q "^hint: " "$d/tty.out" || bad "$tool -o - on a terminal: no hint"
	[ ! -e "$d/sub/-" ] || bad "$tool: -o - on a terminal wrote a file named '-'"

	leftover=$(find "$d" -name '.*.??????')
	[ -z "$leftover" ] || bad "$tool: temporary files left: $leftover"
	note "$tool: device, FIFO (read early and late), symlink, dangling symlink, existing file, -o -, terminal: done"
done

# record -o - with a command: the command's own output goes to stderr,
# stdout carries the profile alone.
(cd "$T" && exec "$CPROF" record -q -o - -- sh -c "echo from-the-command; exec '$wl' 1 1") \
	>"$T/cmd.pprof" 2>"$T/cmd.err" || bad "record -o - -- COMMAND exited $?"
check_out rec "$T/cmd.pprof"
grep -q from-the-command "$T/cmd.err" || bad "the command's output did not reach stderr: $(cat "$T/cmd.err")"

# threads text to a device and to standard output: the same rules.
mknod "$T/null" c 1 3
"$CPROF" threads -p "$pid" -o "$T/null" || bad "threads text -o a device exited $?"
[ -c "$T/null" ] || bad "threads text: the device node was replaced"
(cd "$T" && exec "$CPROF" threads -p "$pid" -o -) >"$T/threads.txt" || bad "threads text -o - exited $?"
grep -q "spin_leaf\|spin_middle" "$T/threads.txt" || bad "threads text -o -: no stack on stdout"

[ "$nbad" -eq 0 ] || fail "$nbad cases wrong (BAD lines above)"
pass "device nodes, FIFOs, symlinks, existing files and -o - are written, never replaced"
