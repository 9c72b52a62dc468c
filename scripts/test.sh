#!/usr/bin/env bash
# test.sh - set up, then build and run the whole test suite twice: a normal
# build and an AddressSanitizer + UndefinedBehaviorSanitizer build.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" "$top/build"
"$top/scripts/setup.sh" "$top/build-asan" -DCPROF_SANITIZE=ON

# A stray process spinning on a 2-core machine halves every figure after it
# and can starve the end-to-end tests: show what else runs.
busy=$(ps -eo pid,pcpu,comm --sort=-pcpu --no-headers | awk '$2 > 50' || true)
[ -z "$busy" ] || { echo "test: warning: busy processes:" >&2; echo "$busy" >&2; }

# Two tests at a time: they are written to pass on a loaded machine (shares
# against what the workload measured of itself, the CPU time of the sampled
# window), and one at a time the two builds' suites take over ten minutes.
status=0
for b in build build-asan; do
	echo "== ctest in $b"
	(cd "$top/$b" && ctest -j2 --output-on-failure --timeout 300) || status=1
done
exit $status
