#!/usr/bin/env bash
# Run the whole klog test suite, stopping at the first failing stage:
#   1. cargo test --workspace
#   2. the Python interoperability suite (kcat, confluent-kafka, kafka-python)
#   3. the Python package's tests and type check (bindings/python)
#   4. the Node interoperability suite (kafkajs)
#   5. the Node package's tests and type check (bindings/node)
#   6. libklog's C tests under valgrind and the C/C++ examples (bindings/c)
# The interop suites drive a release klog-server (and the klog CLI); set
# KLOG_SERVER_BIN and KLOG_BIN to use prebuilt binaries instead of
# target/release/klog-server and target/release/klog.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
PYTEST_TIMEOUT="${PYTEST_TIMEOUT:-120}"

log() { printf '\n==> %s\n' "$*" >&2; }

if [ -z "${KLOG_SERVER_BIN:-}" ] || [ -z "${KLOG_BIN:-}" ]; then
    # cargo's own freshness check: a no-op when the binaries are up to date.
    # The package builds both binaries: klog-server and the klog CLI.
    log "building klog-server and klog (release)"
    cargo build --release -p klog-server
    KLOG_SERVER_BIN="${KLOG_SERVER_BIN:-$ROOT/target/release/klog-server}"
    KLOG_BIN="${KLOG_BIN:-$ROOT/target/release/klog}"
fi
if [ ! -x "$KLOG_SERVER_BIN" ]; then
    echo "KLOG_SERVER_BIN=$KLOG_SERVER_BIN is not an executable file" >&2
    exit 1
fi
export KLOG_SERVER_BIN KLOG_BIN

log "cargo test --workspace"
cargo test --workspace

log "Python interop tests (kcat, confluent-kafka, kafka-python, klog CLI)"
"$PYTHON" -m pytest tests/interop -q -x --timeout "$PYTEST_TIMEOUT" -p no:cacheprovider

log "Python package (bindings/python): rebuild if changed, tests, type check"
# Incremental: cargo is a no-op when the extension is up to date.
"$PYTHON" -m pip install --disable-pip-version-check --root-user-action=ignore -q --no-deps --no-build-isolation ./bindings/python
"$PYTHON" -m pytest bindings/python/tests -q -x --timeout "$PYTEST_TIMEOUT" -p no:cacheprovider
(cd bindings/python && "$PYTHON" -m mypy --strict)

log "Node interop tests (kafkajs)"
if [ ! -d tests/interop/node/node_modules ]; then
    (cd tests/interop/node && npm ci --no-audit --no-fund --loglevel=error)
fi
node --test --test-concurrency=1 tests/interop/node/

log "Node package (bindings/node): tests and type check"
bash bindings/node/scripts/test.sh

log "libklog (bindings/c): header check, C tests under valgrind, C and C++ examples"
bash bindings/c/scripts/test.sh

log "all tests passed"
