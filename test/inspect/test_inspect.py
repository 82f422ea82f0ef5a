#!/usr/bin/python3
"""Tests of h2wire-inspect.

    test_inspect.py PATH_TO_H2WIRE_INSPECT TEST_DATA_DIR

Runs the tool on byte streams captured from real clients (test/data, made with
capture.py), on streams built here (a header block split over CONTINUATION,
a block that needs the dynamic table of the previous one), and on garbage,
and checks the text and --json output and the exit status.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

TOOL = sys.argv[1]
DATA = sys.argv[2]
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args, stdin=None):
    p = subprocess.run([TOOL] + args, input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def run_json(path):
    code, out, err = run(["--json", path])
    records = [json.loads(line) for line in out.splitlines()]
    return code, records, err


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def write_temp(data):
    f = tempfile.NamedTemporaryFile(delete=False, suffix=".bin")
    f.write(data)
    f.close()
    return f.name


def test_nghttp_capture():
    path = os.path.join(DATA, "nghttp_post.bin")
    code, out, err = run([path])
    check(code == 0, f"nghttp capture: exit {code}, stderr {err!r}")
    lines = out.splitlines()
    check(lines[0].split() == ["0", "PREFACE", "length=24"], f"preface line: {lines[0]!r}")
    check(any(l.startswith("124") and "HEADERS stream=13" in l and "flags=END_HEADERS|PRIORITY" in l for l in lines),
          "nghttp HEADERS line")
    check("    :method: POST" in lines, "decoded :method")
    check("    x-inspect: yes" in lines, "decoded custom header")
    check("    content-length: 3019" in lines, "decoded content-length")
    check(any("DATA stream=13 length=3019 flags=END_STREAM data=3019" in l for l in lines), "DATA line")
    check(any("GOAWAY" in l and "error_code=NO_ERROR" in l for l in lines), "GOAWAY line")

    code, records, _ = run_json(path)
    check(code == 0, "nghttp capture --json exit status")
    types = [r.get("type") for r in records]
    check(types == ["PREFACE", "SETTINGS", "SETTINGS", "PRIORITY", "PRIORITY", "PRIORITY", "PRIORITY", "PRIORITY",
                    "HEADERS", "DATA", "GOAWAY"], f"json types: {types}")
    headers = next(r for r in records if r.get("type") == "HEADERS")
    check(headers["stream"] == 13 and headers["flags"] == ["END_HEADERS", "PRIORITY"], f"json HEADERS: {headers}")
    names = [h[0] for h in headers["headers"]]
    check(names[:4] == [":method", ":path", ":scheme", ":authority"], f"json header names: {names}")
    check(["x-inspect", "yes"] in headers["headers"], "json custom header")
    check(all(isinstance(h, list) and len(h) == 2 for h in headers["headers"]), "headers are [name, value] pairs")
    settings = records[1]
    check(settings["settings"] == [["SETTINGS_MAX_CONCURRENT_STREAMS", 100], ["SETTINGS_INITIAL_WINDOW_SIZE", 65535]],
          f"json settings: {settings}")
    offsets = [r["offset"] for r in records]
    check(offsets == sorted(offsets), "offsets increase")


def test_curl_capture():
    path = os.path.join(DATA, "curl_get.bin")
    code, records, err = run_json(path)
    check(code == 0, f"curl capture: exit {code} {err}")
    types = [r.get("type") for r in records]
    check(types == ["PREFACE", "SETTINGS", "WINDOW_UPDATE", "HEADERS", "SETTINGS"], f"curl types: {types}")
    h = records[3]
    check(h["flags"] == ["END_STREAM", "END_HEADERS"], "curl HEADERS flags")
    check(h["headers"][0] == [":method", "GET"] and [":path", "/index.html"] in h["headers"], "curl headers")
    check(any(n == "user-agent" and v.startswith("curl/") for n, v in h["headers"]), "curl user-agent")
    # The same bytes on standard input.
    with open(path, "rb") as f:
        code, out, _ = run([], stdin=f.read())
    check(code == 0 and "HEADERS stream=1" in out, "reading standard input")


def test_continuation_and_dynamic_table():
    # A request whose block is split over HEADERS + 2 CONTINUATION, then a
    # second request whose block refers to the dynamic table entry the first
    # one added (index 62), so it only decodes if the table is kept.
    literal = b"\x40\x0ax-custom-a\x05value"  # literal with incremental indexing, new name
    block1 = b"\x82\x84\x86" + literal + b"\x41\x0bexample.com"
    block2 = b"\x82\x84\x86\xbf\xbe"  # dynamic 63 (x-custom-a), 62 (:authority)
    data = PREFACE + frame(4, 0, 0) + frame(1, 0x01, 1, block1[:4]) + frame(9, 0, 1, block1[4:12]) + \
        frame(9, 0x04, 1, block1[12:]) + frame(1, 0x05, 3, block2) + frame(6, 0, 0, b"12345678")
    path = write_temp(data)
    try:
        code, records, err = run_json(path)
        check(code == 0, f"continuation: exit {code} {err}")
        types = [r["type"] for r in records]
        check(types == ["PREFACE", "SETTINGS", "HEADERS", "CONTINUATION", "CONTINUATION", "HEADERS", "PING"],
              f"continuation types {types}")
        check("headers" not in records[2] and "headers" not in records[3], "no headers before END_HEADERS")
        want1 = [[":method", "GET"], [":path", "/"], [":scheme", "http"], ["x-custom-a", "value"],
                 [":authority", "example.com"]]
        check(records[4].get("headers") == want1, f"joined block: {records[4].get('headers')}")
        want2 = [[":method", "GET"], [":path", "/"], [":scheme", "http"], ["x-custom-a", "value"],
                 [":authority", "example.com"]]
        check(records[5].get("headers") == want2, f"dynamic table kept: {records[5].get('headers')}")
        code, out, _ = run([path])
        check(out.count("    x-custom-a: value") == 2, "text mode prints both blocks")
    finally:
        os.unlink(path)


def expect_failure(name, data, offset, words, args=()):
    path = write_temp(data)
    try:
        code, out, err = run(list(args) + [path])
        check(code == 1, f"{name}: exit {code}, want 1")
        check(f"offset {offset}" in err, f"{name}: stderr {err!r} lacks offset {offset}")
        for w in words:
            check(w in err, f"{name}: stderr {err!r} lacks {w!r}")
        code, out, err = run(["--json"] + list(args) + [path])
        last = json.loads(out.splitlines()[-1])
        check(code == 1 and last["offset"] == offset and "error" in last, f"{name}: json error record {last}")
    finally:
        os.unlink(path)


def test_garbage():
    expect_failure("HTTP/1.1 request", b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, ["FRAME_SIZE_ERROR"])
    with open(os.path.join(DATA, "nghttp_post.bin"), "rb") as f:
        capture = f.read()
    expect_failure("truncated capture", capture[:1000], 197, ["truncated frame"])
    expect_failure("HPACK index 0", PREFACE + frame(4, 0, 0) + frame(1, 0x05, 1, b"\x80"), 33, ["COMPRESSION_ERROR"])
    expect_failure("PING on a stream", PREFACE + frame(4, 0, 0) + frame(6, 0, 1, b"\0" * 8), 33,
                   ["PROTOCOL_ERROR"])
    expect_failure("block left open", PREFACE + frame(1, 0x00, 1, b"\x82"), 24, ["truncated header block"])
    expect_failure("frame inside a block", PREFACE + frame(1, 0x00, 1, b"\x82") + frame(6, 0, 0, b"\0" * 8), 34,
                   ["PROTOCOL_ERROR"])
    expect_failure("PUSH_PROMISE from a client", PREFACE + frame(5, 0x04, 1, b"\0\0\0\x02"), 24, ["PROTOCOL_ERROR"])
    # A stream error is printed, reading goes on, the exit status is 1.
    path = write_temp(frame(2, 0, 3, b"\0" * 8) + frame(6, 0, 0, b"\0" * 8))
    try:
        code, records, err = run_json(path)
        check(code == 1, "stream error: exit status")
        check(records[0].get("scope") == "stream" and records[0].get("error") == "FRAME_SIZE_ERROR",
              f"stream error record {records[0]}")
        check(records[1].get("type") == "PING", "reading goes on after a stream error")
    finally:
        os.unlink(path)
    # Random bytes never crash it.
    import random
    rng = random.Random(7)
    for i in range(200):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        code, _, err = run([write_and_keep(blob)])
        check(code in (0, 1), f"random input {i}: exit {code} {err}")
    cleanup()


kept = []


def write_and_keep(data):
    kept.append(write_temp(data))
    return kept[-1]


def cleanup():
    for p in kept:
        os.unlink(p)


def test_usage():
    code, _, err = run(["--bogus"])
    check(code == 2 and "usage" in err, "unknown option exits 2")
    code, _, err = run(["/nonexistent/file.bin"])
    check(code == 2, "missing file exits 2")
    code, _, _ = run(["--max-frame-size=100", "x"])
    check(code == 2, "bad max frame size exits 2")
    code, out, _ = run([], stdin=b"")
    check(code == 0 and out == "", "empty input")


def test_larger_frames():
    # A 20000-octet DATA frame needs --max-frame-size.
    data = frame(0, 1, 1, b"x" * 20000)
    expect_failure("20000-octet DATA", data, 0, ["FRAME_SIZE_ERROR"])
    path = write_temp(data)
    try:
        code, out, _ = run(["--max-frame-size=20000", path])
        check(code == 0 and "data=20000" in out, "--max-frame-size")
    finally:
        os.unlink(path)


for t in [test_nghttp_capture, test_curl_capture, test_continuation_and_dynamic_table, test_garbage, test_usage,
          test_larger_frames]:
    t()
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
