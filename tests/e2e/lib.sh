# lib.sh - helpers shared by the end-to-end scripts (source it after
# `set -euo pipefail`). ctest gives every script CPROF, WORKLOAD_DIR,
# SOURCE_DIR and TEST_TMP.
#
#   t_init               make $T, a fresh directory for this run; install the
#                        EXIT trap that kills what start_bg started
#   start_bg CMD...      start CMD in the background; its PID is in $BG_PID
#                        and it is killed (by that PID) when the script ends
#   stop_bg PID          kill one background process now and reap it
#   forget_bg PID        after `wait PID` by the script itself
#   wait_for SECS DESC CMD...   poll CMD every 0.05 s until it succeeds
#   wait_exec PID PATH   wait until PID runs PATH (exec done)
#   wait_perf_fds PID    wait until PID holds perf_event fds (sampling began)
#   gopprof ARGS...      `go tool pprof` confined to $TEST_TMP, offline
#   pp_raw FILE          `go tool pprof -raw`, without pprof's own symbolizer
#   pp_stacks FILE       one line per sample, from pp_raw:
#                          COUNT <TAB> THREAD_ID <TAB> THREAD_NAME <TAB> f1;f2;...
#                          <TAB> PID <TAB> PROCESS_NAME
#                        frames leaf first, inlined lines expanded innermost first;
#                        a missing label is "-"
#   pp_stacks FILE lines the same with each frame "NAME FILE:LINE"
#                        (COUNT is the first value; PP_VALUE=N picks the Nth)
#   pp_share STACKS FUNC [FILTER_FUNC]  percentage (one decimal) of the samples
#                        (weighted by COUNT) with FUNC in the stack; with
#                        FILTER_FUNC, among the samples that contain it
#   check_profile FILE   gzip magic, readable by pprof, cpu/nanoseconds types
#   cpu_ms PID [TID]     CPU time used so far, ms
#   record_p PID PROF ARGS...   cprof record -q -p PID -o PROF ARGS; the
#                        target's CPU time meanwhile in REC_CPU_MS
#   check_accounting LABEL PROF CPU_MS   samples + lost match the CPU time
#   enough_samples LABEL STACKS MIN
#   run_cprof OUTVAR ERRVAR RCVAR ARGS...  run $CPROF, capturing the lot
#   rm_on_exit DIR       remove DIR however the script ends
#   fail MSG / pass MSG  end the script (1 / 0) with a line that names it
#   normal_only          true in the normal build, false in the sanitizer
#                        build: guards the part of a test that runs none of
#                        cprof's C code beyond what ran before it (chromium's
#                        page loads, bash's completion), checked once, in
#                        the normal build (tests/README.md)

E2E_NAME=${E2E_NAME:-$(basename "${BASH_SOURCE[1]:-$0}" .sh)}
: "${CPROF:?CPROF is not set (run through ctest)}"
: "${WORKLOAD_DIR:?WORKLOAD_DIR is not set}"
: "${TEST_TMP:?TEST_TMP is not set}"

BG_PIDS=()
RM_DIRS=()
T=

# Debian's python3, which scripts/setup.sh installs, whatever python3 comes
# first in PATH: a pyenv shim there (this VM's root has one) runs pyenv's
# bash scripts, some 40 processes, for every call: 0.8 s of CPU against
# 0.08, and 4.7 s against 0.7 at a load of 10. A command that runs
# another (timeout, env) or a process started with start_bg, which a kill
# by PID must reach, names /usr/bin/python3 itself.
python3() {
	/usr/bin/python3 "$@"
}

t_on_exit() {
	local rc=$? pid
	for pid in "${BG_PIDS[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	local d
	for d in "${RM_DIRS[@]}"; do
		rm -rf "$d"
	done
	# Keep the evidence of a failure; clean up after a success.
	if [ "$rc" -eq 0 ] && [ -n "$T" ]; then
		rm -rf "$T"
	elif [ -n "$T" ]; then
		echo "($E2E_NAME: files kept in $T)" >&2
	fi
	exit "$rc"
}

t_init() {
	mkdir -p "$TEST_TMP"
	T=$(mktemp -d "$TEST_TMP/$E2E_NAME.XXXXXX")
	trap t_on_exit EXIT
	trap 'exit 130' INT TERM
	if [ ! -x "$CPROF" ]; then
		fail "cprof binary not found at $CPROF"
	fi
}

fail() {
	echo "FAIL: $E2E_NAME: $*" >&2
	exit 1
}

pass() {
	echo "PASS: $E2E_NAME${1:+: $*}"
	exit 0
}

normal_only() {
	[ "${CPROF_SANITIZED:-0}" != 1 ]
}

note() {
	echo "$E2E_NAME: $*"
}

