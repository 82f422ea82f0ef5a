#!/usr/bin/python3
"""Checks h2wire-hpack against an independent HPACK implementation.

Usage: hpack_python_oracle.py PATH/TO/h2wire-hpack PATH/TO/hpack-test-case

1. Every raw-data story is encoded by `h2wire-hpack encode --table-size N`
   for N in 4096, 256 and 0, and every block is decoded by Python's `hpack`
   (Debian python3-hpack, 4.0) with SETTINGS_HEADER_TABLE_SIZE = N. The
   decoded list must equal the input exactly (ordered, as bytes), fields that
   RFC 7541 §7.1.3 calls sensitive must arrive as never-indexed literals, and
   the table the encoder announced must fit N. The same encodings also go back
   through `h2wire-hpack decode`.
2. Every story of every wire folder goes through `h2wire-hpack decode`, and
   the result must equal the vector's `headers` (other fields unchanged).

Prints per-folder counts and a last line `N passed, M failed` (N and M count
stories); exits 1 when anything failed.
"""
import json
import os
import subprocess
import sys

import hpack

TABLE_SIZES = (4096, 256, 0)
MAX_DIFFS_SHOWN = 3


def as_pairs(headers):
    """The vector's list of one-key objects as a list of (bytes, bytes)."""
    out = []
    for h in headers:
        if not isinstance(h, dict) or len(h) != 1:
            raise ValueError("header is not a one-key object: %r" % (h,))
        ((name, value),) = h.items()
        out.append((name.encode("utf-8"), value.encode("utf-8")))
    return out


def is_sensitive(name, value):
    """The fields h2wire's encoder must send as never-indexed (issue 2, §3)."""
    return name in (b"authorization", b"proxy-authorization") or (name == b"cookie" and len(value) < 20)


def run_tool(tool, args, story_text):
    """Runs the tool; returns (parsed JSON or None, error text or None)."""
    p = subprocess.run([tool] + args, input=story_text.encode("utf-8"), capture_output=True)
    if p.returncode != 0:
        return None, "exit %d: %s" % (p.returncode, p.stderr.decode("utf-8", "replace").strip())
    try:
        return json.loads(p.stdout.decode("utf-8")), None
    except ValueError as e:
        return None, "output is not valid JSON: %s" % e


class Story:
    """Collects the mismatches of one story run."""

    def __init__(self, label):
        self.label = label
        self.problems = []
        self.cases = 0

    def problem(self, text):
        self.problems.append(text)

    def report(self):
        if not self.problems:
            return True
        print("FAIL %s: %d problem(s)" % (self.label, len(self.problems)))
        for p in self.problems[:MAX_DIFFS_SHOWN]:
            print("    " + p)
        return False


def first_difference(got, want):
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return "field %d: got %r, want %r" % (i, g, w)
    return "got %d fields, want %d" % (len(got), len(want))


