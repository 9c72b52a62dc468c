#!/bin/bash
# record_children: the CPU of child processes is recorded (docs/design.md
# §1.1): by default for a command (`sh -c 'W; W'`, a parent that forks and
# execs as make does), with --children for -p, both for children forked
# after the recording began and for one that existed already. Every sample
# carries pid and process_name labels; each child's samples are symbolized
# against its own program, short-lived or not; the summary counts the
# processes and says when the target itself used no CPU. Shares and totals
# are compared with what the children measured of themselves.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

W="$WORKLOAD_DIR/childwork_nofp"
FE="$WORKLOAD_DIR/forkexec_nofp"

# The sum of the CPU seconds the childwork lines of FILE report, in ms.
children_cpu_ms() {
	awk '/^childwork: pid [0-9]+ cpu / { s += $5 } END { printf "%d\n", s * 1000 }' "$1"
}

# check_children LABEL STACKS ERRFILE WANT_PIDS: the profile of a run whose
# CPU went to childwork processes.
check_children() {
	local label=$1 stacks=$2 errf=$3 want=$4 share bad npids nproc
	enough_samples "$label" "$stacks" 300
	# >= 95% of the samples in the children's own functions: the rest is
	# the parents' and each child's start (exec, ld.so: ~8 ms a child).
	share=$(pp_share "$stacks" child_loop)
	within "$share" 100 5 || fail "$label: child_loop in $share% of the samples, want >= 95%: $(sort -t$'\t' -k1 -rn "$stacks" | head -5)"
	# 2 chunks in 3 by design; the samples split binomially around it:
	# 4 standard deviations of a 2/3 share of n samples (6.7 points at
	# 800, 10.9 at 300), no less than 5.
	local nloop tol
	nloop=$(awk -F '\t' '$4 ~ /(^|;)child_loop(;|$)/ { n += $1 } END { print n + 0 }' "$stacks")
	tol=$(awk -v n="$nloop" 'BEGIN { t = 400 * sqrt(2 / 9 / (n > 0 ? n : 1)); printf "%.1f\n", t < 5 ? 5 : t }')
	within "$(pp_share "$stacks" child_work_a child_loop)" 66.7 "$tol" ||
		fail "$label: child_work_a has $(pp_share "$stacks" child_work_a child_loop)% of child_loop's $nloop samples, want 2/3 (±$tol)"
	# every sample labelled with a numeric pid and a process name
	bad=$(awk -F '\t' '$5 !~ /^[0-9]+$/ || $6 == "-" || $6 == ""' "$stacks" | wc -l)
	[ "$bad" -eq 0 ] || fail "$label: $bad samples without pid and process_name labels"
	# the children's work is labelled as theirs: childwork processes
	bad=$(awk -F '\t' '$4 ~ /(^|;)child_loop(;|$)/ && $6 != "childwork_nofp"' "$stacks" | wc -l)
	[ "$bad" -eq 0 ] || fail "$label: child_loop samples not labelled process_name childwork_nofp"
	npids=$(awk -F '\t' '$4 ~ /(^|;)child_loop(;|$)/ { print $5 }' "$stacks" | sort -u | wc -l)
	[ "$npids" -eq "$want" ] || fail "$label: child_loop in $npids processes, want $want"
	# the summary counts the processes the profile holds
	nproc=$(sed -n 's/.* threads\{0,1\} in \([0-9]*\) process\(es\)\{0,1\} in .*/\1/p' "$errf")
	[ "$nproc" = "$(awk -F '\t' '{ print $5 }' "$stacks" | sort -u | wc -l)" ] ||
		fail "$label: summary says '$nproc' processes, the profile has $(awk -F '\t' '{ print $5 }' "$stacks" | sort -u | wc -l): $(cat "$errf")"
	note "$label: $(sample_count "$stacks") samples, child_loop $share%, $npids children, $nproc processes"
}

# forkexec's own CPU and that of its children, from its last line, in ms.
forkexec_cpu_ms() {
	sed -n 's/.*children cpu \([0-9.]*\), own cpu \([0-9.]*\)$/\1 \2/p' "$1" |
		awk '{ printf "%d\n", ($1 + $2) * 1000 }'
}

