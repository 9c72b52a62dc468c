# report: `cprof report` reads a CPU profile written by Go's own runtime/pprof
# (an independent writer) and prints the same table as `go tool pprof -top`;
# input that is not a profile, and bad command lines, get their errors.
set -euo pipefail
. "$SOURCE_DIR/tests/e2e/lib.sh"
t_init

# A Go program that profiles its own busy loop for about a second.
mkdir -p "$T/gobusy"
cat >"$T/gobusy/go.mod" <<'EOF'
module gobusy

go 1.19
EOF
cat >"$T/gobusy/main.go" <<'EOF'
package main

import (
	"os"
	"runtime/pprof"
	"syscall"
)

var sink uint64

//go:noinline
func spinA(n int) uint64 {
	var x uint64
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

//go:noinline
func spinB(n int) uint64 { return spinA(n/2) ^ spinA(n/2) }

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	// One second of CPU, not of wall: on a loaded machine a second of
	// wall gave Go's 100 Hz profiler a handful of samples.
	for cpu := 0.0; cpu < 1.0; {
		sink += spinA(100000)
		sink += spinB(300000)
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		cpu = float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
	}
	pprof.StopCPUProfile()
	f.Close()
}
EOF
gohome="$TEST_TMP/gohome"
mkdir -p "$gohome"
(cd "$T/gobusy" && HOME="$gohome" GOCACHE="$gohome/cache" GOPATH="$gohome/go" \
	GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
	timeout 120 go build -o gobusy .) || fail "go build of the Go workload failed"
timeout 30 "$T/gobusy/gobusy" "$T/go.pprof" || fail "the Go workload failed"
[ -s "$T/go.pprof" ] || fail "the Go workload wrote no profile"

run_cprof out err rc report "$T/go.pprof"
[ "$rc" -eq 0 ] || fail "cprof report on Go's profile exited $rc: $err"
grep -q '^Type: cpu$' <<<"$out" || fail "no 'Type: cpu' line: $out"
grep -Eq '  main\.spinA$' <<<"$out" || fail "main.spinA missing: $out"
grep -Eq '  main\.spinB$' <<<"$out" || fail "main.spinB missing: $out"
grep -Eq '  main\.main$' <<<"$out" || fail "main.main missing: $out"
# spinA does all the work: the first row, most of the flat time.
first=$(grep -A1 '^ *flat  flat%' <<<"$out" | tail -n 1)
grep -Eq '  main\.spinA$' <<<"$first" || fail "main.spinA is not the top row: $first"

# The whole table, figure for figure, as go tool pprof prints it.
for st in cpu samples; do
	run_cprof out err rc report --top 0 --sample-type "$st" "$T/go.pprof"
	[ "$rc" -eq 0 ] || fail "cprof report --sample-type $st exited $rc: $err"
	theirs=$(gopprof -top -sample_index="$st" "$T/go.pprof" 2>&1) ||
		fail "go tool pprof -top failed: $theirs"
	[ "$out" = "$theirs" ] || {
		diff <(echo "$theirs") <(echo "$out") >&2 || true
		fail "cprof report --sample-type $st differs from go tool pprof -top"
	}
done

# Raw (not gzipped) protobuf reads the same.
gzip -dc <"$T/go.pprof" >"$T/go.raw"
run_cprof raw err rc report --top 0 "$T/go.raw"
run_cprof out err rc report --top 0 "$T/go.pprof"
[ "$raw" = "$out" ] || fail "raw and gzipped copies of the profile report differently"

# --top N: N rows after the header line.
run_cprof out err rc report --top 1 "$T/go.pprof"
[ "$rc" -eq 0 ] || fail "--top 1 exited $rc"
rows=$(sed -n '/^ *flat  flat%/,$p' <<<"$out" | tail -n +2 | wc -l)
[ "$rows" -eq 1 ] || fail "--top 1 printed $rows rows: $out"

# Not a profile: one error line naming the file and the reason, a hint, exit 2.
run_cprof out err rc report /etc/passwd
[ "$rc" -eq 2 ] || fail "report /etc/passwd exited $rc, not 2"
grep -q "^cprof: '/etc/passwd' is not a pprof profile: " <<<"$err" ||
	fail "report /etc/passwd: wrong error: $err"
grep -q '^hint: ' <<<"$err" || fail "report /etc/passwd: no hint: $err"
[ -z "$out" ] || fail "report /etc/passwd wrote to stdout: $out"

size=$(stat -c %s "$T/go.pprof")
head -c $((size / 2)) "$T/go.pprof" >"$T/cut.pprof"
run_cprof out err rc report "$T/cut.pprof"
[ "$rc" -eq 2 ] || fail "truncated profile exited $rc"
grep -q "is not a pprof profile: gzip data truncated" <<<"$err" ||
	fail "truncated profile: wrong error: $err"

run_cprof out err rc report "$T/missing.pprof"
[ "$rc" -eq 2 ] || fail "missing file exited $rc"
grep -q "'$T/missing.pprof'" <<<"$err" || fail "missing file not named: $err"

# Command-line errors: exit 64.
run_cprof out err rc report --bogus "$T/go.pprof"
[ "$rc" -eq 64 ] || fail "--bogus exited $rc, not 64"
grep -q -- "--bogus" <<<"$err" || fail "--bogus not named: $err"
run_cprof out err rc report --top lots "$T/go.pprof"
[ "$rc" -eq 64 ] || fail "--top lots exited $rc, not 64"
run_cprof out err rc report
[ "$rc" -eq 64 ] || fail "no FILE exited $rc, not 64"
run_cprof out err rc report --sample-type nosuch "$T/go.pprof"
[ "$rc" -eq 64 ] || fail "--sample-type nosuch exited $rc, not 64"
grep -q 'samples, cpu' <<<"$err" || fail "--sample-type nosuch: types not listed: $err"

run_cprof out err rc report --help
[ "$rc" -eq 0 ] || fail "--help exited $rc"
grep -q 'examples:' <<<"$out" || fail "--help has no examples"
grep -q 'default 20' <<<"$out" || fail "--help does not show the default --top"

pass "Go's profile reported as go tool pprof does; errors checked"
