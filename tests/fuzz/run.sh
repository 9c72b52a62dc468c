#!/bin/bash
# run.sh FUZZER NAME SECONDS: every input of regress/NAME and corpus/NAME
# once, then SECONDS of fuzzing from them (new inputs go to a scratch
# corpus, not the source tree). A crash, leak or timeout fails, and the
# input that did it is kept under $FUZZ_WORK/NAME/ with the command that
# replays it.
set -euo pipefail
fuzzer=$1 name=$2 secs=$3
: "${FUZZ_DIR:?}" "${FUZZ_WORK:?}"
w="$FUZZ_WORK/$name"
rm -rf "$w"
mkdir -p "$w/corpus" "$w/artifacts"
dirs=("$w/corpus" "$FUZZ_DIR/corpus/$name")
[ -d "$FUZZ_DIR/regress/$name" ] && dirs+=("$FUZZ_DIR/regress/$name")
rc=0
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$w/artifacts/" "${dirs[@]}" >"$w/log" 2>&1 || rc=$?
cov=$(grep -o 'cov: [0-9]*' "$w/log" | tail -1 || true)
edges=$(sed -n 's/.*Loaded 1 modules *(\([0-9]*\) inline 8-bit counters.*/\1/p' "$w/log" | head -1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log")
eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$w/log")
echo "fuzz $name: ${execs:-?} runs, ${eps:-?}/s, ${cov:-cov: ?} of ${edges:-?} instrumented edges, rc $rc"
if [ "$rc" != 0 ]; then
	grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$w/log" | head -20 >&2
	for a in "$w"/artifacts/*; do
		[ -e "$a" ] && echo "replay: $fuzzer $a   (then add it to tests/fuzz/regress/$name/)" >&2
	done
	exit 1
fi
