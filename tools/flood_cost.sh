#!/usr/bin/env bash
# Instructions per received octet of each flood in bench/flood_bench.cpp,
# counted by callgrind over Connection::receive() alone, next to ordinary
# requests. Usage: bash tools/flood_cost.sh [BUILD_DIR]   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bench=$build/bench/h2wire-bench
iterations=10
printf '%-28s %12s %10s %14s %s\n' flood octets batches instructions 'per octet'
for name in settings_2729_entries settings_1_entry window_update_connection window_update_streams \
    priority_update ping requests; do
    out=$(mktemp -d)
    H2WIRE_BENCH_ITERATIONS=$iterations valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
        --toggle-collect='*feed_flood*' "$bench" --benchmark_filter="^flood/$name(/iterations:[0-9]+)?\$" \
        --benchmark_format=json > "$out/json" 2> "$out/log"
    python3 - "$out" "$name" "$iterations" <<'PY'
import json, re, sys
out, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
b = json.load(open(out + "/json"))["benchmarks"][0]
octets = int(b["octets"])
total = None
for line in open(out + "/cg"):
    if line.startswith("summary:") or line.startswith("totals:"):
        total = int(line.split()[1])
per = total / (n * octets)
print(f"{name:28s} {octets:12d} {n:10d} {total:14d} {per:9.2f}{'  (limit tripped)' if b.get('closed') else ''}")
PY
    rm -rf "$out"
done
