#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets (clang, ASan+UBSan, in build-fuzz)
# and run each for SECONDS (default 60) from its seed corpus and the
# inputs that once crashed it. Prints runs, runs per second and edges
# covered per target. New inputs stay in build-fuzz/fuzz-work/NAME/corpus;
# a crash fails with the input kept and the command that replays it.
# Usage: scripts/fuzz.sh [SECONDS [NAME...]]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
"$top/scripts/setup.sh" "$top/build" >/dev/null	# the Debian packages
b="$top/build-fuzz"
CC=clang CXX=clang++ cmake -S "$top" -B "$b" -DCPROF_FUZZ=ON -DFUZZ_SECONDS="$secs" >/dev/null
cmake --build "$b" -j"$(nproc)" --target fuzzers >/dev/null
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(pprof procfs ringbuf http perfmap elf)
status=0
for n in "${names[@]}"; do
	[ -x "$b/tests/fuzz/fuzz_$n" ] || { echo "fuzz: no target '$n'" >&2; exit 64; }
	FUZZ_DIR="$top/tests/fuzz" FUZZ_WORK="$b/fuzz-work" \
		bash "$top/tests/fuzz/run.sh" "$b/tests/fuzz/fuzz_$n" "$n" "$secs" || status=1
done
exit $status
