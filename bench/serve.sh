#!/bin/bash
# bench/serve.sh - latency of cprof serve on a 100-thread target:
#   1. goroutine?debug=1, 200 requests one after another: p50/p99
#   2. the same, 20 concurrent clients x 10 requests (captures are shared)
#   3. profile?seconds=5: time from the end of the 5 s window to the last
#      byte, measured as curl's total time - 5 s (an upper bound: it also
#      holds opening the perf events before the window starts)
#   4. --all over N=20 processes (4 threads each): cprof's CPU and RSS over
#      20 s idle (the /proc scan alone), then over 20 s of one
#      goroutine?debug=1 per process per second through /pid/PID
#   5. Grafana Alloy's scrape pattern (tests/e2e/scrape_sim.py: profile,
#      block and mutex with seconds=14 every 15 s, goroutine, allocs)
#      against 3 workloads, one cprof serve -p each, for SCRAPE_SECONDS
#      (600): each serve's CPU and RSS and the total, RSS, descriptors and
#      threads of the first and last minute, the workloads' heartbeats, and
#      p50/p99 of goroutine?debug=1 while CPU profiles are being taken
# usage: [SCRAPE_SECONDS=600] bench/serve.sh [BUILD_DIR]   (default: build;
# needs cprof and the server_target workload built there)
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
CPROF=$B/cprof
TARGET=$B/workloads/server_target_nofp
[ -x "$CPROF" ] && [ -x "$TARGET" ] || { echo "build cprof and server_target_nofp in $B first" >&2; exit 2; }
D=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$D"
}
trap cleanup EXIT

"$TARGET" 98 300 "$D/hb" & PIDS+=($!)
TP=$!
for _ in $(seq 100); do [ "$(ls /proc/$TP/task | wc -l)" -eq 100 ] && break; sleep 0.05; done
"$CPROF" serve -p "$TP" --http 127.0.0.1:0 -q 2>"$D/log" & PIDS+=($!)
for _ in $(seq 100); do grep -q listening "$D/log" && break; sleep 0.05; done
BASE=$(grep -o 'http://[^ ]*/debug/pprof' "$D/log")
curl -sf -o /dev/null "$BASE/goroutine?debug=1"

pct() {	# FILE P: the P-th percentile of the numbers in FILE, in ms
	sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int((NR * p + 99) / 100); if (i < 1) i = 1; printf "%.1f", v[i] * 1000 }'
}

for i in $(seq 200); do
	curl -sf -o /dev/null -w '%{time_total}\n' "$BASE/goroutine?debug=1"
done >"$D/seq"
echo "goroutine?debug=1, 100 threads, 200 sequential requests: p50 $(pct "$D/seq" 50) ms, p99 $(pct "$D/seq" 99) ms"

clients=()
for c in $(seq 20); do
	( for i in $(seq 10); do curl -sf -o /dev/null -w '%{time_total}\n' "$BASE/goroutine?debug=1"; done >"$D/par.$c" ) &
	clients+=($!)
done
for p in "${clients[@]}"; do wait "$p"; done
cat "$D"/par.* >"$D/par"
echo "goroutine?debug=1, 20 concurrent clients x 10: p50 $(pct "$D/par" 50) ms, p99 $(pct "$D/par" 99) ms ($(wc -l <"$D/par") requests)"

t=$(curl -sf -o "$D/cpu.pprof" -w '%{time_total}' "$BASE/profile?seconds=5")
echo "profile?seconds=5: total $t s; end of window to last byte <= $(awk -v t="$t" 'BEGIN { printf "%.0f", (t - 5) * 1000 }') ms ($(stat -c %s "$D/cpu.pprof") bytes)"

# 4. --all: the cost of the registry.
N=20
for i in $(seq $N); do "$TARGET" 2 300 "$D/all.hb$i" & PIDS+=($!); done
"$CPROF" serve --all --match "$(basename "$D")/all\.hb" --http 127.0.0.1:0 -q 2>"$D/alog" & PIDS+=($!)
AP=$!
for _ in $(seq 100); do grep -qs listening "$D/alog" && break; sleep 0.05; done
AURL=$(grep -o 'http://[^ ]*/debug/pprof' "$D/alog" | sed 's|/debug/pprof$||')
for _ in $(seq 100); do [ "$(curl -sf "$AURL/targets" | grep -c '"pid"')" -eq $N ] && break; sleep 0.1; done
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)
a=$(ticks "$AP"); sleep 20; b=$(ticks "$AP")
echo "--all, $N processes served ($(ls /proc | grep -c '^[0-9]') in /proc), idle 20 s: CPU $(awk -v t=$((b - a)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }') s, RSS $(rss "$AP") KiB"
mapfile -t APIDS < <(curl -sf "$AURL/targets" | grep -o '"pid":"[0-9]*"' | grep -o '[0-9]*')
a=$(ticks "$AP")
end=$(($(date +%s) + 20))
while [ "$(date +%s)" -lt "$end" ]; do
	cps=()
	for p in "${APIDS[@]}"; do curl -sf -o /dev/null "$AURL/pid/$p/debug/pprof/goroutine?debug=1" & cps+=($!); done
	for c in "${cps[@]}"; do wait "$c" || true; done
	sleep 1
done
b=$(ticks "$AP")
echo "--all, $N processes, goroutine?debug=1 of each every ~1 s for 20 s: CPU $(awk -v t=$((b - a)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }') s ($(awk -v t=$((b - a)) -v hz="$HZ" -v n=$N 'BEGIN { printf "%.3f", t / hz / n }') s per process), RSS $(rss "$AP") KiB"

# 5. The scrape pattern: three more workloads (4 parked threads each), a
# serve for each.
specs=()
for i in 1 2 3; do
	"$TARGET" 4 $((${SCRAPE_SECONDS:-600} + 120)) "$D/hb$i" & PIDS+=($!)
	tp=$!
	for _ in $(seq 100); do [ -s "$D/hb$i" ] && break; sleep 0.05; done
	"$CPROF" serve -p "$tp" --http 127.0.0.1:0 -q 2>"$D/log$i" & PIDS+=($!)
	sp=$!
	for _ in $(seq 100); do grep -q listening "$D/log$i" && break; sleep 0.05; done
	specs+=(--target "target$i,$(grep -o 'http://[^ ]*/debug/pprof' "$D/log$i"),$D/hb$i,$sp")
done
python3 "$SRC/tests/e2e/scrape_sim.py" --duration "${SCRAPE_SECONDS:-600}" --interval 15 \
	--seconds 14 --sample 10 --latency-probe --json "${SCRAPE_JSON:-/dev/null}" "${specs[@]}"
