#!/usr/bin/python3
"""Interop: Node's http2 module as a client (node_client.js) against an
h2wire example file server.

  node_client_test.py [--tls] SERVER

On one session, all at once: 24 GETs of four files, HEAD, 404, an 8 MiB POST
to /echo streamed from a file, a GET and an echo with trailers (`te:
trailers`, ?trailers=1). Each result is checked (status, content-type,
content-length, body SHA-256, trailers, no stream error), as are the
server's SETTINGS as Node saw them. With --tls the same runs again over TLS
(ALPN h2, self-signed certificate made for the run).
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def run_node(node, origin, requests, tmp):
    spec = os.path.join(tmp, "spec.json")
    with open(spec, "w") as f:
        json.dump({"requests": requests}, f)
    rc, out, err = h.run([node, os.path.join(HERE, "node_client.js"), origin, spec], timeout=90)
    try:
        return rc, json.loads(out.decode().strip().splitlines()[-1]), err
    except (ValueError, IndexError):
        return rc, {"error": "no JSON from node: " + out.decode()[-500:] + err[-500:]}, err


def check_session(check, label, node, origin, root, files, tmp, want_alpn):
    upload = h.big_pattern(8 * 1024 * 1024, 31)
    upload_path = os.path.join(tmp, "upload.bin")
    h.write_file(upload_path, upload)
    data64 = open(os.path.join(root, "data/64k.bin"), "rb").read()
    reqs = []
    for i in range(6):
        for p in ("/index.html", "/hello.txt", "/data/64k.bin", "/data/1m.bin"):
            reqs.append({"method": "GET", "path": p})
    reqs += [
        {"method": "HEAD", "path": "/data/1m.bin"},
        {"method": "GET", "path": "/nope.txt"},
        {"method": "POST", "path": "/echo", "headers": {"content-type": "application/x-node"},
         "body_file": upload_path},
        {"method": "GET", "path": "/data/64k.bin?trailers=1", "headers": {"te": "trailers"}},
        {"method": "POST", "path": "/echo?trailers=1", "headers": {"te": "trailers"}, "body_file": upload_path},
    ]
    rc, rep, err = run_node(node, origin, reqs, tmp)
    h.log(f"{label}: node: streams done after {rep.get('streams_done_ms')} ms, session closed after "
          f"{rep.get('closed_ms')} ms; slowest stream "
          f"{max(((r.get('ms') or 0, r.get('path')) for r in rep.get('results', [])), default=None)}")
    check.equal(rc, 0, f"{label}: node exit status")
    if not check.expect("results" in rep, f"{label}: node reported results ({rep.get('error')})"):
        h.log(err[-2000:])
        return
    check.equal(rep.get("session_error"), None, f"{label}: no session error")
    check.equal(rep.get("alpn"), want_alpn, f"{label}: protocol")
    rs = rep.get("remote_settings") or {}
    check.equal(rs.get("maxConcurrentStreams"), 100, f"{label}: server's SETTINGS_MAX_CONCURRENT_STREAMS as Node saw it")
    results = rep["results"]
    check.equal(len(results), len(reqs), f"{label}: one result per request")
    sizes = {p: os.path.getsize(os.path.join(root, p.lstrip("/"))) for p in files}
    bad = []
    for r in results[:24]:
        p = r["path"]
        got = (r.get("status"), str(r.get("headers", {}).get("content-length")), r.get("sha256"), r.get("error"))
        if got != (200, str(sizes[p]), files[p], None):
            bad.append((p, got))
    check.equal(bad, [], f"{label}: 24 concurrent GETs (status, content-length, body SHA-256, no error)")
    head, missing, echo, file_t, echo_t = results[24:29]
    check.equal((head.get("status"), head.get("headers", {}).get("content-length"), head.get("length"),
                 head.get("error")), (200, "1048576", 0, None), f"{label}: HEAD status, content-length, no body")
    check.equal(missing.get("status"), 404, f"{label}: GET /nope.txt 404")
    check.equal((echo.get("status"), echo.get("headers", {}).get("content-type"), echo.get("length"),
                 echo.get("error")), (200, "application/x-node", len(upload), None),
                f"{label}: POST 8 MiB /echo status, content-type, length")
    check.equal(echo.get("sha256"), h.sha256(upload), f"{label}: POST 8 MiB /echo body SHA-256")
    check.equal((file_t.get("sha256"), file_t.get("trailers")),
                (files["/data/64k.bin"], {"x-body-length": "65536", "x-body-fnv1a": h.fnv1a(data64)}),
                f"{label}: GET ?trailers=1 body and trailers")
    want_t = {"x-body-length": str(len(upload)), "x-body-fnv1a": None}
    got_t = dict(echo_t.get("trailers") or {})
    check.equal((echo_t.get("sha256"), got_t.get("x-body-length")), (h.sha256(upload), want_t["x-body-length"]),
                f"{label}: POST /echo?trailers=1 body SHA-256 and x-body-length trailer")
    check.expect(len(got_t.get("x-body-fnv1a", "")) == 16, f"{label}: POST /echo?trailers=1 x-body-fnv1a trailer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server", nargs="?")
    ap.add_argument("--tls", action="store_true")
    opts = ap.parse_args()
    check = h.Checker("node http2 client")
    node = h.require("node")
    root = h.tempdir()
    tmp = h.tempdir()
    files = {k: v for k, v in h.make_docroot(root).items()
             if k in ("/index.html", "/hello.txt", "/data/64k.bin", "/data/1m.bin")}

    server = h.start_server("h2wire", opts.server, root)
    check_session(check, "h2c", node, server.url("").rstrip("/"), root, files, tmp, "h2c")
    check.equal(server.stop(), 0, "h2c: the server's exit status after SIGTERM")
    if opts.tls:
        key, cert = h.self_signed_cert(tmp)
        tls = h.start_server("h2wire", opts.server, root, tls=(key, cert), name="h2wire-server (TLS)")
        check_session(check, "TLS", node, tls.url("", "https").rstrip("/"), root, files, tmp, "h2")
        check.equal(tls.stop(), 0, "TLS: the server's exit status after SIGTERM")
    check.finish()


if __name__ == "__main__":
    main()
