#!/bin/bash
# completion: the bash completion file (dist/cprof.bash-completion, as
# installed), loaded in a non-interactive bash, registers _cprof for cprof
# (complete -p), completes the commands for `cprof <TAB>`, the options of
# each command, PIDs with their names for -p, the values of --profile,
# -f and --call-graph, and file names for -o. Every command listed by
# `cprof --help` and every long option of each `cprof CMD --help` must be
# in it, so that the static lists cannot drift from the program.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
comp="$SOURCE_DIR/dist/cprof.bash-completion"
[ -f "$comp" ] || fail "no completion file $comp"

# complete WORDS...: the candidates for the last word (COMP_WORDS as bash
# splits the line, COMP_CWORD the last), one per line.
complete_words() {
	bash --norc --noprofile -c '
		source "$1"; shift
		spec=$(complete -p cprof) || exit 3
		fn=$(sed -n "s/.*-F \([^ ]*\) cprof$/\1/p" <<<"$spec")
		[ -n "$fn" ] || exit 4
		COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		"$fn" cprof "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' bash "$comp" "$@"
}

# What the completion is checked against: cprof --help's commands and each
# command's long options (and --version, which only install.sh ran). This
# is the part that runs cprof's C code; the rest is bash, checked in the
# normal build only.
"$CPROF" --version | grep -q '^cprof [0-9]' || fail "cprof --version"
"$CPROF" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }' |
	sort >"$T/cmds"
[ "$(wc -l <"$T/cmds")" -ge 5 ] || fail "cprof --help lists fewer than 5 commands: $(cat "$T/cmds")"
while read -r cmd; do
	"$CPROF" "$cmd" --help | grep -oE -- '(^|[ ,])--[a-z][a-z-]*' | sed 's/^[ ,]*//' | sort -u >"$T/help.$cmd"
	[ -s "$T/help.$cmd" ] || fail "cprof $cmd --help lists no option"
done <"$T/cmds"
normal_only || pass "--help of cprof and of its $(wc -l <"$T/cmds") commands (the completion: normal build)"

bash --norc --noprofile -c 'source "$1" && complete -p cprof' bash "$comp" >"$T/spec" ||
	fail "complete -p cprof after loading the file: $(cat "$T/spec")"
grep -q -- '-F _cprof cprof' "$T/spec" || fail "complete -p cprof: $(cat "$T/spec")"

# Commands: those of cprof --help, and only them.
complete_words cprof "" | sort >"$T/got"
diff "$T/cmds" "$T/got" >"$T/d" || fail "cprof <TAB> differs from cprof --help's commands (< help, > completion): $(cat "$T/d")"
[ "$(complete_words cprof th)" = threads ] || fail "cprof th<TAB>: $(complete_words cprof th)"

# Options: every long option of each command's --help.
while read -r cmd; do
	complete_words cprof "$cmd" "--" | sort -u >"$T/comp.$cmd"
	missing=$(comm -23 "$T/help.$cmd" "$T/comp.$cmd" | tr '\n' ' ')
	[ -z "$missing" ] || fail "cprof $cmd --<TAB> lacks $missing"
	extra=$(comm -13 "$T/help.$cmd" "$T/comp.$cmd" | tr '\n' ' ')
	[ -z "$extra" ] || fail "cprof $cmd --<TAB> offers options its --help does not list: $extra"
done <"$T/cmds"
complete_words cprof record --pr | grep -qx -- --profile || fail "cprof record --pr<TAB>"

# Values.
[ "$(complete_words cprof record --profile "" | sort | tr '\n' ' ')" = "allocs block cpu heap mutex wall " ] ||
	fail "--profile values: $(complete_words cprof record --profile "")"
[ "$(complete_words cprof threads -f "" | sort | tr '\n' ' ')" = "debug1 json pprof summary text " ] ||
	fail "-f values: $(complete_words cprof threads -f "")"
[ "$(complete_words cprof record -g "" | sort | tr '\n' ' ')" = "dwarf fp " ] || fail "-g values"
# -p: a PID with its command name among several, the PID alone when one.
wl="$WORKLOAD_DIR/spin_nofp"
start_bg "$wl" 20
pid=$BG_PID
wait_exec "$pid" "$wl"
complete_words cprof threads -p "" >"$T/pids"
grep -qx "$pid (spin_nofp)" "$T/pids" || fail "-p <TAB> lacks '$pid (spin_nofp)': $(head -5 "$T/pids")"
grep -qx "$$ (bash)" "$T/pids" || fail "-p <TAB> lacks this shell"
[ "$(complete_words cprof record -p "$pid")" = "$pid" ] || fail "-p $pid<TAB>: $(complete_words cprof record -p "$pid")"
# -o: file names.
mkdir "$T/dir" && touch "$T/dir/cpu-one.pprof" "$T/dir/cpu-two.pprof"
[ "$(complete_words cprof record -o "$T/dir/cpu-t")" = "$T/dir/cpu-two.pprof" ] ||
	fail "-o file<TAB>: $(complete_words cprof record -o "$T/dir/cpu-t")"
stop_bg "$pid"
pass
