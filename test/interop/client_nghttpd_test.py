#!/usr/bin/python3
"""Interop: h2wire-client against nghttpd (nghttp2-server).

  client_nghttpd_test.py CLIENT

nghttpd serves a directory (and echoes uploads, --echo-upload). Checks, each
on h2wire-client's exit status and summary, the status it printed per stream
and the SHA-256 of every body it wrote:
  GETs of four files on one connection (one of them 404);
  POST: an 8 MiB upload (--data @file), echoed back;
  100 concurrent streams: 100 different files at once (-n 100), and one URL
      100 times (--repeat 100);
  CONTINUATION: a second nghttpd adds a trailer field of 30,000 random
      base64 characters to every response, so its trailer block (about 22 KB
      after Huffman coding) is split into HEADERS + CONTINUATION; the client
      must take it (frame trace with -v) and print the field intact.
"""

import base64
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402


def main():
    client = sys.argv[1] if len(sys.argv) > 1 else None
    check = h.Checker("h2wire-client vs nghttpd")
    h.require_binary(client, "h2wire-client")
    root = h.tempdir()
    tmp = h.tempdir()
    files = h.make_docroot(root)
    many = {}
    for i in range(100):
        many[f"/many/f{i:03d}.bin"] = h.write_file(os.path.join(root, f"many/f{i:03d}.bin"),
                                                   h.pattern(1000 + 97 * i, 100 + i))
    server = h.start_nghttpd(root, extra=["--echo-upload"])

    # GETs on one connection.
    out = os.path.join(tmp, "gets")
    os.makedirs(out)
    paths = ["/index.html", "/data/64k.bin", "/data/1m.bin", "/missing.txt"]
    r = h.run_client(client, ["--output-dir", out] + [server.url(p) for p in paths])
    check.equal([r.done.get(s, (None,))[0] for s in (1, 3, 5, 7)], [200, 200, 200, 404], "GETs: statuses")
    got = h.files_in(out)
    check.equal([got.get(f"{i}-{p.rsplit('/', 1)[1]}") for i, p in enumerate(paths[:3])], [files[p] for p in paths[:3]],
                "GETs: bodies SHA-256")
    check.equal(r.summary, (4, 0), "GETs: 4 requests, 0 failed (a 404 is not a failure without --fail)")
    check.equal(r.rc, 0, "GETs: exit status")
    check.equal(r.field(1, "content-length"), "69", "GETs: content-length of /index.html as printed")

    r = h.run_client(client, ["--fail", server.url("/missing.txt")])
    check.equal((r.rc, r.summary), (1, (1, 1)), "--fail: a 404 fails the run")

    # POST 8 MiB, echoed.
    upload = h.big_pattern(8 * 1024 * 1024, 41)
    upload_path = os.path.join(tmp, "upload.bin")
    h.write_file(upload_path, upload)
    echoed = os.path.join(tmp, "echoed.bin")
    r = h.run_client(client, ["--data", "@" + upload_path, "-o", echoed, server.url("/echo")])
    check.equal((r.rc, r.summary, r.done.get(1)), (0, (1, 0), (200, len(upload))), "POST 8 MiB: exit, summary, status")
    check.equal(h.sha256_file(echoed) if os.path.exists(echoed) else None, h.sha256(upload),
                "POST 8 MiB: echoed body SHA-256")

    # 100 streams at once.
    out = os.path.join(tmp, "many")
    os.makedirs(out)
    names = sorted(many)
    r = h.run_client(client, ["-n", "100", "--output-dir", out] + [server.url(p) for p in names])
    check.equal((r.rc, r.summary), (0, (100, 0)), "100 concurrent streams: exit status, summary")
    got = h.files_in(out)
    want = {f"{i}-{p.rsplit('/', 1)[1]}": many[p] for i, p in enumerate(names)}
    check.equal(got == want, True, f"100 concurrent streams: all 100 bodies SHA-256 ({len(got)} files)")
    out = os.path.join(tmp, "repeat")
    os.makedirs(out)
    r = h.run_client(client, ["-n", "100", "--repeat", "100", "--output-dir", out, server.url("/data/64k.bin")])
    check.equal((r.rc, r.summary), (0, (100, 0)), "--repeat 100 -n 100: exit status, summary")
    check.equal(set(h.files_in(out).values()), {files["/data/64k.bin"]}, "--repeat 100: every body SHA-256")
    check.equal(len(os.listdir(out)), 100, "--repeat 100: 100 bodies")
    check.equal(server.stop() is not None, True, "nghttpd stopped")

    # CONTINUATION from nghttpd: a trailer block larger than a frame.
    big = base64.b64encode(h.pattern(22_500, 42)).decode()[:30000]
    server = h.start_nghttpd(root, extra=["--trailer", "x-big-trailer: " + big], name="nghttpd (big trailer)")
    out = os.path.join(tmp, "cont.bin")
    r = h.run_client(client, ["-v", "-o", out, server.url("/data/64k.bin")])
    check.equal((r.rc, r.summary), (0, (1, 0)), "CONTINUATION: exit status, summary")
    check.equal(h.sha256_file(out), files["/data/64k.bin"], "CONTINUATION: body SHA-256")
    check.equal(r.field(1, "x-big-trailer"), big, "CONTINUATION: the 30,000-character trailer field intact")
    check.expect("recv CONTINUATION" in r.err, "CONTINUATION: the client's frame trace shows CONTINUATION received")
    server.stop()
    check.finish()


if __name__ == "__main__":
    main()