def check_encode(tool, path, raw_story, table_size):
    """Encode with h2wire, decode with Python's hpack and with h2wire."""
    st = Story("encode %s --table-size %d" % (os.path.basename(path), table_size))
    text = json.dumps(raw_story)
    encoded, err = run_tool(tool, ["encode", "--table-size", str(table_size)], text)
    if err:
        st.problem(err)
        return st
    cases_in = raw_story["cases"]
    cases_out = encoded.get("cases", [])
    if len(cases_out) != len(cases_in):
        st.problem("%d cases out for %d in" % (len(cases_out), len(cases_in)))
        return st

    decoder = hpack.Decoder(max_header_list_size=1 << 30)
    # SETTINGS_HEADER_TABLE_SIZE = N; the table itself starts at the protocol's
    # 4096 and changes only by the encoder's size updates. hpack checks after
    # each block that the table fits max_allowed_table_size, so an encoder that
    # forgets to announce a smaller table fails here.
    decoder.max_allowed_table_size = table_size
    for i, (cin, cout) in enumerate(zip(cases_in, cases_out)):
        st.cases += 1
        seqno = cout.get("seqno")
        if seqno != i:
            st.problem("case %d: seqno %r" % (i, seqno))
        if cout.get("header_table_size") != table_size:
            st.problem("seqno %d: header_table_size %r" % (i, cout.get("header_table_size")))
        if cout.get("headers") != cin["headers"]:
            st.problem("seqno %d: headers were not kept" % i)
        wire = cout.get("wire")
        if not isinstance(wire, str) or wire != wire.lower():
            st.problem("seqno %d: wire is not lower-case hex: %r" % (i, wire))
            return st
        try:
            decoded = decoder.decode(bytes.fromhex(wire), raw=True)
        except Exception as e:  # hpack's errors, and bad hex
            st.problem("seqno %d: Python hpack failed: %s: %s (wire %s)" % (i, type(e).__name__, e, wire))
            return st
        want = as_pairs(cin["headers"])
        got = [(bytes(n), bytes(v)) for n, v in decoded]
        if got != want:
            st.problem("seqno %d: %s" % (i, first_difference(got, want)))
            return st
        for (n, v), h in zip(got, decoded):
            never = isinstance(h, hpack.NeverIndexedHeaderTuple)
            if never != is_sensitive(n, v):
                st.problem("seqno %d: %r: never-indexed is %s" % (i, n, never))
        if decoder.header_table_size > table_size:
            st.problem("seqno %d: encoder's table %d > %d" % (i, decoder.header_table_size, table_size))
        if table_size == 0 and len(decoder.header_table.dynamic_entries) != 0:
            st.problem("seqno %d: dynamic table used with table size 0" % i)

    # The same wire back through h2wire's own decoder.
    decoded, err = run_tool(tool, ["decode"], json.dumps(encoded))
    if err:
        st.problem("h2wire decode of its own encoding: " + err)
        return st
    for i, (cin, cdec) in enumerate(zip(cases_in, decoded["cases"])):
        if cdec.get("headers") != cin["headers"]:
            got, want = as_pairs(cdec.get("headers", [])), as_pairs(cin["headers"])
            st.problem("h2wire decode, seqno %d: %s" % (i, first_difference(got, want)))
            break
    return st


def check_decode(tool, path, story):
    """Decode a vector with h2wire and compare with its headers."""
    st = Story("decode %s" % os.path.relpath(path, os.path.dirname(os.path.dirname(path))))
    stripped = {k: v for k, v in story.items() if k != "cases"}
    stripped["cases"] = [{k: v for k, v in c.items() if k != "headers"} for c in story["cases"]]
    decoded, err = run_tool(tool, ["decode"], json.dumps(stripped))
    if err:
        st.problem(err)
        return st
    if {k: v for k, v in decoded.items() if k != "cases"} != {k: v for k, v in story.items() if k != "cases"}:
        st.problem("top-level fields were not kept")
    cases_out = decoded.get("cases", [])
    if len(cases_out) != len(story["cases"]):
        st.problem("%d cases out for %d in" % (len(cases_out), len(story["cases"])))
        return st
    for cin, cout in zip(story["cases"], cases_out):
        st.cases += 1
        for k in cin:
            if k != "headers" and cout.get(k) != cin[k]:
                st.problem("seqno %s: field %r changed" % (cin.get("seqno"), k))
        got, want = as_pairs(cout.get("headers", [])), as_pairs(cin["headers"])
        if got != want:
            st.problem("seqno %s: %s" % (cin.get("seqno"), first_difference(got, want)))
    return st


def story_files(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".json"))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tool, vectors = sys.argv[1], sys.argv[2]
    passed = failed = 0
    folders = sorted(d for d in os.listdir(vectors) if os.path.isdir(os.path.join(vectors, d)))
    if "raw-data" not in folders or len(folders) < 2:
        sys.exit("no hpack-test-case folders under %s" % vectors)

    for folder in folders:
        files = story_files(os.path.join(vectors, folder))
        if folder == "raw-data":
            for table_size in TABLE_SIZES:
                ok = cases = 0
                for path in files:
                    with open(path, encoding="utf-8") as f:
                        story = json.load(f)
                    st = check_encode(tool, path, story, table_size)
                    cases += st.cases
                    if st.report():
                        ok += 1
                    else:
                        failed += 1
                passed += ok
                print("encode raw-data --table-size %-4d -> Python hpack + h2wire: %d/%d stories, %d cases"
                      % (table_size, ok, len(files), cases))
        else:
            ok = cases = 0
            for path in files:
                with open(path, encoding="utf-8") as f:
                    story = json.load(f)
                st = check_decode(tool, path, story)
                cases += st.cases
                if st.report():
                    ok += 1
                else:
                    failed += 1
            passed += ok
            print("decode %-27s: %d/%d stories, %d cases" % (folder, ok, len(files), cases))

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
