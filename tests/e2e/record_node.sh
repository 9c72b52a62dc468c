#!/bin/bash
# record_node: JIT code. node runs hot JavaScript functions (machine code in
# anonymous memory) and V8 builtins (from a second mapping of its executable,
# near the JIT code). With and without --perf-basic-prof:
#   - no address outside a file's own mappings gets that file's symbols
#     (node's _fini, its last symbol, took 60-99% of the samples before:
#     the module of /usr/bin/node spanned every JIT region);
#   - JIT frames are in a [jit] mapping: addresses only without a perf map,
#     the JavaScript functions as node names them with one, in profiles
#     and in thread dumps, also when node runs in its own pid and mount
#     namespaces (its perf map is then /tmp/perf-1.map in its own /tmp).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init

node=$(command -v node || command -v nodejs || true)
[ -n "$node" ] || fail "node not found (scripts/setup.sh installs the nodejs package)"
script="$SOURCE_DIR/tests/workloads/jsloop.js"

# analyze PROF MAPS PID: one line of figures from pprof -raw (locations
# with full names, mappings, samples with their thread id) and the target's
# maps (the address ranges of each file):
#   total main fini misnamed jit_main js_main named_jit_locs jit_locs
#   alias_builtin_locs
# main: samples of the main thread; misnamed: samples with a frame named
# from a file at an address none of that file's maps lines covers; jit_main
# / js_main: main-thread samples with a frame in [jit] / named JS:... from
# jsloop.js; alias_builtin_locs: locations in node's second mapping named
# Builtins_* (the second mapping's frames named from the executable; named
# from the wrong place they would be _fini).
analyze() {
	pp_raw "$1" | awk -v pid="$3" -v mapsfile="$2" '
	BEGIN {
		while ((getline line < mapsfile) > 0) {
			n = split(line, f, " ")
			if (n < 6 || substr(f[6], 1, 1) != "/")
				continue
			path = f[6]
			for (i = 7; i <= n; i++)
				path = path " " f[i]
			split(f[1], r, "-")
			nr++
			rlo[nr] = r[1]; rhi[nr] = r[2]; rpath[nr] = path
		}
	}
	function hex(s,   i, v, c) {
		v = 0; s = tolower(s); sub(/^0x/, "", s)
		for (i = 1; i <= length(s); i++) {
			c = index("0123456789abcdef", substr(s, i, 1)) - 1
			v = v * 16 + c
		}
		return v
	}
	function in_file(a, path,   i) {
		sub(/ \(deleted\)$/, "", path)
		for (i = 1; i <= nr; i++)
			if (rpath[i] == path && a >= hex(rlo[i]) && a < hex(rhi[i]))
				return 1
		return 0
	}
	/^Samples:/ { sec = "s"; next }
	/^Locations/ { sec = "l"; next }
	/^Mappings/ { sec = "m"; next }
	sec == "s" && /^ *[0-9]+ +[0-9]+: / {
		ns++
		split($0, halves, ":")
		split(halves[1], vals, " ")
		cnt[ns] = vals[1]
		stk[ns] = halves[2]
		next
	}
	sec == "s" && /thread_id:\[/ {
		match($0, /thread_id:\[[0-9]+/)
		tid[ns] = substr($0, RSTART + 11, RLENGTH - 11)
		next
	}
	sec == "l" && /^ *[0-9]+: 0x/ {
		id = $1; sub(":", "", id)
		addr[id] = hex($2)
		m = $3; sub("M=", "", m); lmap[id] = m
		# NAME FILE:LINE s=N, NAME possibly with blanks: cut s=N and
		# the last field (FILE:LINE, ":0" when none).
		rest = $0
		sub(/^ *[0-9]+: 0x[0-9a-f]+ M=[0-9]+ ?/, "", rest)
		sub(/ ?s=[0-9]+$/, "", rest)
		sub(/ ?[^ ]*:[0-9]+$/, "", rest)
		name[id] = rest
		last = id
		next
	}
	sec == "l" && /^             [^ ]/ { next }
	sec == "m" && /^[0-9]+: 0x/ {
		id = $1; sub(":", "", id)
		split($2, lim, "/")
		mfile[id] = $3
		moff[id] = hex(lim[3])
		next
	}
	END {
		for (id in name) {
			mf = mfile[lmap[id]]
			if (mf == "[jit]") {
				jit_locs++
				if (name[id] != "")
					named_jit_locs++
			} else if (mf ~ /\/node$/ && moff[lmap[id]] != 0 && name[id] ~ /^Builtins_/)
				alias_builtin++
		}
		for (s = 1; s <= ns; s++) {
			k = split(stk[s], ids, " ")
			fini = bad = jit = js = 0
			for (j = 1; j <= k; j++) {
				id = ids[j]; mf = mfile[lmap[id]]
				if (name[id] == "_fini")
					fini = 1
				if (mf == "[jit]") {
					jit = 1
					if (name[id] ~ /^JS:.*jsloop\.js/)
						js = 1
				} else if (substr(mf, 1, 1) == "/" && name[id] != "" &&
					   !in_file(addr[id], mf))
					bad = 1
			}
			total += cnt[s]
			nfini += fini * cnt[s]
			nbad += bad * cnt[s]
			if (tid[s] == pid) {
				main += cnt[s]
				njit += jit * cnt[s]
				njs += js * cnt[s]
			}
		}
		printf "%d %d %d %d %d %d %d %d %d\n", total, main, nfini, nbad,
			njit, njs, named_jit_locs, jit_locs, alias_builtin
	}'
}

pct() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }'
}

