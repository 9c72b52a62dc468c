#!/bin/bash
# package: CPack's DEB generator on this build (as scripts/package.sh runs
# it) makes cprof_VERSION_ARCH.deb whose control fields carry the
# project's version, a description and Depends computed from the binary
# (dpkg-shlibdeps: libdw1, libunwind8, libprotobuf-c1, zlib1g) plus the
# dlopen'ed libmicrohttpd12, whose maintainer scripts create the system
# user and remove it on purge, and which holds exactly the installed files
# (no tests, workloads or fuzzers). The package is never installed here.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
build=$(dirname "$CPROF")
[ -f "$build/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $build: no packaging rules"
version=$(sed -n 's/^project(cprof VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
[ -n "$version" ] || fail "no project VERSION in CMakeLists.txt"

(cd "$build" && cpack -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1 || fail "cpack: $(tail -20 "$T/cpack.log")"
arch=$(dpkg --print-architecture)
deb="$T/pkg/cprof_${version}_${arch}.deb"
[ -f "$deb" ] || fail "no $deb: $(ls "$T/pkg")"

[ "$(dpkg-deb -f "$deb" Package)" = cprof ] || fail "Package: $(dpkg-deb -f "$deb" Package)"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version: $(dpkg-deb -f "$deb" Version), want $version"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "Architecture: $(dpkg-deb -f "$deb" Architecture)"
desc=$(dpkg-deb -f "$deb" Description)
grep -q '^sampling profiler' <<<"$desc" || fail "Description synopsis: $desc"
[ "$(wc -l <<<"$desc")" -ge 3 ] || fail "no extended description: $desc"
grep -q '^ [^ ]' <<<"$desc" || fail "extended description lines are not indented by one space: $desc"
dep=$(dpkg-deb -f "$deb" Depends)
note "Depends: $dep"
for lib in libdw1 libunwind8 libprotobuf-c1 libmicrohttpd12 zlib1g libc6; do
	grep -Eq "(^|, )$lib( |,|$)" <<<"$dep" || fail "Depends lacks $lib: $dep"
done
# Computed, not written: dpkg-shlibdeps gives versions.
grep -Eq 'libdw1 \(>= [0-9.]+\)' <<<"$dep" || fail "libdw1 without a version: not computed by shlibdeps? $dep"

dpkg-deb -c "$deb" >"$T/listing"
awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' "$T/listing" | sort >"$T/files"
{
	echo /lib/systemd/system/cprof.service
	echo /usr/bin/cprof
	echo /usr/lib/sysusers.d/cprof.conf
	echo /usr/share/bash-completion/completions/cprof
	echo /usr/share/doc/cprof/README.md
	for m in "$SOURCE_DIR"/man/*.1; do echo "/usr/share/man/man1/$(basename "$m").gz"; done
} | sort >"$T/want"
diff "$T/want" "$T/files" >"$T/diff" || fail "package contents differ (< wanted, > got): $(cat "$T/diff")"
grep -q '^-rwxr-xr-x root/root .* \./usr/bin/cprof$' "$T/listing" || fail "cprof not owned by root/root"

# Maintainer scripts: the user comes and goes with the package.
dpkg-deb -e "$deb" "$T/ctrl"
for s in postinst prerm postrm; do
	[ -x "$T/ctrl/$s" ] || fail "no executable $s"
	sh -n "$T/ctrl/$s" || fail "$s is not valid sh"
done
grep -q 'systemd-sysusers' "$T/ctrl/postinst" || fail "postinst does not create the user"
grep -q 'userdel cprof' "$T/ctrl/postrm" || fail "postrm does not remove the user on purge"
grep -q 'disable cprof.service' "$T/ctrl/prerm" || fail "prerm leaves the unit enabled"
# The unit in the package runs the packaged binary.
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/cprof.service >"$T/unit"
grep -q '^ExecStart=/usr/bin/cprof serve --all' "$T/unit" || fail "the packaged unit: $(grep ExecStart "$T/unit")"
# The binary is stripped (Debian policy 10.1) and runs.
dpkg-deb -x "$deb" "$T/root"
file "$T/root/usr/bin/cprof" | grep -q ', stripped' || fail "cprof is not stripped: $(file "$T/root/usr/bin/cprof")"
"$T/root/usr/bin/cprof" --help | grep -q '^usage: cprof' || fail "packaged cprof --help"
pass
