#!/usr/bin/env bash
# klog's Rust client against kcat (librdkafka) on the same klog-server, in one
# run, plus the embedded (in-process) rates. Prints a Markdown report.
#
#   bash bench/client_bench.sh            # 1,000,000 x 100 B records
#   COUNT=200000 SIZE=1024 bash bench/client_bench.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
COUNT="${COUNT:-1000000}"
SIZE="${SIZE:-100}"
KCAT="$(command -v kcat)"
cargo build --release -q -p klog-server -p klog-bench
SERVER="$ROOT/target/release/klog-server"
BENCH="$ROOT/target/release/klog-bench"
TMP="$(mktemp -d)"
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT

python3 - "$TMP/input.txt" "$COUNT" "$SIZE" <<'PY'
import sys
path, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "wb", buffering=1 << 20) as f:
    line = b"x" * size + b"\n"
    for _ in range(count):
        f.write(line)
PY

"$SERVER" --data-dir "$TMP/data" --listeners PLAINTEXT://127.0.0.1:0 >"$TMP/out" 2>"$TMP/log" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$TMP/out" && break; sleep 0.1; done
BOOTSTRAP="$(sed -n 's/^klog-server listening on //p' "$TMP/out")"

now() { date +%s.%N; }
rate_row() { # NAME COUNT SIZE SECONDS
    awk -v n="$2" -v s="$3" -v t="$4" -v name="$1" 'BEGIN { printf "| %s | %d | %d B | %.2f | %.0f | %.1f |\n", name, n, s, t, n / t, n * s / t / 1e6 }'
}

echo "| client | records | value | seconds | records/s | MB/s |"
echo "|---|---:|---:|---:|---:|---:|"
for acks in 1 all; do
    echo warmup | "$KCAT" -b "$BOOTSTRAP" -P -t "kcat-$acks" -p 0
    t0="$(now)"
    "$KCAT" -b "$BOOTSTRAP" -P -t "kcat-$acks" -p 0 -X acks="$acks" -X linger.ms=5 -X batch.num.messages=100000 \
        -X batch.size=1048576 -X queue.buffering.max.messages=2000000 -X queue.buffering.max.kbytes=2097152 -l "$TMP/input.txt"
    rate_row "kcat produce acks=$acks (tcp)" "$COUNT" "$SIZE" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')"
    "$BENCH" produce --bootstrap "$BOOTSTRAP" --topic "klog-$acks" --count "$COUNT" --size "$SIZE" --acks "$acks"
done
t0="$(now)"
"$KCAT" -b "$BOOTSTRAP" -C -t kcat-1 -p 0 -e -o beginning -q -X fetch.wait.max.ms=100 >/dev/null
rate_row "kcat consume (tcp)" "$COUNT" "$SIZE" "$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')"
"$BENCH" consume --bootstrap "$BOOTSTRAP" --topic klog-1 --count "$COUNT" --size "$SIZE"
"$BENCH" both --count "$COUNT" --size "$SIZE"