# "used no CPU itself" is said exactly when the target has no sample.
check_itself() {
	local label=$1 stacks=$2 errf=$3 root=$4 n
	n=$(awk -F '\t' -v p="$root" '$5 == p { n += $1 } END { print n + 0 }' "$stacks")
	if [ "$n" -eq 0 ]; then
		grep -q "pid $root (.*) used no CPU itself" "$errf" ||
			fail "$label: pid $root has no sample, and the summary does not say so: $(cat "$errf")"
	elif grep -q "used no CPU itself" "$errf"; then
		fail "$label: pid $root has $n samples, but the summary says it used no CPU"
	fi
}

# 1. A command's children, by default: sh -c 'W; W'.
rc=0
"$CPROF" record -F 999 -o "$T/sh.pprof" -- sh -c "$W 0.6; $W 0.6" >"$T/sh.out" 2>"$T/sh.err" || rc=$?
[ "$rc" -eq 0 ] || fail "sh -c 'W; W': cprof exited $rc: $(cat "$T/sh.err")"
[ "$(grep -c '^childwork: pid' "$T/sh.out")" -eq 2 ] || fail "sh -c 'W; W': the children did not both run: $(cat "$T/sh.out")"
check_profile "$T/sh.pprof"
pp_stacks "$T/sh.pprof" >"$T/sh.stacks"
check_accounting "sh -c" "$T/sh.pprof" "$(children_cpu_ms "$T/sh.out")"
check_children "sh -c" "$T/sh.stacks" "$T/sh.err" 2
root=$(sed -n 's/^cprof: recording pid \([0-9]*\) .*/\1/p' "$T/sh.err")
check_itself "sh -c" "$T/sh.stacks" "$T/sh.err" "$root"

# 2. A parent that forks and execs four children, two at a time, as make
# does: each is symbolized against its own program.
rc=0
"$CPROF" record -F 999 -o "$T/fe.pprof" -- "$FE" "$W" 0.4 4 >"$T/fe.out" 2>"$T/fe.err" || rc=$?
[ "$rc" -eq 0 ] || fail "forkexec: cprof exited $rc: $(cat "$T/fe.err")"
grep -q '^forkexec: 4 children' "$T/fe.out" || fail "forkexec did not finish: $(cat "$T/fe.out")"
check_profile "$T/fe.pprof"
pp_stacks "$T/fe.pprof" >"$T/fe.stacks"
check_accounting "forkexec" "$T/fe.pprof" "$(forkexec_cpu_ms "$T/fe.out")"
check_children "forkexec" "$T/fe.stacks" "$T/fe.err" 4
root=$(sed -n 's/^cprof: recording pid \([0-9]*\) .*/\1/p' "$T/fe.err")
check_itself "forkexec" "$T/fe.stacks" "$T/fe.err" "$root"

# 2b. Twenty children of 20 ms of CPU each: most have exited before their
# samples are read, when /proc/PID/maps is gone; their MMAP2 records still
# name them. The samples in child_loop account for the time the children
# measured in it (their start, ~8 ms each, is most of the rest). Whether a
# child is gone when its samples are read is up to the scheduler (cprof
# reads at a quarter of a ring, often while a child still runs): a run
# where none was is checked all the same, then recorded again, up to 3
# times in all, for the case to be tested.
for try in 1 2 3; do
	rc=0
	"$CPROF" record -F 999 -o "$T/short.pprof" -- "$FE" "$W" 0.02 20 >"$T/short.out" 2>"$T/short.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "short children: cprof exited $rc: $(cat "$T/short.err")"
	grep -q '^forkexec: 20 children' "$T/short.out" || fail "forkexec did not finish: $(cat "$T/short.out")"
	pp_stacks "$T/short.pprof" >"$T/short.stacks"
	check_accounting "short children" "$T/short.pprof" "$(forkexec_cpu_ms "$T/short.out")"
	loop=$(awk '/^childwork: pid [0-9]+ cpu / { s += $7 } END { printf "%d\n", s * 1000 }' "$T/short.out")
	period=$(pp_raw "$T/short.pprof" | sed -n 's/^Period: //p')
	inloop=$(awk -F '\t' -v q="$period" '$4 ~ /(^|;)child_loop(;|$)/ { n += $1 } END { printf "%d\n", n * q / 1e6 }' "$T/short.stacks")
	note "short children: $inloop ms of samples in child_loop, the children measured $loop ms there"
	awk -v t="$inloop" -v c="$loop" 'BEGIN { exit !(t >= 0.85 * c - 30 && t <= 1.1 * c + 30) }' ||
		fail "short children: $inloop ms of samples in child_loop, the children spent $loop ms there"
	npids=$(awk -F '\t' '$4 ~ /(^|;)child_loop(;|$)/ { print $5 }' "$T/short.stacks" | sort -u | wc -l)
	[ "$npids" -ge 15 ] || fail "short children: child_loop in $npids processes, want most of 20"
	gone=$(pp_raw "$T/short.pprof" | sed -n 's/^Comment: .*, \([0-9]*\) samples of processes gone.*/\1/p')
	note "short children: ${gone:-0} samples of processes gone before they were read"
	[ "${gone:-0}" -gt 0 ] && break
