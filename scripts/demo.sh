#!/usr/bin/env bash
# demo.sh - set up, build, then record a bundled example workload (a known
# call tree, built without frame pointers) for a few seconds and print what
# cprof found.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
"$top/scripts/setup.sh" "$build"

out=$(mktemp -d /tmp/cprof-demo.XXXXXX)
"$build/workloads/calltree_nofp" 8 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
sleep 0.3

echo "== cprof record -p $pid --seconds 3 -F 999 -o $out/cpu.pprof"
"$build/cprof" record -p "$pid" --seconds 3 -F 999 -o "$out/cpu.pprof"
echo
echo "== cprof report --top 12 $out/cpu.pprof"
"$build/cprof" report --top 12 "$out/cpu.pprof"
echo
echo "The workload splits its time a() 50%, b() 30%, c() 20% under run() and main."
echo "Explore it: go tool pprof -http=:8081 $out/cpu.pprof"
