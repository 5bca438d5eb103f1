#!/usr/bin/env bash
# Builds klog-server, starts it on 127.0.0.1:9092 (data in ./klog-data), then
# produces and consumes a few records with kcat. The broker keeps running.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v kcat >/dev/null; then
  echo "installing kcat..."
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq kcat >/dev/null
fi
cargo build --release -q -p klog-server

DATA=./klog-data
mkdir -p "$DATA"
if [ -f "$DATA/klog-server.pid" ] && kill -0 "$(cat "$DATA/klog-server.pid")" 2>/dev/null; then
  echo "klog-server already running (pid $(cat "$DATA/klog-server.pid"))"
else
  ./target/release/klog-server --data-dir "$DATA" --listeners PLAINTEXT://127.0.0.1:9092 \
    > "$DATA/klog-server.out" 2> "$DATA/klog-server.log" &
  echo $! > "$DATA/klog-server.pid"
  for _ in $(seq 1 100); do
    grep -q "listening on" "$DATA/klog-server.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "listening on" "$DATA/klog-server.out" || { cat "$DATA/klog-server.log"; exit 1; }
  cat "$DATA/klog-server.out"
fi

TOPIC="demo-$(date +%s)"
printf 'alice:hello\nbob:klog speaks Kafka\ncarol:goodbye\n' | kcat -b 127.0.0.1:9092 -t "$TOPIC" -P -K: -H source=demo
echo "--- consumed from $TOPIC:"
kcat -b 127.0.0.1:9092 -t "$TOPIC" -C -e -o beginning -q -f '%k => %s  [partition %p, offset %o, headers %h]\n'
echo "--- broker still running; stop it with: kill \$(cat $DATA/klog-server.pid)"
