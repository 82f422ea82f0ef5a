#!/usr/bin/python3
"""Interop: curl (built with nghttp2) against an h2wire file server.

  curl_test.py [--kind h2wire|nghttpd] [--parts prior,upgrade,tls] SERVER

Checks, each on the exact exchange (status, the headers that matter, body
SHA-256) and curl's exit status:
  --http2-prior-knowledge: GET of a page and of a 1 MiB file, HEAD, 404,
      POST of 10 MiB to /echo (the echo must hash the same). Not several
      URLs in one curl: curl 7.88 fails its own connection reuse with prior
      knowledge ("Error in the HTTP2 framing layer"), even against nghttpd;
  --http2 on http:// (h2c upgrade, RFC 7540 §3.2): curl sends Upgrade: h2c,
      the server answers 101 and the response comes over HTTP/2;
  https with ALPN h2 against the server over TLS (self-signed certificate
      made now), curl -k, %{http_version} must be 2.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402


def curl(exe, args, url, tmp, timeout=60):
    """Runs curl once; returns dict(rc, version, status, headers, body, err).
    `headers` maps lowercase names to the last value of the final response."""
    body_path = os.path.join(tmp, "body")
    head_path = os.path.join(tmp, "head")
    for p in (body_path, head_path):
        if os.path.exists(p):
            os.unlink(p)
    rc, out, err = h.run([exe, "-sS", "--max-time", str(timeout - 5), "-o", body_path, "-D", head_path,
                          "-w", "%{http_version} %{response_code}", *args, url], timeout=timeout)
    version, _, status = out.decode("ascii", "replace").partition(" ")
    headers = {}
    if os.path.exists(head_path):
        with open(head_path, "rb") as f:
            blocks = f.read().decode("latin-1").split("\r\n\r\n")
        final = [b for b in blocks if b.strip()]
        lines = final[-1].split("\r\n") if final else []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        headers[":status-line"] = lines[0] if lines else ""
        headers[":status-lines"] = [b.split("\r\n")[0] for b in final]
    body = b""
    if os.path.exists(body_path):
        with open(body_path, "rb") as f:
            body = f.read()
    return {"rc": rc, "version": version, "status": status, "headers": headers, "body": body, "err": err}


def check_get(check, r, label, want_body, content_type=None):
    check.equal(r["rc"], 0, f"{label}: curl exit status" + (f" ({r['err'].strip()})" if r["rc"] else ""))
    check.equal(r["version"], "2", f"{label}: HTTP version")
    check.equal(r["status"], "200", f"{label}: status")
    check.equal(h.sha256(r["body"]), h.sha256(want_body), f"{label}: body SHA-256 ({len(r['body'])} octets)")
    check.equal(r["headers"].get("content-length"), str(len(want_body)), f"{label}: content-length")
    if content_type:
        check.expect(r["headers"].get("content-type", "").startswith(content_type),
                     f"{label}: content-type {r['headers'].get('content-type')!r} is {content_type}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server", nargs="?")
    ap.add_argument("--kind", default="h2wire")
    ap.add_argument("--parts", default="prior,upgrade,tls",
                    help="which checks: prior (prior knowledge), upgrade (h2c), tls (https)")
    opts = ap.parse_args()
    parts = set(opts.parts.split(","))

    check = h.Checker("curl")
    exe = h.require("curl")
    rc, out, _ = h.run([exe, "--version"], timeout=10)
    features = out.decode()
    if "HTTP2" not in features:
        h.fail("this curl is built without HTTP/2 (nghttp2); Debian's curl has it")

    root = h.tempdir()
    tmp = h.tempdir()
    h.make_docroot(root)
    with open(os.path.join(root, "index.html"), "rb") as f:
        index = f.read()
    with open(os.path.join(root, "data/1m.bin"), "rb") as f:
        one_mib = f.read()
    upload = h.big_pattern(10 * 1024 * 1024, 7)
    upload_path = os.path.join(tmp, "upload.bin")
    h.write_file(upload_path, upload)

    if parts & {"prior", "upgrade"}:
        server = h.start_server(opts.kind, opts.server, root)
        if "prior" in parts:
            prior_knowledge(check, exe, server, tmp, index, one_mib, upload, upload_path)
        if "upgrade" in parts:
            h2c_upgrade(check, exe, server, tmp, index, upload)
        check.equal(server.stop(), 0, "the server's exit status after SIGTERM")
    if "tls" in parts:
        tls(check, exe, opts, root, tmp, index, upload, upload_path)
    check.finish()


def prior_knowledge(check, exe, server, tmp, index, one_mib, upload, upload_path):
    pk = ["--http2-prior-knowledge"]

    r = curl(exe, pk, server.url("/index.html"), tmp)
    check_get(check, r, "prior knowledge GET /index.html", index, "text/html")

    r = curl(exe, pk, server.url("/data/1m.bin"), tmp)
    check_get(check, r, "prior knowledge GET /data/1m.bin", one_mib)

    # curl --head writes the header block to -o as well: the output must be
    # that block and nothing more.
    r = curl(exe, pk + ["--head"], server.url("/data/1m.bin"), tmp)
    check.equal(r["rc"], 0, "HEAD: curl exit status")
    check.equal((r["version"], r["status"]), ("2", "200"), "HEAD: version and status")
    check.equal(r["headers"].get("content-length"), str(len(one_mib)), "HEAD: content-length of the file")
    check.expect(r["body"].endswith(b"\r\n\r\n") and r["body"].count(b"\r\n\r\n") == 1,
                 f"HEAD: nothing after the header block ({len(r['body'])} octets of output)")

    r = curl(exe, pk, server.url("/no/such/file.txt"), tmp)
    check.equal(r["rc"], 0, "404: curl exit status")
    check.equal((r["version"], r["status"]), ("2", "404"), "404: version and status")

    r = curl(exe, pk + ["--data-binary", "@" + upload_path, "-H", "content-type: application/octet-stream"],
             server.url("/echo"), tmp, timeout=90)
    check.equal(r["rc"], 0, "POST 10 MiB /echo: curl exit status" + (f" ({r['err'].strip()})" if r["rc"] else ""))
    check.equal((r["version"], r["status"]), ("2", "200"), "POST 10 MiB /echo: version and status")
    check.equal(len(r["body"]), len(upload), "POST 10 MiB /echo: echoed length")
    check.equal(h.sha256(r["body"]), h.sha256(upload), "POST 10 MiB /echo: echoed body SHA-256")



def h2c_upgrade(check, exe, server, tmp, index, upload):
    r = curl(exe, ["--http2", "-v"], server.url("/index.html"), tmp)
    check_get(check, r, "h2c upgrade (--http2) GET /index.html", index, "text/html")
    check.expect("Upgrade: h2c" in r["err"], "h2c upgrade: curl asked for it")
    check.expect(any(" 101" in line for line in r["headers"].get(":status-lines", [])),
                 f"h2c upgrade: the server answered 101 (status lines {r['headers'].get(':status-lines')})")

    # With --http2 curl asks for the upgrade on a POST too, sending the
    # body in HTTP/1.1; the server holds such a body whole, so it is kept
    # small (the server answers 413 past 1 MiB).
    small = upload[:300_000]
    small_path = os.path.join(tmp, "small.bin")
    h.write_file(small_path, small)
    r = curl(exe, ["--http2", "--data-binary", "@" + small_path], server.url("/echo"), tmp)
    check.equal((r["rc"], r["version"], r["status"]), (0, "2", "200"), "h2c upgrade POST 300 kB /echo: "
                "exit status, version, status")
    check.equal(h.sha256(r["body"]), h.sha256(small), "h2c upgrade POST 300 kB /echo: echoed body SHA-256")



def tls(check, exe, opts, root, tmp, index, upload, upload_path):
    key, cert = h.self_signed_cert(tmp)
    tls_server = h.start_server(opts.kind, opts.server, root, tls=(key, cert),
                                name=(os.path.basename(opts.server or "nghttpd") + " (TLS)"))
    r = curl(exe, ["-k", "--http2", "-v"], tls_server.url("/index.html", "https"), tmp)
    check_get(check, r, "https ALPN h2 GET /index.html", index, "text/html")
    check.expect("ALPN: server accepted h2" in r["err"] or "ALPN, server accepted to use h2" in r["err"],
                 "https: the server chose h2 by ALPN")
    r = curl(exe, ["-k", "--http2", "--data-binary", "@" + upload_path], tls_server.url("/echo", "https"),
             tmp, timeout=90)
    check.equal((r["rc"], r["version"], r["status"]), (0, "2", "200"), "https POST 10 MiB /echo: "
                "exit status, version, status")
    check.equal(h.sha256(r["body"]), h.sha256(upload), "https POST 10 MiB /echo: echoed body SHA-256")
    check.equal(tls_server.stop(), 0, "https: the server's exit status after SIGTERM")


if __name__ == "__main__":
    main()
