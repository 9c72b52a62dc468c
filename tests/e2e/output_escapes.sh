#!/bin/bash
# output_escapes: text that comes from outside cprof (a command's name and
# arguments, an output path, a profile's comments, a process name, a file
# name in an error) reaches the terminal escaped, never as raw control
# bytes (docs/design.md §4.1): cprof record's messages and summary, cprof
# report's table, errors with their hint, cprof serve's messages. The
# profile file itself keeps the raw command line (data, not text).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

ESC=$'\033'
# Bytes a terminal acts on: C0 controls but newline and tab, DEL, C1.
no_controls() {
	local what=$1 file=$2 n
	n=$(LC_ALL=C tr -d '\n\t\040-\176' <"$file" | wc -c)
	[ "$n" -eq 0 ] || fail "$what: $n raw control or non-ASCII bytes: $(LC_ALL=C tr -d '\n\t\040-\176' <"$file" | od -An -tx1 | head -2)"
}

# A command whose name, argument and output file hold escape sequences.
mkdir -p "$T/bin"
cmd="$T/bin/w${ESC}]0;title"$'\a'"x"
cp "$WORKLOAD_DIR/names_nofp" "$cmd"
out="$T/p${ESC}[2J.pprof"
"$CPROF" record -F 199 -o "$out" -- "$cmd" 1 "arg${ESC}[31mred" >"$T/rec.out" 2>"$T/rec.err" ||
	fail "cprof record exited $?: $(cat -v "$T/rec.err")"
no_controls "record stderr" "$T/rec.err"
grep -qF 'w\x1b]0;title\ax exited with status 0' "$T/rec.err" ||
	fail "record: the command's name is not shown escaped: $(cat -v "$T/rec.err")"
grep -qF 'wrote '"$T"'/p\x1b[2J.pprof (' "$T/rec.err" ||
	fail "record: the output path is not shown escaped: $(cat -v "$T/rec.err")"
# The file keeps the command line as it was.
gzip -dc "$out" | LC_ALL=C grep -qF "arg${ESC}[31mred" ||
	fail "the profile's cmdline comment lost its raw bytes"

# report: the comments, the mapping's file name and function names.
"$CPROF" report "$out" >"$T/report" 2>"$T/report.err" || fail "cprof report exited $?"
no_controls "report stdout" "$T/report"
no_controls "report stderr" "$T/report.err"
grep -qF 'cmdline: '"$T"'/bin/w\x1b]0;title\ax 1 arg\x1b[31mred' "$T/report" ||
	fail "report: the command line is not shown escaped: $(grep cmdline "$T/report" | cat -v)"
grep -qxF 'File: w\x1b]0;title\ax' "$T/report" ||
	fail "report: the main mapping's name is not shown escaped: $(grep File: "$T/report" | cat -v)"

# An error quoting a path.
rc=0
"$CPROF" report "$T/none${ESC}[2J" >"$T/err.out" 2>"$T/err.err" || rc=$?
[ "$rc" -ne 0 ] || fail "report of a missing file succeeded"
no_controls "report error" "$T/err.err"
grep -qF "cannot read '$T/none\\x1b[2J'" "$T/err.err" ||
	fail "report error: the path is not shown escaped: $(cat -v "$T/err.err")"
grep -q '^hint: ' "$T/err.err" || fail "report error: no hint line"

# serve names the process: here an OSC title sequence.
wl="$WORKLOAD_DIR/names_nofp"
start_bg "$wl" 30
pid=$BG_PID
wait_exec "$pid" "$wl"
wait_for 10 "the workload to rename itself" grep -q pwned "/proc/$pid/comm"
start_bg "$CPROF" serve -p "$pid" --http 127.0.0.1:0 2>"$T/serve.err"
spid=$BG_PID
wait_for 20 "cprof serve to listen" grep -q 'listening on http://' "$T/serve.err"
port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$T/serve.err")
# A request line with a raw ESC (curl would encode it).
timeout 30 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"'
	printf "GET /debug/pprof/x\033[2J HTTP/1.0\r\n\r\n" >&3
	cat <&3 >/dev/null' || true
wait_for 10 "the access log line" grep -q ' 404 ' "$T/serve.err"
stop_bg "$spid"
no_controls "serve stderr" "$T/serve.err"
grep -qF "for pid $pid (\\x1b]0;pwned\\a)" "$T/serve.err" ||
	fail "serve: the process name is not shown escaped: $(cat -v "$T/serve.err")"
grep -qF 'GET /debug/pprof/x%1B[2J 404' "$T/serve.err" ||
	fail "serve: the request's URL is not logged escaped: $(cat -v "$T/serve.err")"
pass "names, paths, arguments and comments escaped in record, report, errors and serve"
