#!/usr/bin/env bash
# Installs what building and testing libklog needs, if missing (idempotent,
# non-interactive): cbindgen 0.29.4, pkg-config, valgrind, a C/C++ compiler and
# make, and librdkafka-dev for bench/c_bench.sh.
set -euo pipefail

CBINDGEN_VERSION="0.29.4"

missing=()
command -v pkg-config >/dev/null || missing+=(pkg-config)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v cc >/dev/null || missing+=(gcc)
command -v c++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
dpkg -s librdkafka-dev >/dev/null 2>&1 || missing+=(librdkafka-dev)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$(cbindgen --version 2>/dev/null | awk '{print $2}')" != "$CBINDGEN_VERSION" ]; then
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --force
fi
