# heap_lib.bash - helpers for the heap_*.sh scripts (heap and allocs
# profiles of tests/workloads/heapmix.c); source it after lib.sh and
# t_init. (Not a .sh file, so ctest does not run it as a test.)
#
#   HEAP_FUNCS          heapmix's allocating functions (its "bytes" line)
#   hm_start BIN ARGS...  start a heapmix build (stdout in $T/hm.out), wait
#                       for "ready"; sets HM_PID, HM_OUT
#   hm_wait_line SECS DESC REGEX  wait until $HM_OUT has a line matching REGEX
#   hm_stop             SIGUSR2 (every thread ends at one round), wait for
#                       the exit; HM_ROUNDS, HM_SUM, HM_ERRORS from its last line
#   hm_bytes FUNC       the bytes heapmix says FUNC allocated
#   hm_reference BIN ROUNDS ARGS...  checksum of an unpaced run of ROUNDS
#                       rounds (what a profiled run must print too)
#   hm_loop_best N      send SIGUSR1 N times, print the best ns/call of the
#                       N timings of the malloc loop
#   hm_loop_ratio N     send SIGUSR1 N times, print the median of the loop's
#                       cost through the GOT over its cost straight to libc
#   loop_unslowed AFTER BEFORE  AFTER (a ratio) within 5% of max(BEFORE, 1)
#   heap_record PID PROF ARGS...  cprof record -q -p PID -o PROF ARGS
#   pp_cum PROF INDEX FUNC  FUNC's cumulative share (%) of sample type INDEX
#                       (alloc_space, inuse_space...) by go tool pprof -top
#   check_heap_types PROF DEFAULT  Go's four sample types, space/bytes
#                       period, DEFAULT the sample type pprof shows first
#   check_alloc_shares LABEL PROF  each function's alloc_space share within
#                       5 points of the share heapmix measured of itself
#                       (those named in HEAP_SKIP_SHARE are left out of both
#                       sides and only reported)
#   heap_injected PID   the target has the sampler mapped (heapabi.h's memfd)
#   task_states_ok PID  no thread stopped or traced (State, TracerPid)
#   hm_inuse_kept_only PROF  heapmix's inuse_space: the kept blocks only
#   kept_equal PROF FUNC  FUNC's inuse_space equal to its alloc_space
#   hm_as_before WHEN   threads, mappings and GOT as before a cprof
#   hm_results_right BIN WHAT  stop heapmix: no damage, the unprofiled checksum
#   got_snapshot PID FILE  the GOT entries of the hooked allocation
#                       functions in every module (heap_got.py)

HEAP_FUNCS="hm_alloc_freed hm_alloc_kept hm_cxx_new hm_realloc_chain heapmod_work hm_big"

hm_start() {
	HM_OUT=$T/hm.out
	: >"$HM_OUT"
	start_bg "$@" >"$HM_OUT"
	HM_PID=$BG_PID
	wait_for 20 "heapmix to start" grep -q '^heapmix: pid .* ready' "$HM_OUT"
}

hm_wait_line() {
	wait_for "$1" "$2" grep -Eq "$3" "$HM_OUT"
}

hm_stop() {
	kill -USR2 "$HM_PID" 2>/dev/null || fail "heapmix (pid $HM_PID) is gone: $(tail -3 "$HM_OUT")"
	local rc=0
	wait "$HM_PID" || rc=$?
	forget_bg "$HM_PID"
	[ "$rc" = 0 ] || fail "heapmix exited $rc: $(tail -5 "$HM_OUT")"
	read -r HM_ROUNDS HM_SUM HM_ERRORS < <(sed -n 's/^heapmix: rounds \([0-9]*\) checksum \(0x[0-9a-f]*\) errors \([0-9]*\)$/\1 \2 \3/p' "$HM_OUT")
	[ -n "${HM_SUM:-}" ] || fail "heapmix printed no checksum: $(tail -5 "$HM_OUT")"
}

hm_bytes() {
	sed -n "s/^heapmix: bytes.* $1=\([0-9]*\).*/\1/p" "$HM_OUT"
}