# The modes: plain node, node --perf-basic-prof, and the latter in a
# container of sorts (its own pid and mount namespaces, its own /tmp): the
# perf map is then /tmp/perf-1.map in the container's /tmp only.
# RECORD_NODE_MODES: run some alone (when looking into one).
for mode in ${RECORD_NODE_MODES:-plain perfmap container}; do
	# (The ready line goes to a file this shell opens: in the container
	# no path under /tmp, where $T may be, is ours. node runs in $T:
	# --perf-basic-prof also writes V8's isolate-*-v8.log where it runs.)
	case $mode in
	plain)
		start_bg env -C "$T" "$node" "$script" 60 >"$T/ready.$mode" ;;
	perfmap)
		start_bg env -C "$T" "$node" --perf-basic-prof "$script" 60 \
			>"$T/ready.$mode" ;;
	container)
		# --kill-child: node goes with unshare, killed by its pid. The
		# script is copied into the container's /tmp: the checkout
		# itself may be under the /tmp the tmpfs hides.
		start_bg env -C "$T" unshare --mount --pid --fork --kill-child \
			--mount-proc sh -c 'js=$(cat "$1") && mount -t tmpfs cprof-test /tmp &&
				printf "%s\n" "$js" >/tmp/jsloop.js &&
				exec "$0" --perf-basic-prof /tmp/jsloop.js 60' \
			"$node" "$script" >"$T/ready.$mode" ;;
	esac
	pid=$BG_PID
	# node never removes its perf map.
	[ "$mode" = container ] || rm_on_exit "/tmp/perf-$pid.map"
	wait_for 60 "node to warm up ($mode)" test -s "$T/ready.$mode"
	if [ "$mode" = container ]; then
		pid=$(pgrep -P "$BG_PID" -x node) || fail "container: no node under unshare $BG_PID"
		[ "$(cat "$T/ready.$mode")" = "ready 1" ] || fail "container: node is not pid 1 in its namespace"
	fi
	cat "/proc/$pid/maps" >"$T/maps.$mode"
	record_cpu "$pid" "$T/$mode.pprof" 800 --seconds 20 -F 999 ||
		fail "$mode: cprof record exited $?"
	cat "/proc/$pid/maps" >>"$T/maps.$mode"
	if [ "$mode" = perfmap ]; then
		# cprof threads names JIT frames from the same perf map. A
		# dump that stops the main thread in a builtin which made no
		# frame of its own skips its JS caller (frame pointers,
		# docs/design.md §4.2): of five dumps, at least one shows it.
		: >"$T/threads.txt"
		for i in 1 2 3 4 5; do
			"$CPROF" threads -p "$pid" >>"$T/threads.txt" ||
				fail "cprof threads exited $?"
		done
		grep -q '^  JS:[*^~]*\(hotLoop\|strWork\|driver\) .*jsloop\.js' "$T/threads.txt" ||
			fail "perfmap: no JS function in 5 thread dumps: $(grep -A3 "^thread $pid " "$T/threads.txt" | head -8)"
		! grep -q '_fini' "$T/threads.txt" ||
			fail "perfmap: _fini in a thread dump: $(grep -B2 -A2 _fini "$T/threads.txt" | head -8)"
	fi
	stop_bg "$BG_PID"
	check_profile "$T/$mode.pprof"
	pp_stacks "$T/$mode.pprof" >"$T/stacks.$mode"
	enough_samples "$mode" "$T/stacks.$mode" 100

	read -r total main fini bad jit js named_jit jit_locs alias_builtins \
		< <(analyze "$T/$mode.pprof" "$T/maps.$mode" "$pid")
	note "$mode: $total samples, $main on the main thread; _fini $(pct "$fini" "$total")%," \
		"file names outside the file $(pct "$bad" "$total")%;" \
		"main thread: [jit] $(pct "$jit" "$main")%, JS functions $(pct "$js" "$main")%;" \
		"[jit] locations $jit_locs ($named_jit named); builtins in node's second mapping: $alias_builtins locations"
	[ "$main" -ge 100 ] || fail "$mode: only $main main-thread samples (machine too busy? $(cut -d' ' -f1-3 /proc/loadavg))"
	within "$(pct "$fini" "$total")" 0 0.99 ||
		fail "$mode: _fini in $(pct "$fini" "$total")% of the samples: $(cut -f4 "$T/stacks.$mode" | sort | uniq -c | sort -rn | head -3)"
	within "$(pct "$bad" "$total")" 0 0.99 ||
		fail "$mode: $(pct "$bad" "$total")% of the samples have a frame named from a file at an address outside that file's mappings"
	grep -q '^[0-9]*: 0x[0-9a-f]*/0x[0-9a-f]*/0x0 \[jit\]' <(pp_raw "$T/$mode.pprof") ||
		fail "$mode: no [jit] mapping in the profile"
	# The hot functions are JIT code: most main-thread samples have a
	# [jit] frame (the leaf, or the JS caller of a builtin).
	awk -v s="$(pct "$jit" "$main")" 'BEGIN { exit !(s >= 50) }' ||
		fail "$mode: only $(pct "$jit" "$main")% of the main thread's samples have a [jit] frame"
	if [ "$mode" = plain ]; then
		# No perf map: an address in JIT code stays an address.
		[ "$named_jit" -eq 0 ] || fail "plain: $named_jit [jit] locations have names without a perf map"
	else
		awk -v s="$(pct "$js" "$main")" 'BEGIN { exit !(s >= 50) }' ||
			fail "$mode: the JS functions are in only $(pct "$js" "$main")% of the main thread's samples: $(cut -f4 "$T/stacks.$mode" | sort | uniq -c | sort -rn | head -3)"
	fi
done
pass "node's JIT code under [jit], named from --perf-basic-prof's map (also in a container); no file symbol outside its file"
