#!/usr/bin/env bash
# Throughput and latency of a single klog-server, measured with kcat
# (librdkafka) and confluent-kafka.  Prints a Markdown report on stdout;
# writes only into a temporary directory.
#
#   bash bench/kcat_bench.sh                 # full run (~2-4 minutes, ~1 GiB of disk)
#   SCALE=0.1 bash bench/kcat_bench.sh       # 10x fewer records, for a quick look
#
# Environment:
#   KLOG_SERVER_BIN   server binary (default: target/release/klog-server, built if missing)
#   BENCH_DIR         parent of the temp dir (put it on the disk you want to measure; default $TMPDIR or /tmp)
#   SCALE             multiplier for the record counts (default 1)
#   LATENCY_COUNT / LATENCY_RATE   produce-latency records and rate (default 10000 at 1000/s)
#   SKIP_DD=1         skip the disk reference measurement
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCALE="${SCALE:-1}"
LATENCY_COUNT="${LATENCY_COUNT:-10000}"
LATENCY_RATE="${LATENCY_RATE:-1000}"
KCAT="$(command -v kcat || command -v kafkacat || true)"
[ -n "$KCAT" ] || { echo "kcat not found (run scripts/setup.sh)" >&2; exit 1; }

if [ -z "${KLOG_SERVER_BIN:-}" ]; then
    KLOG_SERVER_BIN="$ROOT/target/release/klog-server"
    if [ ! -x "$KLOG_SERVER_BIN" ]; then
        (cd "$ROOT" && cargo build --release -p klog-server >&2)
    fi
fi

TMP="$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/klog-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[bench] %s\n' "$*" >&2; }
now() { date +%s.%N; }
scaled() { python3 -c "import sys; print(max(1, int(int(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"; }

# --- machine -------------------------------------------------------------------
CPU_MODEL="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
NPROC="$(nproc)"
MEM="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
FS="$(df -PT "$TMP" | awk 'NR==2 {print $2 " (" $1 ")"}')"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY="$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo '+dirty' || true)"
RDKAFKA="$("$KCAT" -V 2>&1 | grep -o 'librdkafka [0-9.]*' | head -1 || true)"

DD_RATE="skipped"
if [ "${SKIP_DD:-0}" != 1 ]; then
    log "disk reference: dd 1 GiB with O_DIRECT"
    if DD_OUT="$(dd if=/dev/zero of="$TMP/x" bs=1M count=1024 oflag=direct 2>&1)"; then
        DD_RATE="$(printf '%s\n' "$DD_OUT" | tail -1 | awk -F, '{print $NF}' | sed 's/^ *//')"
    else
        DD_RATE="failed (O_DIRECT unsupported here?)"
    fi
    rm -f "$TMP/x"
fi

# --- input files (generation is not measured) -----------------------------------
N_SMALL="$(scaled 1000000)"
N_LARGE="$(scaled 200000)"
gen() { # gen FILE COUNT SIZE: COUNT newline-separated records of exactly SIZE bytes
    python3 - "$1" "$2" "$3" <<'EOF'
import base64, os, sys
path, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pool = base64.b64encode(os.urandom(size * 64 + 4096)).replace(b"\n", b"")
with open(path, "wb", buffering=1 << 20) as f:
    for i in range(count):
        off = (i * 7919) % (len(pool) - size)
        f.write(pool[off:off + size] + b"\n")
EOF
}
log "generating $N_SMALL x 100 B and $N_LARGE x 1 KiB records"
gen "$TMP/small.txt" "$N_SMALL" 100
gen "$TMP/large.txt" "$N_LARGE" 1024

# --- server -----------------------------------------------------------------------
mkdir -p "$TMP/data"
"$KLOG_SERVER_BIN" --data-dir "$TMP/data" --listeners PLAINTEXT://127.0.0.1:0 \
    --group-initial-rebalance-delay-ms 0 >"$TMP/server.out" 2>"$TMP/server.log" &
SERVER_PID=$!
BOOTSTRAP=""
for _ in $(seq 1 300); do
    BOOTSTRAP="$(sed -n 's/^klog-server listening on \([^ ]*\)$/\1/p' "$TMP/server.out" | head -1)"
    [ -n "$BOOTSTRAP" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; echo "klog-server exited" >&2; exit 1; }
    sleep 0.1
done
[ -n "$BOOTSTRAP" ] || { cat "$TMP/server.log" >&2; echo "klog-server not ready after 30s" >&2; exit 1; }
log "klog-server $KLOG_SERVER_BIN on $BOOTSTRAP"

