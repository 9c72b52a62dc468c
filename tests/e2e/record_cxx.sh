#!/bin/bash
# record_cxx: C++ names are demangled in Function.name (what pprof shows),
# with the raw mangled name kept as Function.system_name; overloads stay
# apart.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

wl="$WORKLOAD_DIR/cxxtree_nofp"
start_bg "$wl" 45
pid=$BG_PID
wait_exec "$pid" "$wl"
record_cpu "$pid" "$T/cxx.pprof" 500 --seconds 30 -F 999 || fail "cprof record exited $?"
stop_bg "$pid"
check_profile "$T/cxx.pprof"
pp_stacks "$T/cxx.pprof" >"$T/stacks"
enough_samples cxx "$T/stacks" 100

# pp_stacks cuts names at blanks: "shapes::churn(long," stands for the
# overload taking (long, int).
for f in 'shapes::Tree<long>::walk(int)' 'shapes::churn(long,' 'shapes::churn(double,'; do
	share=$(awk -F '\t' -v f="$f" '{ t += $1; n = split($4, fr, ";"); for (i = 1; i <= n; i++) if (index(fr[i], f) == 1) { s += $1; break } }
		END { printf "%.0f", t ? 100 * s / t : 0 }' "$T/stacks")
	[ "$share" -ge 5 ] || fail "demangled '$f' has $share% of the samples: $(cut -f4 "$T/stacks" | sort | uniq -c | sort -rn | head -5)"
done
# the raw names are in the profile too, as system names
# (-o and sort -u: two names can share a line when the length byte between
# them is printable, and grep -c counts lines)
# (two names may share a line of printable bytes: count distinct matches)
strings_found=$(gzip -dc "$T/cxx.pprof" | tr -c '[:print:]' '\n' |
	grep -o -E '_ZN6shapes(4TreeIlE4walkEi|5churnEli|5churnEdi)' | sort -u | wc -l)
[ "$strings_found" -ge 3 ] || fail "mangled system names missing from the string table ($strings_found of 3)"
pass "C++ names demangled, mangled names kept, overloads distinct"
