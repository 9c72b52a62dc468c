#!/usr/bin/env bash
# test.sh - set up, then build and run the whole test suite twice, in a
# normal build and an AddressSanitizer + UndefinedBehaviorSanitizer build,
# and the fuzz targets briefly in a third (clang, libFuzzer). How the suite
# is split between the builds: tests/README.md.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" --deps-only

# A stray process spinning on a 2-core machine halves every figure after it
# and can starve the end-to-end tests: show what else runs.
busy=$(ps -eo pid,pcpu,comm --sort=-pcpu --no-headers | awk '$2 > 50' || true)
[ -z "$busy" ] || { echo "test: warning: busy processes:" >&2; echo "$busy" >&2; }

# The three trees build at once and each suite starts as soon as what it
# needs is built: the normal suite when the normal build is done, while the
# others still compile; the sanitizer suite when its build and the normal
# build's workloads (it takes them: built without sanitizers in both) are;
# the fuzz targets when all three are (below). One after the other, the
# builds alone took 375 s of a clean clone's run (at a load of 5-7), and
# the suites, which spend much of their time in recordings of N seconds,
# leave CPU to a compiler.
done_dir=$(mktemp -d)
trap 'rm -rf "$done_dir"' EXIT

build_tree() {	# build_tree DIR TARGET CMAKE_ARGS...: configure and build
	local dir=$1 target=$2 rc=0
	shift 2
	{ nice -n "${BUILD_NICE:-0}" cmake -S "$top" -B "$top/$dir" "$@" &&
		nice -n "${BUILD_NICE:-0}" cmake --build "$top/$dir" -j"$(nproc)" ${target:+--target "$target"}; } \
		>"$done_dir/$dir.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		tail -40 "$done_dir/$dir.log" | sed "s/^/[$dir] /" >&2
		echo "[$dir] test: build failed" >&2
		touch "$done_dir/$dir.failed"
		return 1
	fi
	echo "[$dir] test: built" >&2
	touch "$done_dir/$dir.ok"
}

wait_built() {	# wait_built DIR: until DIR's build ended; fails if it failed
	until [ -e "$done_dir/$1.ok" ] || [ -e "$done_dir/$1.failed" ]; do
		sleep 1
	done
	[ -e "$done_dir/$1.ok" ]
}

run_suite() {	# run_suite BUILD_DIR
	local j=2 only=()
	[ "$1" = build-fuzz ] && j=1	# one fuzzer at a time beside the others
	# Tests labelled normal-only (tests/CMakeLists.txt) run in the
	# normal build only: packaging, installing, the completion, the man
	# lint; what they run of cprof's C code the sanitizer suite reaches
	# through other tests (tests/README.md).
	[ "$1" = build-asan ] && only=(-LE normal-only)
	(cd "$top/$1" && ctest -j$j "${only[@]}" --output-on-failure --timeout 300) 2>&1 |
		sed -u "s/^/[$1] /"
	return "${PIPESTATUS[0]}"
}

pids=()
{ build_tree build "" -DCMAKE_BUILD_TYPE=RelWithDebInfo && run_suite build; } &
pids+=($!)
{ build_tree build-asan "" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCPROF_SANITIZE=ON \
	-DCPROF_WORKLOAD_DIR="$top/build/workloads" && wait_built build && run_suite build-asan; } &
pids+=($!)
# The fuzz targets (clang, libFuzzer): every input that once crashed one,
# then a few seconds of fuzzing each (scripts/fuzz.sh runs them longer).
# They start once the other two trees are built, beside the suites as
# before: libFuzzer's per-input limit (-timeout=10, tests/fuzz/run.sh) is
# of wall-clock time, and regress/pprof/empty_samples_8MB.gz takes 1.4 s
# of CPU; beside four compilers at a load of 30 it took 38 s.
# Its build yields to the other two (nice): their suites start as soon as
# they are built, the fuzz targets' only once all three are. (Beside other
# work at a load of 10, the three trees built at once took 7 minutes, the
# fuzz tree first.) The fuzzing itself runs at the usual priority: its
# per-input limit is of wall-clock time.
{ CC=clang CXX=clang++ BUILD_NICE=10 build_tree build-fuzz fuzzers -DCPROF_FUZZ=ON &&
	wait_built build && wait_built build-asan && run_suite build-fuzz; } &
pids+=($!)
status=0
for p in "${pids[@]}"; do
	wait "$p" || status=1
done
[ "$status" = 0 ] && echo "test: all suites passed" || echo "test: a suite failed (lines above with ***Failed)" >&2
exit $status