hm_reference() {
	local bin=$1 rounds=$2 out
	shift 2
	out=$("$bin" -r "$rounds" -b 0 -B 0 "$@") || fail "reference run of $bin exited $?: $out"
	sed -n 's/^heapmix: rounds [0-9]* checksum \(0x[0-9a-f]*\) errors 0$/\1/p' <<<"$out"
}

hm_loop_best() {
	hm_loops "$1"
	grep '^heapmix: loop ' "$HM_OUT" | tail -n "$1" | awk '{ print $5 }' | sort -g | head -1
}

# hm_loop_ratio N: the median over N timings of the loop's ratio, through
# the GOT over straight to libc (heapmix prints each timing's median of
# neighbouring batches): 0.98-0.99 with the GOT untouched, 1.09-1.15 with
# inert hooks left in it, 1.04-1.06 when the loop was timed through a
# plain function pointer and the host slowed the VM (heapmix.c).
hm_loop_ratio() {
	hm_loops "$1"
	grep '^heapmix: loop ' "$HM_OUT" | tail -n "$1" | awk '{ print $12 }' | sort -g |
		awk '{ q[NR] = $1 } END { print NR % 2 ? q[(NR + 1) / 2] : (q[NR / 2] + q[NR / 2 + 1]) / 2 }'
}

# loop_unslowed AFTER BEFORE: whether the loop's ratio AFTER cprof is
# within 5% of the unprofiled loop's cost: of the loop through the GOT
# before cprof (ratio BEFORE) or of the loop straight to libc (ratio 1),
# the higher. Both are the unprofiled loop; a BEFORE below 1 is the noise
# of a loaded machine (0.9448 once at a load of 13, against the usual
# 0.98-1.00), not a faster program. Hooks left in the GOT read 1.09-1.15.
loop_unslowed() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b < 1) b = 1; exit !(a <= 1.05 * b) }'
}

# hm_loops N: N timings of the loop (SIGUSR1), waited for.
hm_loops() {
	local i have
	have=$(grep -c '^heapmix: loop ' "$HM_OUT" || true)
	for i in $(seq 1 "$1"); do
		kill -USR1 "$HM_PID"
		wait_for 60 "malloc loop timing $((have + i))" grep -Eq "^heapmix: loop $((have + i)) " "$HM_OUT"
	done
}

heap_record() {
	local pid=$1 prof=$2
	shift 2
	"$CPROF" record -q -p "$pid" -o "$prof" "$@"
}

pp_cum() {
	local prof=$1 index=$2 func=$3 top="$1.cum.$2"
	# One go tool pprof a profile and sample type (~0.5 s of CPU), kept
	# beside the profile until it is written again: callers ask for
	# several functions of the same one.
	if [ ! -s "$top" ] || [ "$prof" -nt "$top" ]; then
		gopprof -symbolize=none -sample_index="$index" -top -cum -nodecount=100000 \
			-nodefraction=0 -edgefraction=0 "$prof" >"$top" 2>/dev/null || true
	fi
	awk -v f="$func" '$6 == f { sub("%", "", $5); print $5; found = 1; exit }
		END { if (!found) print 0 }' "$top"
}

check_heap_types() {
	local prof=$1 dflt=$2 raw
	[ -s "$prof" ] || fail "no profile written at $prof"
	raw=$(pp_raw "$prof" 2>&1) || fail "go tool pprof cannot read $prof: $raw"
	grep -q '^PeriodType: space bytes$' <<<"$raw" || fail "$prof: period type is not space/bytes"
	grep -Eq '^alloc_objects/count(\[dflt\])? alloc_space/bytes(\[dflt\])? inuse_objects/count(\[dflt\])? inuse_space/bytes(\[dflt\])?$' <<<"$raw" ||
		fail "$prof: sample types are not Go's heap profile's: $(grep -m1 -A1 '^PeriodType' <<<"$raw")"
	gopprof -symbolize=none -top -nodecount=1 "$prof" 2>/dev/null | grep -q "^Type: $dflt\$" ||
		fail "$prof: the type pprof shows by default is not $dflt"
}

