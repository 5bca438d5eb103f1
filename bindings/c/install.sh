#!/usr/bin/env bash
# Builds libklog and installs it under a prefix:
#   PREFIX/include/klog.h
#   PREFIX/lib/libklog.so.X.Y.Z, libklog.so.<abi> (the soname), libklog.so, libklog.a
#   PREFIX/lib/pkgconfig/klog.pc
# Usage: bindings/c/install.sh --prefix DIR [--debug]
#   --debug  install a debug build (faster to build; the default is release)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PREFIX=""
PROFILE="release"

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
        --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
        --debug) PROFILE="debug"; shift ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$PREFIX" ] || { echo "usage: install.sh --prefix DIR [--debug]" >&2; exit 2; }
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"

cd "$ROOT"
if [ "$PROFILE" = release ]; then
    cargo build --release -p klog-c
else
    cargo build -p klog-c
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"

# The version of the klog-c package (e.g. 0.1.0); before 1.0 the ABI is major.minor.
PKGID="$(cargo pkgid -p klog-c)"
VERSION="${PKGID##*[@#]}"
MAJOR="${VERSION%%.*}"
MINOR="$(echo "$VERSION" | cut -d. -f2)"
if [ "$MAJOR" = 0 ]; then ABI="0.$MINOR"; else ABI="$MAJOR"; fi

install -d "$PREFIX/lib/pkgconfig" "$PREFIX/include"
install -m 0644 "$HERE/include/klog.h" "$PREFIX/include/klog.h"
install -m 0755 "$TARGET_DIR/libklog_c.so" "$PREFIX/lib/libklog.so.$VERSION"
ln -sfn "libklog.so.$VERSION" "$PREFIX/lib/libklog.so.$ABI"
ln -sfn "libklog.so.$ABI" "$PREFIX/lib/libklog.so"
install -m 0644 "$TARGET_DIR/libklog_c.a" "$PREFIX/lib/libklog.a"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@VERSION@|$VERSION|" "$HERE/klog.pc.in" >"$PREFIX/lib/pkgconfig/klog.pc"

echo "installed libklog $VERSION ($PROFILE) into $PREFIX"
