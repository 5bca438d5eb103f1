#!/usr/bin/env bash
# Runs the Node package's tests (node --test) and the TypeScript check.
# Uses $KLOG_SERVER_BIN, else target/release/klog-server (built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(cd ../.. && pwd)"
if [[ -z "${KLOG_SERVER_BIN:-}" ]]; then
  export KLOG_SERVER_BIN="$root/target/release/klog-server"
  [[ -x "$KLOG_SERVER_BIN" ]] || (cd "$root" && cargo build --release -p klog-server)
fi
# cargo's freshness check: a no-op when the addon is up to date, a rebuild when the sources changed.
npm run --silent build
npm run --silent typecheck
npm test
