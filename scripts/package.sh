#!/usr/bin/env bash
# package.sh - build cprof's Debian package with CPack's DEB generator
# (docs/design.md §11.4): installs what is missing (scripts/setup.sh's list,
# plus dpkg-dev for dpkg-shlibdeps and fakeroot), builds a RelWithDebInfo
# tree in BUILD_DIR (default build-package) and writes
# cprof_VERSION_ARCH.deb into OUT_DIR (default: the top directory).
# Usage: scripts/package.sh [BUILD_DIR [OUT_DIR]]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build-package}
out=${2:-$top}

missing=()
for p in dpkg-dev fakeroot gzip file; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [ "$(id -u)" != 0 ]; then
		echo "package: missing Debian packages: ${missing[*]}" >&2
		echo "hint: run as root, or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$top/scripts/setup.sh" "$build" -DCMAKE_INSTALL_PREFIX=/usr
mkdir -p "$out"
(cd "$build" && cpack -G DEB -B "$out/_cpack" >"$out/_cpack.log" 2>&1) || {
	cat "$out/_cpack.log" >&2
	echo "package: cpack failed" >&2
	exit 1
}
deb=$(ls "$out"/_cpack/cprof_*.deb)
mv "$deb" "$out/"
rm -rf "$out/_cpack" "$out/_cpack.log"
echo "package: wrote $out/$(basename "$deb")" >&2
