#!/bin/bash
# record_threads: threads created after the recording began are sampled
# (docs/design.md §1: inherit does not reach them unless the events follow new
# threads), and every sample carries a numeric thread_id and the right
# thread_name. Also checked with pprof's own -tags view.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

for variant in nofp fp; do
	wl="$WORKLOAD_DIR/late_threads_$variant"
	# the workers start when told (SIGUSR1), once sampling has begun,
	# and spin until the workload's 60 s are up
	start_bg "$wl" 60 60000
	pid=$BG_PID
	wait_exec "$pid" "$wl"
	[ "$(ls "/proc/$pid/task" | wc -l)" -eq 1 ] ||
		fail "$variant: workers already running before recording began"
	prof="$T/$variant.pprof"
	"$CPROF" record -p "$pid" -o "$prof" --seconds 3 -F 999 2>"$T/$variant.err" &
	rec=$!
	BG_PIDS+=("$rec")
	# cprof says "recording pid ..." once the events are enabled
	wait_for 60 "sampling to begin" grep -q "recording pid $pid" "$T/$variant.err"
	kill -USR1 "$pid"
	wait "$rec" || fail "cprof record on late_threads_$variant exited $?: $(cat "$T/$variant.err")"
	# the workers' CPU time so far: all of it after recording began, and
	# but for cprof's last milliseconds, while it sampled
	kill -STOP "$pid"
	declare -A wcpu=()
	for task in /proc/"$pid"/task/*; do
		tname=$(cat "$task/comm" 2>/dev/null || true)
		case $tname in worker-a|worker-b) wcpu[$tname]=$(cpu_ms "$pid" "${task##*/}") ;; esac
	done
	stop_bg "$pid"
	cpu=$(sampled_cpu_ms "$prof")
	[ -n "$cpu" ] || fail "$variant: the profile does not say how much CPU the target used"
	check_accounting "$variant" "$prof" "$cpu"
	check_profile "$prof"
	stacks="$T/$variant.stacks"
	pp_stacks "$prof" >"$stacks"

	# every sample labelled, ids numeric
	bad=$(awk -F '\t' '$2 !~ /^[0-9]+$/ || $3 == "-"' "$stacks" | wc -l)
	[ "$bad" -eq 0 ] || fail "$variant: $bad samples without a numeric thread_id and a thread_name"

	for w in a b; do
		n=$(awk -F '\t' -v t="worker-$w" '$3 == t { n += $1 } END { print n + 0 }' "$stacks")
		# the worker spins for most of the 3 s recorded at 999 Hz
		# (~2500 samples on an idle machine): its samples account for
		# most of its CPU time up to the end of the recording
		c=${wcpu[worker-$w]:-}
		[ -n "$c" ] || fail "$variant: thread worker-$w not found in /proc"
		[ "$n" -ge 20 ] && [ $((n * 1000)) -ge $((c * 999 * 8 / 10 - 60000)) ] ||
			fail "$variant: $n samples from thread worker-$w, which used $c ms of CPU"
		# its samples are in its own loop
		right=$(awk -F '\t' -v t="worker-$w" -v f="worker_${w}_loop" '
			$3 == t { n = split($4, fr, ";"); for (i = 1; i <= n; i++) if (fr[i] == f) { s += $1; break } }
			END { print s + 0 }' "$stacks")
		[ $((right * 100)) -ge $((n * 95)) ] ||
			fail "$variant: only $right of $n worker-$w samples are in worker_${w}_loop"
		ids=$(awk -F '\t' -v t="worker-$w" '$3 == t { print $2 }' "$stacks" | sort -u)
		[ "$(wc -l <<<"$ids")" -eq 1 ] || fail "$variant: worker-$w has several thread ids: $ids"
		# the id is a thread of the target: a TID other than the main one
		[ "$ids" != "$pid" ] || fail "$variant: worker-$w labelled with the main thread's id"
		eval "id_$w=\$ids"
		note "$variant: worker-$w tid $ids, $n samples, $c ms of CPU"
	done
	[ "$id_a" != "$id_b" ] || fail "$variant: worker-a and worker-b share thread id $id_a"
	# pprof's own label view agrees
	tags=$(gopprof -symbolize=none -tags "$prof" 2>&1) || fail "go tool pprof -tags failed: $tags"
	grep -q 'thread_name' <<<"$tags" || fail "$variant: -tags shows no thread_name: $tags"
	grep -q 'worker-a' <<<"$tags" && grep -q 'worker-b' <<<"$tags" ||
		fail "$variant: -tags does not list both workers: $tags"
	grep -q 'thread_id' <<<"$tags" || fail "$variant: -tags shows no thread_id"
done
pass
