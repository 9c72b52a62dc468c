#!/usr/bin/env bash
# test.sh - set up, then build and run the whole test suite twice, in a
# normal build and an AddressSanitizer + UndefinedBehaviorSanitizer build,
# and the fuzz targets briefly in a third (clang, libFuzzer).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" "$top/build"
# The workloads are built without sanitizers in both: the second takes the
# first's.
"$top/scripts/setup.sh" "$top/build-asan" -DCPROF_SANITIZE=ON \
	-DCPROF_WORKLOAD_DIR="$top/build/workloads"
# The fuzz targets (clang, libFuzzer): every input that once crashed one,
# then a few seconds of fuzzing each (scripts/fuzz.sh runs them longer).
CC=clang CXX=clang++ cmake -S "$top" -B "$top/build-fuzz" -DCPROF_FUZZ=ON >/dev/null
cmake --build "$top/build-fuzz" -j"$(nproc)" --target fuzzers >/dev/null

# A stray process spinning on a 2-core machine halves every figure after it
# and can starve the end-to-end tests: show what else runs.
busy=$(ps -eo pid,pcpu,comm --sort=-pcpu --no-headers | awk '$2 > 50' || true)
[ -z "$busy" ] || { echo "test: warning: busy processes:" >&2; echo "$busy" >&2; }

# The builds' suites run side by side, two tests at a time each: the
# tests are written to pass on a loaded machine (shares against what the
# workload measured of itself, the CPU time of the sampled window), and most
# of their time is spent waiting (a recording of N seconds, a workload's
# warm-up), so one suite after the other took over nine minutes. Each line
# is prefixed with the build it comes from.
run_suite() {	# run_suite BUILD_DIR
	local j=2 only=()
	[ "$1" = build-fuzz ] && j=1	# one fuzzer at a time beside the others
	# The package is built from the normal build: packaging the sanitized
	# binary again tests nothing more (e2e.package, label package).
	[ "$1" = build-asan ] && only=(-LE package)
	(cd "$top/$1" && ctest -j$j "${only[@]}" --output-on-failure --timeout 300) 2>&1 |
		sed -u "s/^/[$1] /"
	return "${PIPESTATUS[0]}"
}
pids=()
for b in build build-asan build-fuzz; do
	run_suite "$b" &
	pids+=($!)
done
status=0
for p in "${pids[@]}"; do
	wait "$p" || status=1
done
[ "$status" = 0 ] && echo "test: all suites passed" || echo "test: a suite failed (lines above with ***Failed)" >&2
exit $status
