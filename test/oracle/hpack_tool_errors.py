#!/usr/bin/python3
"""Checks how h2wire-hpack reports bad input.

Usage: hpack_tool_errors.py PATH/TO/h2wire-hpack

Malformed JSON, bad hex and HPACK errors must give exit status 1 and exactly
one line on stderr that names the case's seqno (when there is a case); usage
errors exit 2; good input round-trips, including strings that need escaping.
"""
import json
import subprocess
import sys

failures = []


def run(tool, args, stdin):
    p = subprocess.run([tool] + args, input=stdin.encode("utf-8"), capture_output=True)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def story(*cases):
    return json.dumps({"description": "error test", "cases": list(cases)})


def expect_error(tool, label, args, stdin, must_contain):
    code, out, err = run(tool, args, stdin)
    lines = err.strip().splitlines()
    if code != 1:
        failures.append("%s: exit %d, want 1 (stderr: %r)" % (label, code, err))
    elif out:
        failures.append("%s: wrote to stdout on error: %r" % (label, out[:80]))
    elif len(lines) != 1:
        failures.append("%s: want one stderr line, got %r" % (label, err))
    else:
        for text in must_contain:
            if text not in lines[0]:
                failures.append("%s: %r does not mention %r" % (label, lines[0], text))
    print("%-44s %s" % (label, lines[0] if lines else "(no message)"))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tool = sys.argv[1]

    good = {"seqno": 0, "wire": "82", "header_table_size": 4096}

    # Malformed input, before any case.
    expect_error(tool, "truncated JSON", ["decode"], '{"cases": [', ["JSON"])
    expect_error(tool, "not JSON at all", ["encode"], "hello", ["JSON"])
    expect_error(tool, "no cases array", ["decode"], '{"description": "x"}', ["cases"])

    # Bad hex, in the third case (seqno 7, to tell seqno from position).
    expect_error(tool, "odd-length hex", ["decode"],
                 story(good, dict(good, seqno=1), {"seqno": 7, "wire": "828"}), ["seqno 7", "hex"])
    expect_error(tool, "non-hex digit", ["decode"],
                 story(good, {"seqno": 3, "wire": "82zz"}), ["seqno 3", "hex"])
    expect_error(tool, "missing wire", ["decode"], story(good, {"seqno": 4}), ["seqno 4", "wire"])
    expect_error(tool, "bad header_table_size", ["decode"],
                 story({"seqno": 0, "wire": "82", "header_table_size": -1}), ["seqno 0", "header_table_size"])

    # HPACK errors (RFC 7541): the message names the seqno and the error.
    hpack_errors = [
        ("index 0", "80"),
        ("index past both tables", "be"),
        ("integer overflow", "ffffffffffffff7f"),
        ("string length past the input", "400a61"),
        ("huffman EOS in string", "0085ffffffffff0161"),
        ("huffman padding not all ones", "0081000161"),
        ("size update above the limit", "3fe21f"),
        ("size update after a field", "823f00"),
    ]
    for label, wire in hpack_errors:
        expect_error(tool, "HPACK: " + label, ["decode"],
                     story(good, {"seqno": 1, "wire": wire}), ["seqno 1", "HPACK"])
    # The limit was lowered for case 1 and its block has no size update (§4.2).
    expect_error(tool, "HPACK: size update missing", ["decode"],
                 story(good, {"seqno": 1, "wire": "82", "header_table_size": 100}), ["seqno 1", "HPACK"])

    # Encode-side input errors.
    expect_error(tool, "encode: headers not a list", ["encode"],
                 story({"seqno": 5, "headers": {"a": "b"}}), ["seqno 5", "headers"])
    expect_error(tool, "encode: header value not a string", ["encode"],
                 story({"seqno": 6, "headers": [{"a": 1}]}), ["seqno 6"])
    expect_error(tool, "encode: two keys in one header", ["encode"],
                 story({"seqno": 2, "headers": [{"a": "1", "b": "2"}]}), ["seqno 2"])

    # Usage errors exit 2; --help exits 0.
    for args in (["frobnicate"], [], ["encode", "--table-size"], ["encode", "--table-size", "x"],
                 ["encode", "--table-size", "4294967296"], ["decode", "extra"]):
        code, _, err = run(tool, args, "{}")
        if code != 2 or "usage" not in err:
            failures.append("usage %r: exit %d, stderr %r" % (args, code, err[:80]))
    code, out, _ = run(tool, ["--help"], "")
    if code != 0 or "encode" not in out or "decode" not in out:
        failures.append("--help: exit %d, %r" % (code, out[:80]))

    # Both spellings of --table-size reach the output (decoding is the oracle's job).
    for args in (["encode", "--table-size", "100"], ["encode", "--table-size=0"]):
        code, out, err = run(tool, args, json.dumps({"cases": [{"headers": [{"a": "b"}]}]}))
        want = int(args[-1].split("=")[-1])
        if code != 0 or json.loads(out)["cases"][0].get("header_table_size") != want:
            failures.append("%r: exit %d, %s" % (args, code, (out or err)[:200]))

    # Strings that need escaping survive encode then decode, as valid JSON.
    headers = [{"x-quote": 'a"b\\c'}, {"x-ctl": "\t\n\r\x01\x7f"}, {"x-utf8": "h\u00e9\u4e2d\U0001f600"},
               {"": ""}, {"authorization": "secret"}, {"x-long": "v" * 5000}]
    code, out, err = run(tool, ["encode"], json.dumps({"cases": [{"headers": headers}]}))
    if code != 0:
        failures.append("encode of escapes: exit %d: %s" % (code, err))
    else:
        encoded = json.loads(out)
        case = encoded["cases"][0]
        if case.get("seqno") != 0 or case.get("header_table_size") != 4096:
            failures.append("encode added %r" % ({k: v for k, v in case.items() if k != "headers"},))
        code, out, err = run(tool, ["decode"], out)
        if code != 0:
            failures.append("decode of escapes: exit %d: %s" % (code, err))
        elif json.loads(out)["cases"][0]["headers"] != headers:
            failures.append("escapes did not round-trip: %r" % json.loads(out)["cases"][0]["headers"])

    for f in failures:
        print("FAIL " + f)
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
