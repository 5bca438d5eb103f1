#!/usr/bin/env bash
# libklog's test suite:
#   1. the committed header matches what cbindgen 0.29.4 generates
#   2. release build, installed into a temporary prefix (bindings/c/install.sh)
#   3. the C tests in bindings/c/tests, compiled through `pkg-config klog` and run
#      under valgrind (no definite leaks, no memory errors), one of them against
#      a klog-server started here ($KLOG_SERVER_BIN, else target/release/klog-server)
#   4. the same embedded test linked statically against libklog.a
#   5. the C and C++ examples (examples/c, examples/cpp), built with make and run
# Prints "N passed, M failed" and exits non-zero on any failure.
# KLOG_C_DEBUG=1 installs a debug build instead (faster to build while iterating).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/klog-c-test.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '\n==> %s\n' "$*" >&2; }

PASSED=0
FAILED=0
FAILURES=()
pass() { PASSED=$((PASSED + 1)); }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); echo "FAILED: $1" >&2; }

log "header is up to date"
if bash "$HERE/scripts/check-header.sh"; then pass; else fail "check-header.sh"; fi

if [ -z "${KLOG_SERVER_BIN:-}" ]; then
    log "building klog-server (release)"
    cargo build --release -p klog-server
    KLOG_SERVER_BIN="$ROOT/target/release/klog-server"
fi
[ -x "$KLOG_SERVER_BIN" ] || { echo "KLOG_SERVER_BIN=$KLOG_SERVER_BIN is not executable" >&2; exit 1; }

log "installing libklog into $WORK/prefix"
PREFIX="$WORK/prefix"
if [ "${KLOG_C_DEBUG:-0}" = 1 ]; then
    bash "$HERE/install.sh" --prefix "$PREFIX" --debug
else
    bash "$HERE/install.sh" --prefix "$PREFIX"
fi
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
read -r -a CFLAGS <<<"$(pkg-config --cflags klog)"
read -r -a LIBS <<<"$(pkg-config --libs klog)"
read -r -a STATIC_LIBS <<<"$(pkg-config --static --libs klog | sed 's/-lklog\b/-l:libklog.a/')"
RPATH="-Wl,-rpath,$PREFIX/lib"

log "starting klog-server"
mkdir -p "$WORK/server-data"
"$KLOG_SERVER_BIN" --listeners PLAINTEXT://127.0.0.1:0 --data-dir "$WORK/server-data" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 300); do
    if grep -q '^klog-server listening on ' "$WORK/server.out"; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; echo "klog-server exited" >&2; exit 1; }
    sleep 0.1
done
KLOG_BOOTSTRAP="$(sed -n 's/^klog-server listening on //p' "$WORK/server.out" | head -n1)"
[ -n "$KLOG_BOOTSTRAP" ] || { echo "klog-server did not report its address" >&2; exit 1; }
export KLOG_BOOTSTRAP
echo "klog-server at $KLOG_BOOTSTRAP" >&2

VALGRIND=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99)

# Runs a program (under valgrind unless $2 is "plain"), counting its "ok"/"not ok" lines.
run_program() {
    local name="$1" mode="$2"
    shift 2
    local out="$WORK/$name.out" status=0
    mkdir -p "$WORK/tmp"
    if [ "$mode" = plain ]; then
        TMPDIR="$WORK/tmp" "$@" >"$out" 2>"$out.err" || status=$?
    else
        TMPDIR="$WORK/tmp" "${VALGRIND[@]}" "$@" >"$out" 2>"$out.err" || status=$?
    fi
    cat "$out"
    local oks notoks
    oks=$(grep -c '^ok ' "$out" || true)
    notoks=$(grep -c '^not ok ' "$out" || true)
    PASSED=$((PASSED + oks))
    if [ "$notoks" -gt 0 ]; then
        FAILED=$((FAILED + notoks))
        FAILURES+=("$name: $(grep '^not ok ' "$out" | sed 's/^not ok //' | tr '\n' ' ')")
    fi
    if [ "$status" -ne 0 ]; then
        cat "$out.err" >&2
        if [ "$status" -eq 99 ]; then fail "$name: valgrind found errors or definite leaks"
        elif [ "$notoks" -eq 0 ]; then fail "$name: exit status $status"; fi
    elif [ "$oks" -eq 0 ]; then
        cat "$out.err" >&2
        fail "$name: ran no tests"
    fi
}

log "C tests (valgrind)"
mkdir -p "$WORK/bin"
for source in "$HERE"/tests/test_*.c; do
    name="$(basename "$source" .c)"
    if cc -std=c11 -Wall -Wextra -Werror -g -D_DEFAULT_SOURCE -I"$HERE/tests" "${CFLAGS[@]}" \
        "$source" -o "$WORK/bin/$name" "${LIBS[@]}" -pthread "$RPATH"; then
        run_program "$name" valgrind "$WORK/bin/$name"
    else
        fail "$name: does not compile"
    fi
done

log "static linking against libklog.a"
if cc -std=c11 -Wall -Wextra -Werror -g -D_DEFAULT_SOURCE -I"$HERE/tests" "${CFLAGS[@]}" \
    "$HERE/tests/test_embedded.c" -o "$WORK/bin/test_embedded_static" "${STATIC_LIBS[@]}"; then
    if ldd "$WORK/bin/test_embedded_static" | grep -q libklog; then
        fail "test_embedded_static: links libklog.so, not libklog.a"
    else
        run_program test_embedded_static plain "$WORK/bin/test_embedded_static"
    fi
else
    fail "test_embedded_static: does not link"
fi

log "examples (C and C++)"
for lang in c cpp; do
    dir="$ROOT/examples/$lang"
    if make -s -C "$dir" BUILD="$WORK/examples-$lang" LDFLAGS="$RPATH"; then
        for bin in "$WORK/examples-$lang"/*; do
            name="example-$lang-$(basename "$bin")"
            out="$WORK/$name.out"
            if TMPDIR="$WORK/tmp" "${VALGRIND[@]}" "$bin" >"$out" 2>&1; then
                cat "$out"; pass
            else
                cat "$out" >&2; fail "$name"
            fi
            if TMPDIR="$WORK/tmp" "$bin" "$KLOG_BOOTSTRAP" >"$out" 2>&1; then
                pass
            else
                cat "$out" >&2; fail "$name $KLOG_BOOTSTRAP"
            fi
        done
    else
        fail "examples/$lang: does not build"
    fi
done

echo
for failure in "${FAILURES[@]+"${FAILURES[@]}"}"; do echo "failed: $failure"; done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
