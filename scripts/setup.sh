#!/usr/bin/env bash
# setup.sh - install what cprof needs from Debian's packages (only what is
# missing), then configure and build it. Used by demo.sh and test.sh; safe to
# run again. Usage: scripts/setup.sh [BUILD_DIR [CMAKE_ARGS...]], or
# scripts/setup.sh --deps-only to install the packages and build nothing
# (test.sh, before it builds its three trees at once).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
shift || true

# libunwind-dev is named explicitly: LLVM's libunwind-14-dev provides a
# conflicting libunwind.h and must not be picked instead.
packages=(
	build-essential cmake pkg-config
	libdw-dev libelf-dev elfutils libunwind-dev
	libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libmicrohttpd-dev
	mandoc golang-go gdb linux-perf strace curl iproute2 procps time clang
	libc6-dbg python3 libiberty-dev nodejs libclang-rt-14-dev chromium tmux
	dpkg-dev fakeroot file systemd man-db util-linux
	heaptrack valgrind
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [ "$(id -u)" != 0 ]; then
		echo "setup: missing Debian packages: ${missing[*]}" >&2
		echo "hint: run as root, or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "setup: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "$build" != --deps-only ] || exit 0

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "setup: built $build/cprof" >&2