start_bg() {
	"$@" &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

rm_on_exit() {
	RM_DIRS+=("$1")
}

# Forgets the PID once reaped, so that the EXIT trap never signals a
# process that later got the same number.
stop_bg() {
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget_bg "$1"
}

forget_bg() {
	local p keep=()
	for p in "${BG_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	BG_PIDS=("${keep[@]}")
}

wait_for() {
	local secs=$1 desc=$2 end
	shift 2
	# A deadline on the clock, not a count of turns: on a loaded machine
	# each turn (the command, the sleep) takes far longer than 0.05 s.
	# (bash's own clock: a date process a turn is CPU a loaded machine
	# lacks.)
	end=$((${EPOCHREALTIME/[.,]/} + secs * 1000000))
	while ! "$@" >/dev/null 2>&1; do
		if [ "${EPOCHREALTIME/[.,]/}" -gt "$end" ]; then
			fail "timed out after ${secs}s waiting for $desc"
		fi
		sleep 0.05
	done
}

t_runs_exe() {
	[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$2")" ]
}

wait_exec() {
	wait_for 10 "pid $1 to exec $2" t_runs_exe "$1" "$2"
}

t_has_perf_fds() {
	# grep -c, not -q: an early exit of grep would SIGPIPE ls, and
	# pipefail would read that as "no perf fd" (a process with 2,000).
	[ "$(ls -l "/proc/$1/fd" 2>/dev/null | grep -c 'perf_event')" -gt 0 ]
}

wait_perf_fds() {
	wait_for 20 "pid $1 to open perf events" t_has_perf_fds "$1"
}

gopprof() {
	local home="$TEST_TMP/gohome"
	mkdir -p "$home"
	HOME="$home" GOCACHE="$home/cache" GOPATH="$home/go" \
		GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
		PPROF_TMPDIR="$home/pprof" PPROF_BINARY_PATH=/nonexistent \
		go tool pprof "$@"
}

# -symbolize=none: what pprof shows must come from cprof's file, not from
# pprof re-reading the binaries with its own tools.
pp_raw() {
	gopprof -symbolize=none -raw "$1"
}

# The -raw text is pprof's Profile.String() (profile/profile.go in Go's
# vendored github.com/google/pprof): sample lines "  V1  V2: LOCID ...",
# label lines under them, then "Locations" with "ID: 0xADDR M=N NAME FILE:LINE
# s=N" and one indented continuation line per further (outer) inline line.
pp_stacks() {
	pp_raw "$1" | awk -v lines="$([ "${2:-}" = lines ] && echo 1 || echo 0)" \
		-v col="${PP_VALUE:-1}" '
	# with lines: the name (it may hold spaces) and FILE:LINE, that is
	# fields n..NF-1 of a line ending in s=N
	function frame(n,   i, f) {
		if (!lines || n >= NF)
			return $n
		f = $n
		for (i = n + 1; i < NF; i++)
			f = f " " $i
		return f
	}
	function flush() {
		if (ns > 0 && cur != "") {
			samp[ns] = cur; tid[ns] = ctid; tname[ns] = cname
			pid[ns] = cpid; pname[ns] = cpname
		}
	}
	/^Samples:/ { sec = "s"; next }
	/^Locations/ { flush(); sec = "l"; next }
	/^Mappings/ { sec = "m"; next }
	sec == "s" && /^ *[0-9]+( +-?[0-9]+)*: / {
		flush()
		ns++
		split($0, halves, ":")
		split(halves[1], vals, " ")
		count[ns] = vals[col]
		cur = halves[2]; ctid = "-"; cname = "-"; cpid = "-"; cpname = "-"
		next
	}
	sec == "s" && /^                [a-z_]+:\[/ {
		if (match($0, /thread_id:\[-?[0-9]+/))
			ctid = substr($0, RSTART + 11, RLENGTH - 11)
		if (match($0, /thread_name:\[[^]]*\]/))
			cname = substr($0, RSTART + 13, RLENGTH - 14)
		if (match($0, / pid:\[-?[0-9]+/)) {
			cpid = substr($0, RSTART, RLENGTH); sub(/.*\[/, "", cpid)
		}
		if (match($0, /process_name:\[[^]]*\]/))
			cpname = substr($0, RSTART + 14, RLENGTH - 15)
		next
	}
	sec == "l" && /^ *[0-9]+: 0x/ {
		id = $1; sub(":", "", id)
		n = 3
		if ($n ~ /^M=/) n++
		if ($n == "[F]") n++
		name = (n <= NF) ? frame(n) : $2
		loc[id] = name
		last = id
		next
	}
	sec == "l" && /^             [^ ]/ {
		loc[last] = loc[last] ";" frame(1)
		next
	}
	END {
		flush()
		for (i = 1; i <= ns; i++) {
			m = split(samp[i], ids, " ")
			st = ""
			for (j = 1; j <= m; j++)
				st = st (j > 1 ? ";" : "") ((ids[j] in loc) ? loc[ids[j]] : "?" ids[j])
			printf "%s\t%s\t%s\t%s\t%s\t%s\n", count[i], tid[i], tname[i], st, pid[i], pname[i]
		}
	}'
}

pp_share() {
	local stacks=$1 func=$2 filter=${3:-}
	awk -F '\t' -v f="$func" -v g="$filter" '
	{
		n = split($4, fr, ";"); has = 0; inf = (g == "")
		for (i = 1; i <= n; i++) {
			if (fr[i] == f) has = 1
			if (g != "" && fr[i] == g) inf = 1
		}
		if (!inf) next
		tot += $1
		if (has) hit += $1
	}
	END { if (tot == 0) print "nan"; else printf "%.1f\n", 100 * hit / tot }' "$stacks"
}

# |share - want| <= tol, shares as printed by pp_share.
within() {
	awk -v s="$1" -v w="$2" -v t="$3" 'BEGIN { d = s - w; if (d < 0) d = -d; exit !(s != "nan" && d <= t) }'
}

check_profile() {
	local f=$1
	[ -s "$f" ] || fail "no profile written at $f"
	[ "$(head -c 3 "$f" | od -An -tx1 | tr -d ' \n')" = "1f8b08" ] ||
		fail "$f is not gzip"
	local raw
	raw=$(pp_raw "$f" 2>&1) || fail "go tool pprof cannot read $f: $raw"
	grep -q '^PeriodType: cpu nanoseconds$' <<<"$raw" ||
		fail "$f: period type is not cpu/nanoseconds"
	grep -Eq '^samples/count(\[dflt\])? cpu/nanoseconds(\[dflt\])?$' <<<"$raw" ||
		fail "$f: sample types are not samples/count cpu/nanoseconds"
}

# Sum of the samples/count column.
sample_count() {
	awk -F '\t' '{ n += $1 } END { print n + 0 }' "$1"
}

# cpu_ticks PID [TID]: the CPU time (user + system) of a process, or of one
# thread, in clock ticks, with no process started (a poll on a loaded
# machine).
cpu_ticks() {
	local f="/proc/$1/stat" s
	[ -n "${2:-}" ] && f="/proc/$1/task/$2/stat"
	{ read -r s <"$f"; } 2>/dev/null || return 1
	set -- ${s##*) }	# fields 3 on, after the last ')' (comm may hold spaces)
	echo $((${12} + ${13}))
}

# CPU time (user + system) of a process, or of one thread, in ms.
cpu_ms() {
	local t
	t=$(cpu_ticks "$@") || return 1
	echo $((t * 1000 / $(getconf CLK_TCK)))
}

# sampled_cpu_ms PROF: the CPU time the target used while it was sampled,
# as cprof read it from /proc/PID/stat when sampling began and ended (the
# profile's "pid N used M ms of CPU while sampled" comment); empty when the
# profile does not say (a command, a target that exited).
sampled_cpu_ms() {
	pp_raw "$1" 2>/dev/null |
		sed -n 's/^Comment: cprof: .* used \([0-9][0-9]*\) ms of CPU while sampled.*/\1/p' | head -1
}

# record_p PID PROF ARGS...: cprof record -q -p PID -o PROF ARGS, and the
# CPU time the target used while it was sampled in REC_CPU_MS (see
# sampled_cpu_ms), else, when the profile does not say, the /proc delta
# over cprof's whole run. The window matters on a loaded machine: cprof's
# set-up before sampling (reading the target's modules) can take a second
# there, while the target runs unsampled.
record_p() {
	local pid=$1 prof=$2 c0 c1 rc=0 own
	shift 2
	c0=$(cpu_ms "$pid")
	"$CPROF" record -q -p "$pid" -o "$prof" "$@" || rc=$?
	c1=$(cpu_ms "$pid" 2>/dev/null || echo "$c0")
	REC_CPU_MS=$((c1 - c0))
	own=$(sampled_cpu_ms "$prof")
	if [ -n "$own" ]; then
		# The window lies within cprof's run (ticks of 10 ms aside).
		[ "$own" -le $((REC_CPU_MS + 20)) ] ||
			fail "cprof says pid $pid used $own ms of CPU while sampled, more than the $REC_CPU_MS ms of its whole run"
		REC_CPU_MS=$own
	fi
	return "$rc"
}

# wait_cpu PID MS [WHILE_PID]: until PID has used MS more ms of CPU, or
# has ended, or WHILE_PID (cprof) has. Samples follow the CPU a target got,
# not the clock: on CI's loaded machine a target got 80 ms of CPU in a
# "sleep 2" and 460 ms in a "--seconds 3".
wait_cpu() {
	local pid=$1 want=$2 w=${3:-} hz c0 c
	hz=$(getconf CLK_TCK)
	c0=$(cpu_ticks "$pid") || return 0	# ended
	while [ -z "$w" ] || kill -0 "$w" 2>/dev/null; do
		c=$(cpu_ticks "$pid") || return 0
		[ $(((c - c0) * 1000 / hz)) -ge "$want" ] && return 0
		sleep 0.05
	done
}

# stop_after_cpu PID MS REC: once PID has used MS more ms of CPU (or ended,
# or REC did), SIGINT to REC, the recording of it (cprof or perf, started
# with BG_PIDS+=), as a user's Ctrl-C; returns REC's exit status.
stop_after_cpu() {
	local rc=0
	wait_cpu "$1" "$2" "$3"
	kill -INT "$3" 2>/dev/null || true
	wait "$3" || rc=$?
	forget_bg "$3"
	return "$rc"
}

# record_cpu PID PROF MS ARGS...: cprof record -p PID -o PROF ARGS, stopped
# with SIGINT (as Ctrl-C) once the target has used MS ms of CPU since cprof
# said it was recording (wait_cpu), or when ARGS' --seconds run out if that
# comes first (the cap: give one, and a workload that lives longer). A count
# of samples then follows the CPU the target got, not the clock. cprof's
# standard error is left in $T/record_cpu.err; REC_CPU_MS as record_p sets it.
record_cpu() {
	local pid=$1 prof=$2 want=$3 rec rc=0 c0 err="$T/record_cpu.err"
	shift 3
	"$CPROF" record -p "$pid" -o "$prof" "$@" 2>"$err" &
	rec=$!
	BG_PIDS+=("$rec")
	# Its first line says the events are open; an early exit says why not.
	while kill -0 "$rec" 2>/dev/null && ! grep -q '^cprof: recording' "$err"; do
		sleep 0.05
	done
	c0=$(cpu_ms "$pid" 2>/dev/null) || c0=
	stop_after_cpu "$pid" "$want" "$rec" || rc=$?
	[ "$rc" -eq 0 ] || echo "$E2E_NAME: cprof record: $(cat "$err")" >&2
	REC_CPU_MS=$(sampled_cpu_ms "$prof")
	if [ -z "$REC_CPU_MS" ]; then
		REC_CPU_MS=$(( $(cpu_ms "$pid" 2>/dev/null || echo "${c0:-0}") - ${c0:-0} ))
	fi
	return "$rc"
}

# check_accounting LABEL PROF CPU_MS: the samples plus the samples the
# kernel dropped (the "N lost" comment) times the period account for the CPU
# time the target used, as docs/design.md §1 measured (469 vs 474). Independent
# of how busy the machine is, unlike a fixed sample count. The slack covers
# the 10 ms ticks of /proc and the moments between reading them and the
# events' start and stop.
check_accounting() {
	local label=$1 prof=$2 cpu=$3 raw lost period ns
	raw=$(pp_raw "$prof")
	lost=$(sed -n 's/^Comment: .*[^0-9]\([0-9][0-9]*\) lost.*/\1/p' <<<"$raw" | head -1)
	[ -n "$lost" ] || fail "$label: no 'N lost' count in the profile's comments"
	period=$(sed -n 's/^Period: //p' <<<"$raw")
	ns=$(awk '/^Samples:/ { s = 1; next } /^Locations/ { s = 0 } s && /^ *[0-9]+ +[0-9]+: / { n += $2 } END { printf "%.0f", n }' <<<"$raw")
	note "$label: profile $((ns / 1000000)) ms + $lost lost x $((period / 1000)) us; target used $cpu ms of CPU"
	awk -v p="$ns" -v l="$lost" -v q="$period" -v c="$cpu" 'BEGIN {
		t = (p + l * q) / 1e6; exit !(t >= 0.85 * c - 60 && t <= 1.1 * c + 60) }' ||
		fail "$label: profile accounts for $((ns / 1000000)) ms (+ $lost lost samples), the target used $cpu ms of CPU"
}

# enough_samples LABEL STACKS MIN: shares need MIN samples; fewer means the
# target hardly ran (a machine too busy to measure on) or cprof missed them.
enough_samples() {
	local n
	n=$(sample_count "$2")
	[ "$n" -ge "$3" ] || fail "$1: only $n samples, need $3 for the shares (machine too busy? $(cut -d' ' -f1-3 /proc/loadavg))"
}

run_cprof() {
	local _outv=$1 _errv=$2 _rcv=$3 _rc=0
	shift 3
	"$CPROF" "$@" >"$T/.out" 2>"$T/.err" || _rc=$?
	printf -v "$_outv" '%s' "$(cat "$T/.out")"
	printf -v "$_errv" '%s' "$(cat "$T/.err")"
	printf -v "$_rcv" '%s' "$_rc"
	rm -f "$T/.out" "$T/.err"
}
