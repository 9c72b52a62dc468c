#!/bin/bash
# record_inline: the always-inlined inl_mix shows as an inline frame of hot,
# in the same Location, with its own file:line, and hot's line is the call
# site (DW_AT_call_line), as eu-stack -i shows them (docs/design.md §4).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

src="$SOURCE_DIR/tests/workloads/inline.c"
# inl_mix's body and hot's call of it, from markers in the source
mix_first=$(grep -n 'uint64_t inl_mix(' "$src" | cut -d: -f1)
mix_last=$(grep -n 'INL_MIX_LINE' "$src" | cut -d: -f1)
call_line=$(grep -n 'INL_CALL_LINE' "$src" | cut -d: -f1)
[ -n "$mix_first" ] && [ -n "$mix_last" ] && [ -n "$call_line" ] ||
	fail "markers not found in $src"

wl="$WORKLOAD_DIR/inline_nofp"
start_bg "$wl" 45
pid=$BG_PID
wait_exec "$pid" "$wl"
prof="$T/inline.pprof"
record_cpu "$pid" "$prof" 600 --seconds 30 -F 999 || fail "cprof record exited $?"
check_accounting inline "$prof" "$REC_CPU_MS"
stop_bg "$pid"
check_profile "$prof"

# 1. the whole chain, inline frame innermost first
pp_stacks "$prof" >"$T/stacks"
chain=$(awk -F '\t' '$4 ~ /^inl_mix;hot;middle;outer;main(;|$)/ { s += $1 } { t += $1 } END { printf "%d %d\n", s, t }' "$T/stacks")
read -r inchain total <<<"$chain"
note "$inchain of $total samples are inl_mix;hot;middle;outer;main"
enough_samples inline "$T/stacks" 200
[ $((inchain * 100)) -ge $((total * 80)) ] || fail "only $inchain of $total samples have the chain inl_mix;hot;middle;outer;main"

# 2. in the -raw Locations: a Location whose first line is inl_mix at a line
#    of its body, and whose next line is hot at the call site, both in inline.c
raw=$(pp_raw "$prof")
locs=$(awk '
	/^Locations/ { l = 1; next }
	/^Mappings/ { l = 0 }
	l && /^ *[0-9]+: 0x/ { first = $0; next }
	l && /^             [^ ]/ { print first " || " $0; first = "" }' <<<"$raw")
grep -q 'inl_mix' <<<"$locs" || fail "no Location has inl_mix with an outer inline line: $(grep -m5 inl_mix <<<"$raw")"
good=$(awk -v a="$mix_first" -v b="$mix_last" -v c="$call_line" '
	{
		split($0, h, " \\|\\| ")
		n1 = split(h[1], f1, " "); n2 = split(h[2], f2, " ")
		# first: ID: ADDR [M=N] inl_mix FILE:LINE s=N
		for (i = 1; i <= n1; i++) if (f1[i] == "inl_mix") break
		if (i > n1) next
		fl1 = f1[i + 1]; fl2 = f2[2]
		if (f2[1] != "hot") next
		l1 = fl1; sub(/.*:/, "", l1); l2 = fl2; sub(/.*:/, "", l2)
		if (fl1 !~ /inline\.c:/ || fl2 !~ /inline\.c:/) next
		if (l1 + 0 >= a && l1 + 0 <= b + 1 && l2 + 0 == c) print
	}' <<<"$locs" | head -1)
[ -n "$good" ] || fail "no Location with inl_mix at inline.c:$mix_first-$mix_last under hot at inline.c:$call_line: $(grep inl_mix <<<"$locs" | head -3)"
note "location: $good"

# 3. pprof's -lines view shows inl_mix with its own file:line
lines=$(gopprof -symbolize=none -lines -top "$prof" 2>/dev/null)
grep -Eq "inl_mix .*inline\.c:[0-9]+" <<<"$lines" || fail "pprof -lines -top shows no inl_mix file:line: $(head -15 <<<"$lines")"
# and the traces view marks it (inline)
traces=$(gopprof -symbolize=none -traces "$prof" 2>/dev/null)
grep -Eq "inl_mix \(inline\)" <<<"$traces" || fail "pprof -traces does not mark inl_mix (inline)"
pass
