#!/bin/bash
# bench/flame.sh - the HTML flame graph of cprof against go tool pprof's,
# on synthetic CPU profiles with 1k, 10k and 50k distinct stacks
# (bench/flame_synth.py):
#   write   CPU time (user + system) of cprof report --format html; pprof:
#           the CPU time its server spends answering /ui/flamegraph (from
#           /proc/PID/stat around the request). Best of 3.
#   size    of the page (pprof: the page, its script and data inline)
#   load    CPU time of headless chromium (all its processes) to load the
#           page and run its script (--dump-dom), minus the same for
#           about:blank. Best of 3. CPU, not wall time: the figures hold on
#           a shared, loaded machine.
#   draw    cprof only: the page's own performance.now() at its first
#           picture (body data-first-draw-ms): wall time, so only
#           meaningful on an idle machine
# usage: bench/flame.sh [BUILD_DIR] [SIZES...]   (default: build 1000 10000 50000)
# PPROF_RUNS="1" loads pprof's page once instead of 3 times (it is slow).
set -euo pipefail
die() { echo "bench/flame.sh: $*" >&2; exit 2; }
source "$(dirname "$0")/lib.sh"
B=$(cd "${1:-build}" && pwd)
shift || true
SIZES=("${@:-1000 10000 50000}")
# shellcheck disable=SC2206
SIZES=(${SIZES[*]})
CPROF=$B/cprof
[ -x "$CPROF" ] || die "build cprof in $B first"
D=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$D"
}
trap cleanup EXIT

best() { sort -n | head -1; }

cpu_of() {	# CMD...: user + system ms of CMD and the children it waited for
	/usr/bin/time -f '%U %S' -o "$D/time" "$@" >/dev/null 2>&1 || die "$1 failed"
	awk '{ printf "%.0f\n", ($1 + $2) * 1000 }' "$D/time"
}

# CHROME_TIMEOUT (default 600 s): a page that takes longer counts as
# failed (pprof's page for 50k stacks is ~180 MB).
chrome() {	# URL OUT: CPU ms of a --dump-dom run, or 999999999 when it failed
	if /usr/bin/time -f '%U %S' -o "$D/time" timeout "${CHROME_TIMEOUT:-600}" chromium \
		--headless --no-sandbox --disable-gpu --enable-unsafe-swiftshader \
		--disable-dev-shm-usage --no-zygote --user-data-dir="$D/chrome" \
		--window-size=1400,900 --virtual-time-budget=30000 --dump-dom "$1" >"$2" 2>/dev/null; then
		awk '{ printf "%.0f\n", ($1 + $2) * 1000 }' "$D/time"
	else
		echo 999999999
	fi
}

proc_cpu_ms() {	# PID: its user + system time so far
	sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($12 + $13) * 1000 / hz }'
}

quiet_wait
blank=$(for _ in 1 2 3; do chrome about:blank "$D/blank.html"; done | best)
echo "chromium on about:blank: $blank ms of CPU (subtracted below); load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-7s | %-34s | %-28s | %s\n" stacks "cprof: write   size   load  draw" "pprof: write   size   load" "pprof/cprof: write load"
for n in "${SIZES[@]}"; do
	prof=$D/s$n.pprof
	python3 "$(dirname "$0")/flame_synth.py" "$n" "$prof"
	# cprof
	cw=$(for _ in 1 2 3; do cpu_of "$CPROF" report --format html -o "$D/c.html" "$prof"; done | best)
	csize=$(stat -c %s "$D/c.html")
	cl=$(for _ in 1 2 3; do chrome "file://$D/c.html" "$D/cdom.html"; done | best)
	[ "$cl" -lt 999999999 ] || die "chromium failed on cprof's page for $n stacks"
	grep -q 'data-ready="1"' "$D/cdom.html" || die "cprof's page did not finish for $n stacks"
	cdraw=$(sed -n 's/.*data-first-draw-ms="\([0-9.]*\)".*/\1/p' "$D/cdom.html" | head -1)
	# pprof
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# the pprof binary itself (go tool pprof would run it as a child),
	# so that its CPU time is that of the PID
	HOME=$D/gohome PPROF_TMPDIR=$D/pprof "$(go env GOTOOLDIR)/pprof" -no_browser -symbolize=none \
		-http="127.0.0.1:$port" "$prof" >"$D/pprof.log" 2>&1 &
	PIDS+=($!)
	pp=$!
	for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
	url="http://127.0.0.1:$port/ui/flamegraph"
	pw=$(for _ in 1 2 3; do
		c0=$(proc_cpu_ms "$pp")
		curl -sf -o "$D/p.html" "$url" || die "pprof's $url failed"
		c1=$(proc_cpu_ms "$pp")
		echo $((c1 - c0))
	done | best)
	psize=$(stat -c %s "$D/p.html")
	pl=$(for _ in ${PPROF_RUNS:-1 2 3}; do chrome "$url" "$D/pdom.html"; done | best)
	kill "$pp"; wait "$pp" 2>/dev/null || true
	cnet=$((cl - blank)); pnet=$((pl - blank))
	[ "$pl" -lt 999999999 ] || pnet=">${CHROME_TIMEOUT:-600}s"
	[ "$cnet" -gt 0 ] || cnet=1
	[ "$cw" -gt 0 ] || cw=1
	printf "%-7s | %5s ms %5s kB %5s ms %5s ms | %5s ms %5s kB %5s ms | %5s %5s\n" "$n" \
		"$cw" $((csize / 1024)) "$cnet" "${cdraw}" "$pw" $((psize / 1024)) "$pnet" \
		"$(awk -v a="$pw" -v b="$cw" 'BEGIN { printf "%.1f", a / b }')" \
		"$(awk -v a="$pnet" -v b="$cnet" 'BEGIN { if (a ~ /^>/) print "-"; else printf "%.1f", a / b }')"
done
