#!/usr/bin/env bash
# libklog against librdkafka's C API on one release klog-server (bench/c_bench.c).
#   bash bench/c_bench.sh                 # 1,000,000 x 100 B records
#   COUNT=200000 SIZE=1024 bash bench/c_bench.sh
# Needs librdkafka-dev (bindings/c/scripts/setup.sh installs it). Prints a Markdown table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
COUNT="${COUNT:-1000000}"
SIZE="${SIZE:-100}"
pkg-config --exists rdkafka || { echo "librdkafka-dev is missing: run bindings/c/scripts/setup.sh" >&2; exit 1; }

TMP="$(mktemp -d)"
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT

cargo build --release -q -p klog-server
bash bindings/c/install.sh --prefix "$TMP/prefix" >&2
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 -O2 -Wall -Wextra -Werror bench/c_bench.c -o "$TMP/c_bench" \
    $(pkg-config --cflags --libs klog rdkafka) -Wl,-rpath,"$TMP/prefix/lib"

"$ROOT/target/release/klog-server" --data-dir "$TMP/data" --listeners PLAINTEXT://127.0.0.1:0 >"$TMP/out" 2>"$TMP/log" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$TMP/out" && break; sleep 0.1; done
BOOTSTRAP="$(sed -n 's/^klog-server listening on //p' "$TMP/out")"
[ -n "$BOOTSTRAP" ] || { cat "$TMP/log" >&2; echo "klog-server did not start" >&2; exit 1; }

echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
echo
"$TMP/c_bench" "$BOOTSTRAP" "$COUNT" "$SIZE"
