#!/usr/bin/env bash
# Consumer tests (issue 13): h2wire as a user gets it.
#
#   1. `meson install` into a temporary prefix, shared and static; prints the
#      installed files and the number of exported symbols;
#   2. from outside the tree, builds and runs tools/consumer/exchange.cpp
#      (a request exchanged in memory) three ways: pkg-config + make, CMake
#      find_package(h2wire 0.2 CONFIG REQUIRED), and a meson project with
#      h2wire as a subproject (short-form fallback), checking that none of
#      h2wire's tests, examples or tools leak into that project;
#   3. `meson dist`: the tarball builds and passes its tests with no network
#      (in a network namespace of its own when `unshare -rn` works).
#
# Usage: tools/consumer_test.sh [BUILD_DIR_FOR_DIST]
# Needs: meson, ninja, g++, pkg-config, cmake, make, git (tools/test.sh and
# .ci/run install them).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/h2wire-consumer.XXXXXX)
trap 'rm -rf "$work"' EXIT
consumer=$src/tools/consumer

step() { echo; echo "=== consumer: $*"; }

# H2WIRE_CONSUMER_KINDS="shared" (or "") narrows the install stages while
# working on the script; CI runs both.
for kind in ${H2WIRE_CONSUMER_KINDS-shared static}; do
    prefix=$work/prefix-$kind
    step "meson install ($kind, release, warnings as errors) into $prefix"
    meson setup "$work/build-$kind" "$src" --prefix="$prefix" --libdir=lib -Ddefault_library=$kind \
        -Dbuildtype=release -Dwerror=true -Dtests=disabled -Dexamples=disabled -Ddocs=disabled \
        -Dtools=enabled >/dev/null
    ninja -C "$work/build-$kind" >/dev/null
    meson install -C "$work/build-$kind" --quiet
    echo "installed files:"
    (cd "$prefix" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort | sed 's/^/    /')
    if [ "$kind" = shared ]; then
        lib=$(readlink -f "$prefix/lib/libh2wire.so")
        echo "SONAME: $(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
        echo "exported symbols (nm -D --defined-only): $(nm -D --defined-only "$lib" | wc -l)"
        export LD_LIBRARY_PATH=$prefix/lib
    else
        unset LD_LIBRARY_PATH
    fi
    "$prefix/bin/h2wire-inspect" --version
    [ -f "$prefix/share/man/man1/h2wire-inspect.1" ] && [ -f "$prefix/share/man/man1/h2wire-hpack.1" ]

    step "pkg-config + make ($kind)"
    mkdir -p "$work/make-$kind"
    cp "$consumer/exchange.cpp" "$consumer/Makefile" "$work/make-$kind/"
    PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --modversion h2wire
    PKG_CONFIG_PATH=$prefix/lib/pkgconfig make -s -C "$work/make-$kind"
    "$work/make-$kind/exchange"
    if [ "$kind" = shared ]; then
        # It really runs on the installed shared library.
        linked=$(ldd "$work/make-$kind/exchange")
        grep -q "libh2wire.so.0.2 => $prefix/lib/libh2wire.so.0.2" <<<"$linked"
    fi

    step "CMake find_package ($kind)"
    mkdir -p "$work/cmake-$kind"
    cp "$consumer/exchange.cpp" "$consumer/CMakeLists.txt" "$work/cmake-$kind/"
    cmake -S "$work/cmake-$kind" -B "$work/cmake-$kind/build" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" >/dev/null
    cmake --build "$work/cmake-$kind/build" >/dev/null
    "$work/cmake-$kind/build/exchange"
    # A version the package does not satisfy is refused (before 1.0 only
    # the same minor version is compatible).
    mkdir -p "$work/cmake-old-$kind"
    sed 's/find_package(h2wire 0.2 /find_package(h2wire 0.1 /' "$consumer/CMakeLists.txt" >"$work/cmake-old-$kind/CMakeLists.txt"
    cp "$consumer/exchange.cpp" "$work/cmake-old-$kind/"
    if cmake -S "$work/cmake-old-$kind" -B "$work/cmake-old-$kind/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
        echo "CMake accepted h2wire 0.2 for a request of 0.1"; exit 1
    fi
    echo "find_package(h2wire 0.1) refused, as it should be"
done
unset LD_LIBRARY_PATH

step "meson dist"
distbuild=$work/build-dist
meson setup "$distbuild" "$src" -Dtests=disabled -Dexamples=disabled -Dtools=disabled -Ddocs=disabled >/dev/null
# --allow-dirty: a working tree with changes still makes a tarball (of HEAD).
meson dist -C "$distbuild" --formats xztar --no-tests --allow-dirty 2>&1 | grep -v '^$' | tail -n 3
tarball=$(ls "$distbuild"/meson-dist/h2wire-*.tar.xz)
echo "tarball: $(basename "$tarball") ($(stat -c %s "$tarball") octets, $(tar -tJf "$tarball" | wc -l) entries)"

step "meson subproject with the short-form fallback (h2wire from the tarball)"
proj=$work/subproject-consumer
mkdir -p "$proj/subprojects"
cp "$consumer/exchange.cpp" "$consumer/meson.build" "$proj/"
tar -xJf "$tarball" -C "$proj/subprojects"
mv "$proj/subprojects"/h2wire-* "$proj/subprojects/h2wire"
meson setup "$proj/build" "$proj" >/dev/null
ninja -C "$proj/build" >/dev/null
tests=$(meson test -C "$proj/build" --list --no-rebuild 2>/dev/null)
echo "the consumer's tests: $tests"
[ "$tests" = "consumer exchange" ] || { echo "h2wire leaked tests into the consumer: $tests"; exit 1; }
if ninja -C "$proj/build" -t targets all | grep -E 'subprojects/h2wire/(examples|test|tools|fuzz|bench)/' | head -n 3 | grep .; then
    echo "h2wire built more than its library as a subproject"; exit 1
fi
meson test -C "$proj/build" --print-errorlogs | grep -E '^(Ok|Fail):'
"$proj/build/exchange"

step "the tarball builds and passes its tests offline"
unpacked=$work/dist
mkdir -p "$unpacked"
tar -xJf "$tarball" -C "$unpacked"
tree=$(ls -d "$unpacked"/h2wire-*)
# The shared test vectors live beside the project, not in it (../shared).
ln -s "$src/../shared" "$unpacked/shared"
# No network: a network namespace of its own with only loopback (the tests'
# servers bind 127.0.0.1), when user namespaces and `ip` are available.
build_and_test_dist() {
    meson setup "$tree/build" "$tree" -Dexamples=disabled -Dbenchmarks=false >/dev/null
    ninja -C "$tree/build" >/dev/null
    set +e
    meson test -C "$tree/build" --num-processes 2 --print-errorlogs >"$work/dist-test.log" 2>&1
    status=$?
    set -e
    grep -E '^ *[0-9]+/[0-9]+ ' "$work/dist-test.log" | grep -v ' OK ' || true
    grep -E '^(Ok|Fail|Skipped|Timeout):' "$work/dist-test.log"
    if [ "$status" -ne 0 ]; then tail -n 80 "$work/dist-test.log"; fi
    return "$status"
}
export -f build_and_test_dist
export tree work
if unshare -rn true 2>/dev/null && command -v ip >/dev/null; then
    echo "(in a network namespace with loopback only)"
    unshare -rn bash -c 'set -euo pipefail; ip link set lo up; build_and_test_dist'
else
    echo "(no network namespace here: the tests run with the host's network)"
    build_and_test_dist
fi
echo "consumer tests: all passed"
