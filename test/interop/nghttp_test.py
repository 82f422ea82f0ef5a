#!/usr/bin/python3
"""Interop: nghttp (nghttp2-client) against an h2wire file server.

  nghttp_test.py [--kind h2wire|nghttpd] [--parts streams,upload,upgrade] SERVER

Checks (exit status, nghttp's per-stream statistics, body SHA-256):
  100 concurrent streams, 100 different URLs on one connection (each body a
      distinct line, so the lines nghttp prints must be exactly the set of
      files whatever order the streams finish in);
  -m 100: one URL 100 times at once (a 64 KiB body of one repeated octet,
      so the output's hash does not depend on how DATA frames interleave);
  -u: h2c upgrade (RFC 7540 §3.2) for a GET, and for an upload (nghttp then
      upgrades with OPTIONS and sends the POST as stream 3);
  -d: a 32 MiB upload to /echo, echoed back byte for byte.
nghttp cannot save each stream to its own file (-O is not implemented), hence
the shapes of the bodies above.
"""

import argparse
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

STREAMS = 100


def stat_rows(text):
    """(code, size, path) of each row of nghttp -s; the size as nghttp
    prints it (192, 64K)."""
    rows = []
    for m in re.finditer(r"^\s*(\d+)\s+\+\S+\s+\+\S+\s+\S+\s+(\d+)\s+(\S+)\s+(\S+)\s*$", text, re.M):
        rows.append((int(m.group(2)), m.group(3), m.group(4)))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server", nargs="?")
    ap.add_argument("--kind", default="h2wire")
    ap.add_argument("--parts", default="streams,upload,upgrade",
                    help="which checks: streams (100 at once), upload (-d), upgrade (-u)")
    opts = ap.parse_args()
    parts = set(opts.parts.split(","))

    check = h.Checker("nghttp")
    exe = h.require("nghttp")
    root = h.tempdir()
    tmp = h.tempdir()
    h.make_docroot(root)

    lines = []
    for i in range(STREAMS):
        line = f"record {i:03d} " + "".join(chr(ord("a") + (i * 7 + j) % 26) for j in range(180)) + "\n"
        lines.append(line.encode())
        h.write_file(os.path.join(root, f"many/{i:03d}.txt"), lines[-1])
    same = b"x" * 65536
    h.write_file(os.path.join(root, "same.bin"), same)
    with open(os.path.join(root, "index.html"), "rb") as f:
        index = f.read()
    upload = h.big_pattern(32 * 1024 * 1024, 11)
    upload_path = os.path.join(tmp, "upload.bin")
    h.write_file(upload_path, upload)

    server = h.start_server(opts.kind, opts.server, root)

    if "streams" in parts:
        streams(check, exe, server, lines, same)
    if "upgrade" in parts:
        upgrade(check, exe, server, index, upload, upload_path)
    if "upload" in parts:
        upload_echo(check, exe, server, upload, upload_path)
    check.expect(server.alive(), "the server is still running after all of it")
    check.equal(server.stop(), 0, "the server's exit status after SIGTERM")
    check.finish()


def streams(check, exe, server, lines, same):
    urls = [server.url(f"/many/{i:03d}.txt") for i in range(STREAMS)]
    rc, out, err = h.run([exe, "-s", *urls], timeout=60)
    check.equal(rc, 0, f"{STREAMS} URLs at once: nghttp exit status" + (f" ({err.strip()})" if rc else ""))
    got_lines = [ln + b"\n" for ln in out.split(b"\n") if ln.startswith(b"record ")]
    check.equal(len(got_lines), STREAMS, f"{STREAMS} URLs at once: bodies received")
    check.equal(sorted(got_lines) == sorted(lines), True, f"{STREAMS} URLs at once: every body exact")
    rows = stat_rows(out.decode("latin-1"))
    check.equal(len(rows), STREAMS, f"{STREAMS} URLs at once: streams in nghttp's statistics")
    check.equal(sorted(r[2] for r in rows), sorted(f"/many/{i:03d}.txt" for i in range(STREAMS)),
                f"{STREAMS} URLs at once: paths")
    check.equal({(r[0], r[1]) for r in rows}, {(200, str(len(lines[0])))}, f"{STREAMS} URLs at once: status and size")

    rc, out, err = h.run([exe, "-m", str(STREAMS), server.url("/same.bin")], timeout=60)
    check.equal(rc, 0, f"-m {STREAMS}: nghttp exit status" + (f" ({err.strip()})" if rc else ""))
    check.equal(len(out), STREAMS * len(same), f"-m {STREAMS}: octets received")
    check.equal(h.sha256(out), h.sha256(same * STREAMS), f"-m {STREAMS}: bodies SHA-256")
    rc, out, err = h.run([exe, "-n", "-s", "-m", str(STREAMS), server.url("/data/64k.bin")], timeout=60)
    rows = stat_rows(out.decode("latin-1"))
    check.equal(rc, 0, f"-m {STREAMS} -s: nghttp exit status")
    check.equal(len(rows), STREAMS, f"-m {STREAMS} -s: streams in nghttp's statistics")
    check.equal({(r[0], r[1]) for r in rows}, {(200, "64K")}, f"-m {STREAMS} -s: every stream 200 with 64 KiB")



def upgrade(check, exe, server, index, upload, upload_path):
    rc, out, err = h.run([exe, "-u", "-v", server.url("/index.html")], timeout=30)
    text = out.decode("latin-1")
    check.equal(rc, 0, "-u GET: nghttp exit status" + (f" ({err.strip()})" if rc else ""))
    check.expect("HTTP Upgrade success" in text, "-u GET: nghttp reports 'HTTP Upgrade success'")
    check.expect(re.search(r"HTTP/1\.1 101", text) is not None, "-u GET: the server answered 101")
    check.expect(":status: 200" in text, "-u GET: stream 1 got :status 200 over HTTP/2")
    rc, out, err = h.run([exe, "-u", server.url("/index.html")], timeout=30)
    check.equal((rc, h.sha256(out)), (0, h.sha256(index)), "-u GET: exit status and body SHA-256")
    rc, out, err = h.run([exe, "-u", "-d", upload_path, server.url("/echo")], timeout=60)
    check.equal(rc, 0, "-u -d (OPTIONS upgrade, then POST on stream 3): nghttp exit status"
                + (f" ({err.strip()})" if rc else ""))
    check.equal(h.sha256(out), h.sha256(upload), "-u -d: echoed 32 MiB body SHA-256")



def upload_echo(check, exe, server, upload, upload_path):
    rc, out, err = h.run([exe, "-d", upload_path, server.url("/echo")], timeout=60)
    check.equal(rc, 0, "-d 32 MiB upload to /echo: nghttp exit status" + (f" ({err.strip()})" if rc else ""))
    check.equal(len(out), len(upload), "-d 32 MiB upload to /echo: echoed length")
    check.equal(h.sha256(out), h.sha256(upload), "-d 32 MiB upload to /echo: echoed body SHA-256")



if __name__ == "__main__":
    main()
