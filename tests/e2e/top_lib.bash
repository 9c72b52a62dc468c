# top_lib.bash - cprof top in a pane of a private tmux server (source it
# after lib.sh and t_init). The server has a socket of its own, is sized
# by the script, and is killed however the script ends.
#
#   tm ARGS...            tmux on the private server
#   tm_start COLS ROWS    the server, with one pane of that size running a
#                         bare bash
#   pane                  the pane's text (capture-pane -p)
#   pane_flag FORMAT      a format of the pane (#{alternate_on}...)
#   pane_has REGEX        the pane shows a line matching REGEX
#   top_in_pane TAG ARGS...  runs "cprof top ARGS" in the pane, in the
#                         foreground as a user would: stty -a before and
#                         after in $T/TAG.before and $T/TAG.after, cprof's
#                         pid in $T/TAG.pid, stderr in $T/TAG.err, exit
#                         status in $T/TAG.rc (written last); the words
#                         of the array TOP_WRAP, when set, come before
#                         cprof (setpriv ... for another user)
#   top_wait_end TAG      waits (20 s at most) for $T/TAG.rc
#   row_self PANE_FILE FUNC   FUNC's SELF% in a capture (first row of it)
#   pct X A B C           X as a percentage of A+B+C, one decimal

TM_SOCK="cprof-e2e-$E2E_NAME-$$"

tm() {
	tmux -L "$TM_SOCK" -f /dev/null "$@"
}

tm_on_exit() {
	local rc=$?
	set +e	# an exit status given back for t_on_exit to read is no error
	tm kill-server >/dev/null 2>&1
	(exit "$rc")
	t_on_exit
}

tm_start() {
	trap tm_on_exit EXIT
	tm new-session -d -s top -x "$1" -y "$2" \
		"env -i PATH=$PATH HOME=$T TERM=xterm-256color LANG=C.UTF-8 bash --norc --noprofile" ||
		fail "cannot start tmux"
	tm set-option -g window-size manual
	# a prompt that tells us the shell is ready
	tm send-keys -t top "PS1='ready\$ '" Enter
	wait_for 10 "the pane's shell" pane_has '^ready\$'
}

pane() {
	tm capture-pane -p -t top
}

pane_flag() {
	tm display-message -p -t top "$1"
}

pane_has() {
	pane | grep -Eq "$1"
}

top_in_pane() {
	local tag=$1
	shift
	rm -f "$T/$tag".*
	{
		echo "stty -a >'$T/$tag.before'"
		printf 'bash -c %q %q' 'echo $$ >"$0"; exec "$@"' "$T/$tag.pid"
		printf ' %q' ${TOP_WRAP+"${TOP_WRAP[@]}"} "$CPROF" top "$@"
		echo " 2>'$T/$tag.err'"
		echo "echo \$? >'$T/$tag.rc.tmp'"
		echo "stty -a >'$T/$tag.after'"
		echo "mv '$T/$tag.rc.tmp' '$T/$tag.rc'"
	} >"$T/$tag.sh"
	tm send-keys -t top "clear; bash '$T/$tag.sh'" Enter
	wait_for 10 "cprof top's pid" test -s "$T/$tag.pid"
}

top_wait_end() {
	wait_for 20 "cprof top ($1) to end" test -s "$T/$1.rc"
}

row_self() {
	awk -v f="$2" 'NR > 3 && $(NF - 1) == f { sub("%", "", $1); print $1; exit }' "$1"
}

pct() {
	awk -v x="$1" -v a="$2" -v b="$3" -v c="$4" \
		'BEGIN { s = a + b + c; printf "%.1f\n", (s > 0 ? 100 * x / s : 0) }'
}