done
[ "${gone:-0}" -gt 0 ] || fail "short children: in 3 runs every child still ran when its samples were read: the case is not tested"

# 3. -p PID --children, the children forked after the recording began.
start_bg "$FE" "$W" 0.4 3 --wait >"$T/p.out"
fe=$BG_PID
wait_for 20 "forkexec to wait" grep -q '^forkexec: waiting' "$T/p.out"
start_bg "$CPROF" record -p "$fe" --children -F 999 -o "$T/p.pprof" 2>"$T/p.err"
cp=$BG_PID
wait_for 30 "cprof to start recording" grep -q '^cprof: recording pid' "$T/p.err"
kill -USR1 "$fe"
rc=0
wait "$cp" || rc=$?
forget_bg "$cp"
[ "$rc" -eq 0 ] || fail "-p --children: cprof exited $rc: $(cat "$T/p.err")"
wait "$fe" || fail "forkexec failed: $(cat "$T/p.out")"
forget_bg "$fe"
grep -q "pid $fe exited" "$T/p.err" || fail "-p --children: the target's exit is not reported: $(cat "$T/p.err")"
check_profile "$T/p.pprof"
pp_stacks "$T/p.pprof" >"$T/p.stacks"
check_accounting "-p --children" "$T/p.pprof" "$(forkexec_cpu_ms "$T/p.out")"
check_children "-p --children" "$T/p.stacks" "$T/p.err" 3
check_itself "-p --children" "$T/p.stacks" "$T/p.err" "$fe"

# 4. A child that exists before the recording begins, and a parent that
# sleeps throughout: with --children the child is recorded (the parent's
# descendants are looked up at the start) and the summary says the target
# itself used no CPU; without, there are no samples, and the warning points
# at --children.
start_bg "$FE" "$W" 0.5 1 --wait --early >"$T/e.out"
fe=$BG_PID
wait_for 20 "forkexec to wait" grep -q '^forkexec: waiting' "$T/e.out"
early=$(pgrep -P "$fe")
wait_exec "$early" "$W"
start_bg "$CPROF" record -p "$fe" --children -F 999 -o "$T/e.pprof" 2>"$T/e.err"
cp=$BG_PID
start_bg "$CPROF" record -p "$fe" -F 999 -o "$T/alone.pprof" 2>"$T/alone.err"
cp2=$BG_PID
wait_for 30 "cprof to start recording" grep -q '^cprof: recording pid' "$T/e.err"
wait_for 30 "cprof to start recording" grep -q '^cprof: recording pid' "$T/alone.err"
kill -USR1 "$early"
wait_for 120 "the early child to finish" grep -q '^childwork: pid' "$T/e.out"
kill -INT "$cp" "$cp2"
rc=0
wait "$cp" || rc=$?
forget_bg "$cp"
[ "$rc" -eq 0 ] || fail "existing child: cprof exited $rc: $(cat "$T/e.err")"
rc=0
wait "$cp2" || rc=$?
forget_bg "$cp2"
[ "$rc" -eq 0 ] || fail "without --children: cprof exited $rc: $(cat "$T/alone.err")"
stop_bg "$fe"
pp_stacks "$T/e.pprof" >"$T/e.stacks"
check_accounting "existing child" "$T/e.pprof" "$(children_cpu_ms "$T/e.out")"
check_children "existing child" "$T/e.stacks" "$T/e.err" 1
[ "$(awk -F '\t' '{ print $5 }' "$T/e.stacks" | sort -u)" = "$early" ] ||
	fail "existing child: samples of other processes than pid $early: $(awk -F '\t' '{ print $5 }' "$T/e.stacks" | sort -u | tr '\n' ' ')"
