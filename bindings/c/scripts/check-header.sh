#!/usr/bin/env bash
# Regenerates include/klog.h with the pinned cbindgen and fails if the committed
# header differs. With --update, writes the new header instead.
set -euo pipefail

CBINDGEN_VERSION="0.29.4"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v cbindgen >/dev/null; then
    echo "cbindgen not found: run bindings/c/scripts/setup.sh" >&2
    exit 1
fi
found="$(cbindgen --version | awk '{print $2}')"
if [ "$found" != "$CBINDGEN_VERSION" ]; then
    echo "cbindgen $CBINDGEN_VERSION is required, found $found: run bindings/c/scripts/setup.sh" >&2
    exit 1
fi

generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
(cd "$HERE" && cbindgen --quiet --config cbindgen.toml --crate klog-c --output "$generated" .)

if [ "${1:-}" = "--update" ]; then
    cp "$generated" "$HERE/include/klog.h"
    echo "updated bindings/c/include/klog.h"
elif ! diff -u "$HERE/include/klog.h" "$generated"; then
    echo "bindings/c/include/klog.h is out of date: run bindings/c/scripts/check-header.sh --update" >&2
    exit 1
else
    echo "bindings/c/include/klog.h is up to date"
fi
