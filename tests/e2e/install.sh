#!/bin/bash
# install: `cmake --install` of this build into a DESTDIR, under /usr (as
# the package does) and under another prefix, installs exactly the binary,
# every man/*.1 gzipped (gzip -9n, Debian policy 12.1), the bash
# completion, the README, the sysusers.d entry and the systemd unit that
# names the installed binary; nothing from tests/. systemd-analyze verify
# accepts the unit without a warning (and does warn about a broken copy:
# the check can fail), and `systemd-analyze security` rates it at most 3.0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
build=$(dirname "$CPROF")
[ -f "$build/cmake_install.cmake" ] || fail "no cmake_install.cmake in $build"

dest="$T/destdir"
mkdir -p "$dest"
DESTDIR="$dest" cmake --install "$build" --prefix /usr >"$T/log" 2>&1 ||
	fail "cmake --install failed: $(cat "$T/log")"
(cd "$dest" && find . ! -type d | sed 's#^\./#/#' | sort) >"$T/got"
{
	echo /lib/systemd/system/cprof.service
	echo /usr/bin/cprof
	echo /usr/lib/sysusers.d/cprof.conf
	echo /usr/share/bash-completion/completions/cprof
	echo /usr/share/doc/cprof/README.md
	for m in "$SOURCE_DIR"/man/*.1; do echo "/usr/share/man/man1/$(basename "$m").gz"; done
} | sort >"$T/want"
diff "$T/want" "$T/got" >"$T/diff" || fail "installed files differ (< wanted, > got): $(cat "$T/diff")"
[ "$(ls "$SOURCE_DIR"/man/*.1 | wc -l)" -ge 6 ] || fail "fewer man pages than expected in $SOURCE_DIR/man"

# The binary runs, the man pages are gzip files of the sources.
"$dest/usr/bin/cprof" --version | grep -q '^cprof [0-9]' || fail "installed cprof --version"
for m in "$SOURCE_DIR"/man/*.1; do
	gz="$dest/usr/share/man/man1/$(basename "$m").gz"
	gzip -t "$gz" || fail "$gz is not gzip"
	cmp -s <(gzip -dc "$gz") "$m" || fail "$gz is not $(basename "$m")"
	# -n: no name or time stamp in the header (reproducible).
	[ "$(od -An -tu1 -j4 -N4 "$gz" | tr -s ' ')" = " 0 0 0 0" ] || fail "$gz has a time stamp (gzip without -n)"
done
MANPATH="$dest/usr/share/man" man -w cprof >/dev/null 2>&1 || fail "man -w cprof finds no page in the DESTDIR"
grep -q '^ExecStart=/usr/bin/cprof serve --all ' "$dest/lib/systemd/system/cprof.service" ||
	fail "the unit does not run /usr/bin/cprof serve --all: $(grep ExecStart "$dest/lib/systemd/system/cprof.service")"
grep -q '^u cprof ' "$dest/usr/lib/sysusers.d/cprof.conf" || fail "sysusers.d does not create user cprof"

# Another prefix: everything under it, the unit naming that binary.
other="$T/other"
cmake --install "$build" --prefix "$T/other/opt" >"$T/log2" 2>&1 || fail "cmake --install --prefix: $(cat "$T/log2")"
[ -x "$other/opt/bin/cprof" ] || fail "no $other/opt/bin/cprof"
grep -q "^ExecStart=$other/opt/bin/cprof " "$other/opt/lib/systemd/system/cprof.service" ||
	fail "the unit under --prefix does not name its binary"
[ "$(cd "$other" && find . ! -type d | grep -vc '^\./opt/')" = 0 ] || fail "files outside the prefix"

# systemd-analyze verify: the unit as installed, with ExecStart pointing
# into the DESTDIR (verify checks that the program exists).
mkdir -p "$T/units"
sed "s#^ExecStart=/usr/bin/cprof#ExecStart=$dest/usr/bin/cprof#" \
	"$dest/lib/systemd/system/cprof.service" >"$T/units/cprof.service"
rc=0
systemd-analyze verify --man=no "$T/units/cprof.service" >"$T/verify" 2>&1 || rc=$?
[ "$rc" = 0 ] && [ ! -s "$T/verify" ] || fail "systemd-analyze verify: exit $rc: $(cat "$T/verify")"
# The same check on a broken copy says so (the check above can fail).
sed 's/^NoNewPrivileges=yes/NoNewPrivileges=maybe/' "$T/units/cprof.service" >"$T/units/broken.service"
systemd-analyze verify --man=no "$T/units/broken.service" >"$T/verify2" 2>&1 || true
[ -s "$T/verify2" ] || fail "systemd-analyze verify accepts a broken unit silently"

systemd-analyze security --offline=yes --no-pager "$T/units/cprof.service" >"$T/sec" 2>&1 ||
	fail "systemd-analyze security: $(tail -3 "$T/sec")"
score=$(sed -n 's/.*Overall exposure level for cprof.service: \([0-9.]*\).*/\1/p' "$T/sec")
[ -n "$score" ] || fail "no exposure level: $(tail -3 "$T/sec")"
note "systemd-analyze security: exposure $score"
awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }' || fail "exposure level $score, want <= 3.0"
for k in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=read-only PrivateTmp=no \
	ProtectKernelTunables=yes SystemCallArchitectures=native \
	"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" User=cprof; do
	grep -qx "$k" "$T/units/cprof.service" || fail "the unit lacks $k"
done
# Exactly the capabilities documented in cprof(1).
caps="CAP_SYS_PTRACE CAP_PERFMON CAP_DAC_READ_SEARCH CAP_SYSLOG CAP_IPC_LOCK"
grep -qx "AmbientCapabilities=$caps" "$T/units/cprof.service" || fail "AmbientCapabilities is not $caps"
grep -qx "CapabilityBoundingSet=$caps" "$T/units/cprof.service" || fail "CapabilityBoundingSet is not $caps"
pass
