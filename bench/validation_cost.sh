#!/usr/bin/env bash
# The broker's cost of validating produced batches record by record (and of
# inflating compressed ones as a stream): a producer sends the same records to
# two klog-server builds, one before record validation and one after, per codec.
# Producers: kcat (librdkafka) and klog's own Rust client (`klog-bench produce`).
# Prints a Markdown table: wall time and the broker's CPU seconds.
#
#   OLD_BIN=/path/to/old/klog-server NEW_BIN=target/release/klog-server bash bench/validation_cost.sh
#
# Environment: RECORDS (default 2000000), SIZE (value bytes, default 100),
# CODECS (default "none lz4 zstd gzip snappy"), ROUNDS (default 2),
# CLIENTS (default "kcat klog").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS="${RECORDS:-2000000}"
SIZE="${SIZE:-100}"
CODECS="${CODECS:-none lz4 zstd gzip snappy}"
ROUNDS="${ROUNDS:-2}"
CLIENTS="${CLIENTS:-kcat klog}"
NEW_BIN="${NEW_BIN:-$ROOT/target/release/klog-server}"
: "${OLD_BIN:?set OLD_BIN to a klog-server built before record validation}"
KCAT="$(command -v kcat || command -v kafkacat)"
KLOG_BENCH="$ROOT/target/release/klog-bench"
case " $CLIENTS " in *" klog "*) (cd "$ROOT" && cargo build --release -q -p klog-bench) ;; esac

TMP="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

python3 -c "import sys; v=b'v'*$SIZE; sys.stdout.buffer.write((v+b'\n')*$RECORDS)" > "$TMP/records"

cpu_seconds() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat"; }

produce() { # client codec address
    case "$1" in
        kcat) "$KCAT" -P -b "$3" -t bench -p 0 -z "$2" -X linger.ms=5 -X batch.num.messages=10000 \
            -X batch.size=1000000 -X acks=1 -l "$TMP/records" ;;
        klog) "$KLOG_BENCH" produce --bootstrap "$3" --topic bench --count "$RECORDS" --size "$SIZE" \
            -X "compression.type=$2" > /dev/null ;;
    esac
}

run() { # binary client codec -> "wall cpu"
    local bin="$1" client="$2" codec="$3" data="$TMP/data-$RANDOM"
    "$bin" --data-dir "$data" --listeners PLAINTEXT://127.0.0.1:0 > "$TMP/out" 2> "$TMP/err" &
    PID=$!
    local addr=""
    for _ in $(seq 100); do
        addr="$(sed -n 's/^klog-server listening on \(.*\)$/\1/p' "$TMP/out")"
        [ -n "$addr" ] && break
        sleep 0.1
    done
    [ -n "$addr" ] || { echo "server did not start" >&2; cat "$TMP/err" >&2; exit 1; }
    local cpu0 start end cpu1
    cpu0="$(cpu_seconds "$PID")"
    start="$(date +%s.%N)"
    produce "$client" "$codec" "$addr"
    end="$(date +%s.%N)"
    cpu1="$(cpu_seconds "$PID")"
    local last
    last="$("$KCAT" -C -b "$addr" -t bench -p 0 -o -1 -e -q -f '%o\n' | tail -1)"
    [ "$last" = "$((RECORDS - 1))" ] || { echo "stored up to offset $last, not $((RECORDS - 1))" >&2; exit 1; }
    kill -TERM "$PID"; wait "$PID" || true; PID=""
    rm -rf "$data"
    python3 -c "print(f'{$end - $start:.2f} {$cpu1 - $cpu0:.2f}')"
}

echo "| producer | codec | build | wall s (best of $ROUNDS) | broker CPU s (best of $ROUNDS) |"
echo "|---|---|---|---|---|"
for client in $CLIENTS; do
for codec in $CODECS; do
    for build in old new; do
        bin="$OLD_BIN"; [ "$build" = new ] && bin="$NEW_BIN"
        best_wall=""; best_cpu=""
        for _ in $(seq "$ROUNDS"); do
            read -r wall cpu < <(run "$bin" "$client" "$codec")
            best_wall="$(python3 -c "print(min(float(x) for x in '$best_wall $wall'.split()))")"
            best_cpu="$(python3 -c "print(min(float(x) for x in '$best_cpu $cpu'.split()))")"
        done
        echo "| $client | $codec | $build | $best_wall | $best_cpu |"
    done
done
done