grep -q "pid $fe (forkexec_nofp) used no CPU itself" "$T/e.err" ||
	fail "existing child: the summary does not say the target used no CPU itself: $(cat "$T/e.err")"
pp_stacks "$T/alone.pprof" >"$T/alone.stacks"
[ "$(sample_count "$T/alone.stacks")" -eq 0 ] || fail "without --children: samples of the children"
grep -q "no samples: pid $fe (forkexec_nofp) used no CPU" "$T/alone.err" ||
	fail "without --children: no 'used no CPU' warning: $(cat "$T/alone.err")"
grep -q '^hint: .*--children' "$T/alone.err" ||
	fail "without --children: no hint at --children: $(cat "$T/alone.err")"
grep -q ' in 0 processes in ' "$T/alone.err" || fail "without --children: summary: $(cat "$T/alone.err")"

# 5. --no-children: a command alone, here sh; its child is not recorded,
# the program sh then execs itself is, and named although no record told
# its mappings (they are read from /proc).
rc=0
"$CPROF" record --no-children -F 999 -o "$T/no.pprof" -- sh -c "$W 0.2; exec $W 0.4" >"$T/no.out" 2>"$T/no.err" || rc=$?
[ "$rc" -eq 0 ] || fail "--no-children: cprof exited $rc: $(cat "$T/no.err")"
pp_stacks "$T/no.pprof" >"$T/no.stacks"
root=$(sed -n 's/^cprof: recording pid \([0-9]*\) .*/\1/p' "$T/no.err")
others=$(awk -F '\t' -v p="$root" '$5 != p' "$T/no.stacks" | wc -l)
[ "$others" -eq 0 ] || fail "--no-children: $others samples of other processes than sh"
enough_samples "--no-children" "$T/no.stacks" 150
within "$(pp_share "$T/no.stacks" child_loop)" 100 10 ||
	fail "--no-children: the exec'd program is not named: child_loop in $(pp_share "$T/no.stacks" child_loop)% of the samples"

# 6. A child that is gone by the time its samples are read, and whose
# program file was replaced meanwhile (an upgrade): its files can only be
# opened by path then, and one that is not the file it mapped (another
# inode) is not used: no names rather than the new program's (spin_nofp's
# spin_outer covers childwork's hot addresses). cprof is held stopped while
# the child runs and exits; the kernel keeps its samples in the ring.
mkdir "$T/bin"
cp "$W" "$T/bin/w"
start_bg "$CPROF" record -F 999 -o "$T/repl.pprof" -- sh -c \
	"while [ ! -e '$T/start' ]; do sleep 0.05; done; '$T/bin/w' 0.1 >'$T/w.out'; touch '$T/done'; while [ ! -e '$T/go' ]; do sleep 0.05; done" \
	2>"$T/repl.err"
cp=$BG_PID
wait_for 30 "cprof to start recording" grep -q '^cprof: recording pid' "$T/repl.err"
kill -STOP "$cp"
touch "$T/start"
wait_for 120 "the child to finish" test -e "$T/done"
cp "$WORKLOAD_DIR/spin_nofp" "$T/bin/w.new"
mv "$T/bin/w.new" "$T/bin/w"
kill -CONT "$cp"
touch "$T/go"
rc=0
wait "$cp" || rc=$?
forget_bg "$cp"
[ "$rc" -eq 0 ] || fail "replaced program: cprof exited $rc: $(cat "$T/repl.err")"
pp_stacks "$T/repl.pprof" >"$T/repl.stacks"
n=$(awk -F '\t' '$6 == "w" { n += $1 } END { print n + 0 }' "$T/repl.stacks")
[ "$n" -ge 30 ] || fail "replaced program: $n samples of the child w, want its 0.1 s"
wrong=$(awk -F '\t' '$6 == "w" && $4 ~ /(^|;)(spin_[a-z]*|child_[a-z_]*)(;|$)/' "$T/repl.stacks" | wc -l)
[ "$wrong" -eq 0 ] || fail "replaced program: the child's frames are named from a file it did not map: $(awk -F '\t' '$6 == "w"' "$T/repl.stacks" | head -3)"
note "replaced program: $n samples of the gone child, none named from the new file"
pass
