#!/usr/bin/env bash
# Install everything the klog test suite and benchmarks need.
# Idempotent and non-interactive; meant for a fresh Debian 12 machine (run as
# root, or with sudo available) that already has rustup's cargo, python3/pip
# and node 20/npm.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '==> %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi

# --- system packages: kcat (librdkafka CLI) and librdkafka headers ----------
missing=()
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
dpkg -s librdkafka-dev >/dev/null 2>&1 || missing+=(librdkafka-dev)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "kcat and librdkafka-dev already installed"
fi

# --- Python clients -------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
log "installing Python requirements"
"$PYTHON" -m pip install --disable-pip-version-check --root-user-action=ignore -q -r tests/interop/requirements.txt

# --- the klog Python package (bindings/python) ----------------------------------
log "installing the Python package's build and test requirements"
"$PYTHON" -m pip install --disable-pip-version-check --root-user-action=ignore -q -r bindings/python/requirements-test.txt
log "building and installing the klog Python package (maturin, release)"
"$PYTHON" -m pip install --disable-pip-version-check --root-user-action=ignore -q --no-build-isolation ./bindings/python

# --- Node clients -----------------------------------------------------------------
log "installing Node dependencies (kafkajs)"
(
    cd tests/interop/node
    if [ -f package-lock.json ]; then
        npm ci --no-audit --no-fund --loglevel=error
    else
        npm install --no-audit --no-fund --loglevel=error
    fi
)

# --- the Java client ----------------------------------------------------------------
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
    log "installing a JDK and Maven"
    $SUDO apt-get install -y -q --no-install-recommends default-jdk-headless maven
fi
log "fetching the Kafka Java client (Maven Central)"
(cd tests/interop/java && mvn -q -B dependency:resolve)
log "fetching Apache Kafka (Maven Central) for the klog-client-vs-Kafka tests"
(cd tests/interop/reference && mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib)

# --- the broker -------------------------------------------------------------------
log "building klog-server (release)"
cargo build --release -p klog-server

# --- the Node package (bindings/node) ----------------------------------------------
log "installing the Node package's dependencies and building its addon (release)"
bash bindings/node/scripts/setup.sh

# --- libklog (bindings/c) -----------------------------------------------------------
log "installing libklog's build and test tools (cbindgen, pkg-config, valgrind)"
bash bindings/c/scripts/setup.sh

log "setup done"