PRODUCE_OPTS=(-X linger.ms=5 -X batch.num.messages=100000 -X batch.size=1048576
              -X queue.buffering.max.messages=2000000 -X queue.buffering.max.kbytes=2097152)
ROWS=()

end_offset() { # end_offset TOPIC: high watermark of partition 0
    "$KCAT" -b "$BOOTSTRAP" -Q -t "$1:0:-1" 2>/dev/null | sed -n 's/.*offset \(-\{0,1\}[0-9]*\).*/\1/p' | head -1
}

row() { # row WORKLOAD COUNT SIZE SECONDS
    python3 - "$@" <<'EOF'
import sys
name, n, size, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
print(f"| {name} | {n:,} | {size} B | {secs:.2f} | {n / secs:,.0f} | {n * size / secs / 1e6:,.1f} |")
EOF
}

produce() { # produce TOPIC FILE COUNT SIZE ACKS
    local topic="$1" file="$2" n="$3" size="$4" acks="$5" t0 t1 got
    log "produce $n x $size B acks=$acks -> $topic"
    # Create the topic (and connect) outside the measurement.
    echo warmup | "$KCAT" -b "$BOOTSTRAP" -P -t "$topic" -p 0 -X acks="$acks"
    t0="$(now)"
    "$KCAT" -b "$BOOTSTRAP" -P -t "$topic" -p 0 -X acks="$acks" "${PRODUCE_OPTS[@]}" -l "$file"
    t1="$(now)"
    got="$(end_offset "$topic")"
    if [ "$got" != "$((n + 1))" ]; then
        echo "expected end offset $((n + 1)) for $topic, got '$got'" >&2
        exit 1
    fi
    ROWS+=("$(row "produce acks=$acks" "$n" "$size" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')")")
}

consume() { # consume TOPIC COUNT SIZE
    local topic="$1" n="$2" size="$3" t0 t1
    log "consume $topic"
    t0="$(now)"
    "$KCAT" -b "$BOOTSTRAP" -C -t "$topic" -p 0 -e -o beginning -q -X fetch.wait.max.ms=100 >/dev/null
    t1="$(now)"
    ROWS+=("$(row "consume" "$((n + 1))" "$size" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')")")
}

produce bench-100b-acks1 "$TMP/small.txt" "$N_SMALL" 100 1
produce bench-100b-acksall "$TMP/small.txt" "$N_SMALL" 100 all
consume bench-100b-acks1 "$N_SMALL" 100
produce bench-1k-acks1 "$TMP/large.txt" "$N_LARGE" 1024 1
produce bench-1k-acksall "$TMP/large.txt" "$N_LARGE" 1024 all
consume bench-1k-acks1 "$N_LARGE" 1024
if python3 -c "import confluent_kafka" 2>/dev/null; then
    log "consume with librdkafka's batch API (confluent-kafka)"
    ROWS+=("$(python3 "$ROOT/bench/consume_rate.py" "$BOOTSTRAP" bench-100b-acks1 "$((N_SMALL + 1))" 100)")
    ROWS+=("$(python3 "$ROOT/bench/consume_rate.py" "$BOOTSTRAP" bench-1k-acks1 "$((N_LARGE + 1))" 1024)")
fi

LATENCY_TABLE=""
if python3 -c "import confluent_kafka" 2>/dev/null; then
    log "produce latency: $LATENCY_COUNT records at $LATENCY_RATE/s"
    LATENCY_TABLE="$(python3 "$ROOT/bench/produce_latency.py" "$BOOTSTRAP" --header \
        --count "$LATENCY_COUNT" --rate "$LATENCY_RATE" --size 100 --acks 1 all)"
else
    LATENCY_TABLE="(confluent-kafka not installed: skipped)"
fi

# --- report -----------------------------------------------------------------------
cat <<EOF

## klog-server benchmark ($(date -u +%Y-%m-%dT%H:%MZ))

- klog commit: $COMMIT$DIRTY
- machine: $NPROC CPUs, $CPU_MODEL, $MEM RAM
- data dir filesystem: $FS
- disk reference (dd 1 GiB, bs=1M, oflag=direct): $DD_RATE
- client: kcat $("$KCAT" -V 2>&1 | grep -o 'Version [0-9.]*' | head -1 | cut -d' ' -f2) ($RDKAFKA), one partition, linger.ms=5, batch.num.messages=100000, no compression
- MB/s counts record values only (10^6 bytes)

### Throughput

| workload | records | value size | seconds | records/s | MB/s |
|---|---:|---:|---:|---:|---:|
EOF
printf '%s\n' "${ROWS[@]}"
cat <<EOF

### Produce latency (confluent-kafka, one record at a time, linger.ms=0, 100 B values)

$LATENCY_TABLE
EOF
