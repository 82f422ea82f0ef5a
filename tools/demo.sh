#!/usr/bin/env bash
# Builds h2wire's HPACK tool and shows it at work on a real request story:
# encodes a list of headers, then decodes the bytes back.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/scripts/deps.sh
install_packages meson ninja-build g++ pkg-config

builddir=${H2WIRE_BUILD_DIR:-build-demo}
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" -Dtests=false -Dexamples=false >/dev/null
ninja -C "$builddir" tools/h2wire-hpack >/dev/null
tool="$builddir/tools/h2wire-hpack"
story=../shared/testdata/hpack-test-case/raw-data/story_30.json
[ -f "$story" ] || story=$(dirname "$0")/scripts/demo_story.json

echo "== h2wire-hpack encode: the first 3 header lists of $(basename "$story") =="
"$tool" encode < "$story" > "$builddir/demo-encoded.json"
/usr/bin/env python3 - "$builddir/demo-encoded.json" <<'PY'
import json, sys
story = json.load(open(sys.argv[1]))
for case in story["cases"][:3]:
    raw = sum(len(k) + len(v) for h in case["headers"] for k, v in h.items())
    print(f"case {case['seqno']}: {len(case['headers'])} fields, {raw} bytes of text -> {len(case['wire']) // 2} bytes of HPACK")
    print("  wire:", case["wire"][:96] + ("..." if len(case["wire"]) > 96 else ""))
PY
echo
echo "== h2wire-hpack decode: the same bytes back to fields =="
"$tool" decode < "$builddir/demo-encoded.json" | /usr/bin/env python3 -c '
import json, sys
story = json.load(sys.stdin)
for case in story["cases"][:3]:
    print(f"case {case[\"seqno\"]}:")
    for h in case["headers"]:
        for k, v in h.items():
            print(f"  {k}: {v}")
'