# The workload measured its bytes over its whole run, the profile over
# cprof's window: the mix of a round is fixed and rounds are paced, so the
# shares are the same in any window of a few seconds (the large block of
# each second aside, a few points at most).
check_alloc_shares() {
	local label=$1 prof=$2 f total=0 b want got report= skipped=0
	# A function left out (HEAP_SKIP_SHARE) is left out of both sides:
	# the shares of the others are of what remains, in the profile and in
	# the workload's count alike (hm_big's 7% kept in the workload's total
	# alone, its 0 in a profile that missed it raised every other share by
	# 7% of itself, 36.7% -> 39.4% for hm_alloc_freed, before any noise).
	for f in $HEAP_FUNCS; do
		b=$(hm_bytes "$f")
		[ -n "$b" ] || fail "$label: heapmix printed no byte count for $f"
		case " ${HEAP_SKIP_SHARE:-} " in
		*" $f "*) skipped=$(awk -v a="$skipped" -v g="$(pp_cum "$prof" alloc_space "$f")" 'BEGIN { print a + g }') ;;
		*) total=$((total + b)) ;;
		esac
	done
	for f in $HEAP_FUNCS; do
		b=$(hm_bytes "$f")
		got=$(pp_cum "$prof" alloc_space "$f")
		case " ${HEAP_SKIP_SHARE:-} " in
		*" $f "*)
			report="$report $f $got% (left out)"
			continue ;;
		esac
		want=$(awk -v b="$b" -v t="$total" 'BEGIN { printf "%.1f", 100 * b / t }')
		got=$(awk -v g="$got" -v s="$skipped" 'BEGIN { printf "%.2f", s < 100 ? 100 * g / (100 - s) : 0 }')
		report="$report $f $got% (heapmix $want%)"
		within "$got" "$want" 5 || fail "$label: alloc_space of $f is $got%, heapmix measured $want% (within 5 points):$report"
	done
	note "$label: alloc_space shares:$report"
}

heap_injected() {
	grep -q "memfd:cprof-heap" "/proc/$1/maps" 2>/dev/null
}

# Every thread: not stopped (T) nor in a tracing stop (t), TracerPid 0.
# One awk for every thread (heap_kill runs this after each of its 100
# kills); a thread that ended meanwhile is one fewer to check.
task_states_ok() {
	awk '/^State:/ && ($2 == "T" || $2 == "t") { bad = 1 }
	     /^TracerPid:/ && $2 != 0 { bad = 1 }
	     END { exit bad }' /proc/"$1"/task/*/status 2>/dev/null
}

got_snapshot() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/heap_got.py" "$1" >"$2" ||
		fail "cannot read the GOT entries of pid $1"
}

# What must not change across a profile: file-backed and executable
# mappings (the heap and the arenas grow meanwhile: anonymous data
# mappings are left out).
maps_snapshot() {
	awk '$6 != "" && $6 !~ /^\[(heap|stack)\]$/ || $2 ~ /x/' "/proc/$1/maps" >"$2"
}

# heap_shares_test BIN LABEL [RECORD ARGS...]: heapmix BIN runs (module
# loaded from the start), cprof records its allocs profile for 4 s; each
# function's alloc_space share is within 5 points of what heapmix measured.
heap_shares_test() {
	local bin=$1 label=$2
	shift 2
	hm_start "$bin" -d 0 -s 60
	hm_wait_line 20 "the module to load" '^heapmix: module loaded'
	got_snapshot "$HM_PID" "$T/got.before"
	heap_record "$HM_PID" "$T/$label.pprof" --profile allocs --rate 16384 --seconds 4 "$@" ||
		fail "$label: cprof record exited $?"
	task_states_ok "$HM_PID" || fail "$label: a thread of the target is left stopped or traced"
	heap_injected "$HM_PID" && fail "$label: the sampler is still mapped after cprof exited"
	got_snapshot "$HM_PID" "$T/got.after"
	diff "$T/got.before" "$T/got.after" >"$T/got.diff" ||
		fail "$label: GOT entries differ after cprof exited: $(head -5 "$T/got.diff")"
	hm_stop
	[ "$HM_ERRORS" = 0 ] || fail "$label: heapmix found $HM_ERRORS damaged blocks"
	check_heap_types "$T/$label.pprof" alloc_space
	check_alloc_shares "$label" "$T/$label.pprof"
}

