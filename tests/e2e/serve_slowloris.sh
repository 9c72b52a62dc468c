# serve_slowloris.sh - slow clients cannot lock others out of cprof serve:
# 64 clients, each sending one header line every 4 s and never finishing
# its headers (slowloris), while a normal client keeps asking; and a cap on
# the connections of one address.
#
# Why each check fails without the guards (docs/design.md §9): the old
# server capped connections at 64 in all, so the 64 slow ones took every
# slot and libmicrohttpd closed the normal client's connection at accept
# (curl: empty reply, code 000) - a status failure, not a timing one. Its
# only timeout counted idle time, which a header line every 4 s resets, so
# slow connections lived until their client gave up (max_life = the
# helper's whole 24 s); the header deadline (10 s) closes them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.bash"
t_init

SLOW=$(dirname "$0")/slowloris.py
# No CPU profile of it is read here: its burner runs 5 ms in 100, not
# half a CPU all the test long (tests/workloads/server_target.c).
export SERVER_TARGET_PAUSE_MS=95
target_start 2 290
serve_start "$TARGET_PID" -q

# 64 slow clients from 127.0.0.2 (loopback is a /8: any 127.x.y.z is ours).
start_bg timeout 90 /usr/bin/python3 "$SLOW" slow 127.0.0.1 "$PORT" 127.0.0.2 64 4 24 "$T/ready" >"$T/slow.out"
SLOW_PID=$BG_PID
wait_for 30 "the 64 slow clients to connect" test -s "$T/ready"
[ "$(cat "$T/ready")" = 64 ] || fail "only $(cat "$T/ready") of the 64 slow clients connected"
# The normal client, from 127.0.0.1: 12 requests over ~15 s. Its answers
# take milliseconds; 5 s is a bound that holds on a loaded machine, far
# below the header deadline a queued client would wait for.
worst=0
for i in $(seq 1 12); do
	out=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' --max-time 30 \
		"$BASE/cmdline" 2>"$T/curl.err") || out="000 0"
	code=${out% *}
	t=${out#* }
	[ "$code" = 200 ] || fail "request $i from a normal client during the slow ones: status $code ($(cat "$T/curl.err"))"
	worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a) ? b : a }')
	sleep 1
done
awk -v w="$worst" 'BEGIN { exit !(w < 5) }' ||
	fail "the normal client waited ${worst}s for an answer"
note "normal client: 12 answers, the slowest in ${worst}s"

wait "$SLOW_PID" || fail "slowloris.py failed"
forget_bg "$SLOW_PID"
read -r conns closed life <<<"$(cat "$T/slow.out")"
note "slow clients: $conns $closed $life"
closed=${closed#closed_by_server=}
life=${life#max_life=}
[ "$closed" -ge 64 ] || fail "the server closed $closed slow connections, expected each of the 64 at least once"
awk -v l="$life" 'BEGIN { exit !(l < 20) }' ||
	fail "a slow connection lived ${life}s: no header deadline (10 s)"
fetch "$BASE/cmdline"
[ "$CODE" = 200 ] || fail "after the slow clients: status $CODE"
stop_bg "$SERVE_PID"

# One address gets --max-clients-per-ip connections; others still get in.
serve_start "$TARGET_PID" -q --max-clients-per-ip 16
start_bg timeout 30 /usr/bin/python3 "$SLOW" hold 127.0.0.1 "$PORT" 127.0.0.3 40 3 >"$T/hold.out"
HOLD_PID=$BG_PID
sleep 1
fetch "$BASE/cmdline"
[ "$CODE" = 200 ] || fail "with 40 connections from 127.0.0.3: status $CODE from 127.0.0.1"
wait "$HOLD_PID" || fail "slowloris.py hold failed"
forget_bg "$HOLD_PID"
open=$(sed -n 's/^open=\([0-9]*\).*/\1/p' "$T/hold.out")
[ -n "$open" ] && [ "$open" -le 16 ] && [ "$open" -ge 1 ] ||
	fail "40 connections from one address with --max-clients-per-ip 16: $(cat "$T/hold.out")"
note "40 connections from one address: $open kept"
pass
