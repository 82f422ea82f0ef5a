#!/usr/bin/env bash
# Builds h2wire and runs the whole test suite: unit tests (doctest), the shared
# HPACK and frame vectors, the Python oracles, tool tests, fuzz-corpus
# replays, a benchmark smoke run and the interop suite against real peers
# (curl, nghttp2, Python h2, Node, Chromium). Installs the Debian packages it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/scripts/deps.sh
install_packages meson ninja-build g++ pkg-config cmake doxygen groff-base doctest-dev libbenchmark-dev libnghttp2-dev libnghttp3-dev \
    libngtcp2-dev libngtcp2-crypto-gnutls-dev libgnutls28-dev ngtcp2-server ngtcp2-client \
    python3 python3-hpack python3-h2 \
    libssl-dev openssl libasio-dev libuv1-dev curl nghttp2-client nghttp2-server nodejs chromium

builddir=${H2WIRE_BUILD_DIR:-build}
# Extra meson options, e.g. H2WIRE_MESON_ARGS=-Dwerror=true (CI).
# shellcheck disable=SC2086
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" -Dbenchmarks=true ${H2WIRE_MESON_ARGS:-}
ninja -C "$builddir"
set +e
meson test -C "$builddir" --print-errorlogs --num-processes 2 | tee "$builddir/test-summary.txt"
status=${PIPESTATUS[0]}
set -e
ok=$(awk '/^Ok:/ {print $2}' "$builddir/test-summary.txt")
failed=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {s += $2} END {print s + 0}' "$builddir/test-summary.txt")
echo "${ok:-0} passed, ${failed} failed"
exit "$status"