# hm_inuse_kept_only PROF: heapmix's inuse_space holds only what it keeps
# (hm_alloc_kept, and hm_big's blocks: 3% of slack for their count in a
# window), none of what it frees at once, deletes or grows and frees,
# which still show in alloc_space (go tool pprof).
hm_inuse_kept_only() {
	local prof=$1 kept big f s
	kept=$(pp_cum "$prof" inuse_space hm_alloc_kept)
	big=$(pp_cum "$prof" inuse_space hm_big)
	note "inuse_space: hm_alloc_kept $kept%, hm_big $big%"
	awk -v a="$kept" -v b="$big" 'BEGIN { exit !(a > 0 && a + b >= 97) }' ||
		fail "inuse_space: the kept blocks are $kept% + $big%, not all but 3% of it"
	for f in hm_alloc_freed hm_cxx_new hm_realloc_chain heapmod_work; do
		s=$(pp_cum "$prof" inuse_space "$f")
		awk -v s="$s" 'BEGIN { exit !(s <= 1) }' || fail "inuse_space: $f (freed at once) has $s%"
		s=$(pp_cum "$prof" alloc_space "$f")
		awk -v s="$s" 'BEGIN { exit !(s >= 5) }' || fail "alloc_space: $f has $s%, it allocates 10% or more"
	done
}

# kept_equal PROF FUNC: FUNC's blocks are never freed, so its inuse_space
# is its alloc_space (within 2%; each sample's values: alloc_objects
# alloc_space inuse_objects inuse_space).
kept_equal() {
	local a u
	PP_VALUE=2 pp_stacks "$1" >"$T/alloc.stacks"
	PP_VALUE=4 pp_stacks "$1" >"$T/inuse.stacks"
	a=$(stacks_sum_of "$T/alloc.stacks" "$2")
	u=$(stacks_sum_of "$T/inuse.stacks" "$2")
	note "$2: alloc_space $a, inuse_space $u"
	awk -v a="$a" -v u="$u" 'BEGIN { exit !(a > 0 && u >= 0.98 * a && u <= a) }' ||
		fail "$2: inuse_space $u of alloc_space $a (never freed: equal)"
}

# stacks_sum_of STACKS FUNC: the values of pp_stacks' lines with FUNC in
# their stack.
stacks_sum_of() {
	awk -F '\t' -v f="$2" '{ n = split($4, fr, ";"); for (i = 1; i <= n; i++) if (fr[i] == f) { s += $1; break } }
		END { printf "%.0f", s }' "$1"
}

# hm_as_before WHEN: after a cprof ended (WHEN says which, for the
# messages), no thread of heapmix stopped or traced, no sampler mapped,
# and its mappings and GOT entries as in $T/maps.before and
# $T/got.before (maps_snapshot, got_snapshot).
hm_as_before() {
	task_states_ok "$HM_PID" ||
		fail "a thread of the target is left stopped or traced $1: $(grep -h -E '^(State|TracerPid)' /proc/"$HM_PID"/task/*/status | sort | uniq -c | tr '\n' ' ')"
	heap_injected "$HM_PID" && fail "a sampler is still mapped $1: $(grep cprof-heap /proc/"$HM_PID"/maps)"
	maps_snapshot "$HM_PID" "$T/maps.after"
	diff "$T/maps.before" "$T/maps.after" >"$T/maps.diff" || fail "mappings differ $1: $(head -5 "$T/maps.diff")"
	got_snapshot "$HM_PID" "$T/got.after"
	diff "$T/got.before" "$T/got.after" >"$T/got.diff" || fail "GOT entries differ $1: $(head -5 "$T/got.diff")"
}

# hm_results_right BIN WHAT: stops heapmix (BIN, started with -d 0); no
# block it checked was damaged, and its checksum is that of an unprofiled
# run of as many rounds (WHAT says what the run went through).
hm_results_right() {
	local want
	hm_stop
	[ "$HM_ERRORS" = 0 ] || fail "heapmix found $HM_ERRORS damaged blocks"
	want=$(hm_reference "$1" "$HM_ROUNDS" -d 0)
	[ "$HM_SUM" = "$want" ] || fail "checksum $HM_SUM after $HM_ROUNDS rounds $2, $want unprofiled"
}

