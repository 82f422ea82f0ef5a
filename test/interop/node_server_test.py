#!/usr/bin/python3
"""Interop: h2wire-client against Node's http2 module as a server
(node_server.js), over h2c and over TLS.

  node_server_test.py CLIENT

Checks (h2wire-client's exit status and summary, the status and fields it
printed per stream, the SHA-256 of every body it wrote):
  GETs of three files and a 404 on one connection; an 8 MiB POST echoed;
  100 concurrent streams (100 different files, -n 100);
  a response header block of 40,000+ octets (HEADERS + CONTINUATION from
      Node's nghttp2) and trailers with a 20,000-character field;
  over TLS (ALPN h2), the client verifying Node's self-signed certificate
      with --cacert: a GET and the 8 MiB echo.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def letters(n, tag):
    """As node_server.js's letters()."""
    return "".join(chr(97 + (i * 7 + i // 3 + tag) % 26) for i in range(n))


def main():
    client = sys.argv[1] if len(sys.argv) > 1 else None
    check = h.Checker("h2wire-client vs node http2 server")
    node = h.require("node")
    h.require_binary(client, "h2wire-client")
    root = h.tempdir()
    tmp = h.tempdir()
    files = h.make_docroot(root)
    many = {}
    for i in range(100):
        many[f"/many/f{i:03d}.bin"] = h.write_file(os.path.join(root, f"many/f{i:03d}.bin"),
                                                   h.pattern(500 + 131 * i, 200 + i))
    upload = h.big_pattern(8 * 1024 * 1024, 51)
    upload_path = os.path.join(tmp, "upload.bin")
    h.write_file(upload_path, upload)

    server = h.Server("node http2 server", [node, os.path.join(HERE, "node_server.js"), root])

    out = os.path.join(tmp, "gets")
    os.makedirs(out)
    paths = ["/index.html", "/data/64k.bin", "/data/1m.bin", "/missing.txt"]
    r = h.run_client(client, ["--output-dir", out] + [server.url(p) for p in paths])
    check.equal((r.rc, r.summary), (0, (4, 0)), "GETs: exit status, summary")
    check.equal([r.done.get(s, (None,))[0] for s in (1, 3, 5, 7)], [200, 200, 200, 404], "GETs: statuses")
    got = h.files_in(out)
    check.equal([got.get(f"{i}-{p.rsplit('/', 1)[1]}") for i, p in enumerate(paths[:3])],
                [files[p] for p in paths[:3]], "GETs: bodies SHA-256")

    echoed = os.path.join(tmp, "echoed.bin")
    r = h.run_client(client, ["--data", "@" + upload_path, "-H", "content-type: application/x-h2wire", "-o", echoed,
                              server.url("/echo")])
    check.equal((r.rc, r.summary, r.done.get(1)), (0, (1, 0), (200, len(upload))), "POST 8 MiB: exit, summary, status")
    check.equal(r.field(1, "content-type"), "application/x-h2wire", "POST 8 MiB: content-type echoed")
    check.equal(h.sha256_file(echoed) if os.path.exists(echoed) else None, h.sha256(upload),
                "POST 8 MiB: echoed body SHA-256")

    out = os.path.join(tmp, "many")
    os.makedirs(out)
    names = sorted(many)
    r = h.run_client(client, ["-n", "100", "--output-dir", out] + [server.url(p) for p in names])
    check.equal((r.rc, r.summary), (0, (100, 0)), "100 concurrent streams: exit status, summary")
    want = {f"{i}-{p.rsplit('/', 1)[1]}": many[p] for i, p in enumerate(names)}
    check.equal(h.files_in(out) == want, True, "100 concurrent streams: all 100 bodies SHA-256")

    r = h.run_client(client, ["-v", server.url("/big-headers")])
    check.equal((r.rc, r.summary, r.out), (0, (1, 0), b"ok"), "big header block: exit status, summary, body")
    check.equal(r.field(1, "x-big"), letters(40000, 3), "big header block: the 40,000-character field intact")
    check.expect("recv CONTINUATION" in r.err, "big header block: the frame trace shows CONTINUATION received")

    r = h.run_client(client, [server.url("/trailers")])
    check.equal((r.rc, r.out), (0, b"body before trailers\n"), "trailers: exit status, body")
    check.equal((r.field(1, "x-trailer"), r.field(1, "x-big-trailer")), ("yes", letters(20000, 5)),
                "trailers: both fields intact")
    check.expect(server.alive(), "the Node server is still running")
    server.stop()

    key, cert = h.self_signed_cert(tmp)
    tls = h.Server("node http2 server (TLS)", [node, os.path.join(HERE, "node_server.js"), root, "--tls", key, cert])
    out = os.path.join(tmp, "tls.html")
    r = h.run_client(client, ["--cacert", cert, "-o", out, tls.url("/index.html", "https")])
    check.equal((r.rc, r.summary, r.done.get(1)), (0, (1, 0), (200, 69)), "TLS GET (certificate verified): exit, status")
    check.equal(h.sha256_file(out) if os.path.exists(out) else None, files["/index.html"], "TLS GET: body SHA-256")
    r = h.run_client(client, ["--cacert", cert, "--data", "@" + upload_path, "-o", echoed,
                              tls.url("/echo", "https")])
    check.equal((r.rc, r.summary), (0, (1, 0)), "TLS POST 8 MiB: exit status, summary")
    check.equal(h.sha256_file(echoed), h.sha256(upload), "TLS POST 8 MiB: echoed body SHA-256")
    tls.stop()
    check.finish()


if __name__ == "__main__":
    main()
