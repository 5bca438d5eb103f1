#!/usr/bin/env bash
# Installs the Node package's npm dependencies and builds the native addon in
# release mode (bindings/node/native/klog.node). Idempotent, non-interactive.
# Needs node >= 20, npm and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
# `npm ci` when the lock file is present (reproducible); its install script
# runs `napi build --release`.
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
test -f native/klog.node
