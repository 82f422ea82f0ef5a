#!/usr/bin/python3
"""Interop: the Python `h2` client over a socket against an h2wire example
file server (h2wire-server, h2wire-asio-server or h2wire-uv-server).

  python_h2_client_test.py SERVER

On one connection, all at once: 30 GETs of three files, HEAD, 404, a path
that tries to leave the root (400), GET on /echo (405), a 4 MiB POST /echo,
and trailers on request (`te: trailers` and ?trailers=1) for an echo and a
file. Every response is checked: status, content-type, content-length, body
SHA-256, trailers (x-body-length, x-body-fnv1a). Then graceful shutdown: a
download is in progress (held back by our stream window) when the server
gets SIGTERM; it must send GOAWAY(NO_ERROR) covering the stream, finish it,
and exit 0.
"""

import os
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import py_h2  # noqa: E402


def main():
    server_bin = sys.argv[1] if len(sys.argv) > 1 else None
    check = h.Checker("python h2 client")
    root = h.tempdir()
    files = h.make_docroot(root)
    big = h.big_pattern(8 * 1024 * 1024, 21)
    h.write_file(os.path.join(root, "data/8m.bin"), big)
    server = h.start_server("h2wire", server_bin, root)

    c = py_h2.Client(server.port)
    gets = {}
    for i in range(10):
        for path in ("/index.html", "/data/64k.bin", "/data/1m.bin"):
            gets[c.request("GET", path)] = path
    head = c.request("HEAD", "/data/1m.bin")
    missing = c.request("GET", "/no/such/file")
    escape = c.request("GET", "/../../etc/passwd")
    wrong = c.request("GET", "/echo")
    upload = h.pattern(4 * 1024 * 1024, 22)
    echo = c.request("POST", "/echo", [("content-type", "application/x-h2wire-test")], body=upload)
    small = h.pattern(200_000, 23)
    echo_t = c.request("POST", "/echo?trailers=1", [("te", "trailers")], body=small)
    file_t = c.request("GET", "/data/64k.bin?trailers=1", [("te", "trailers")])
    sids = list(gets) + [head, missing, escape, wrong, echo, echo_t, file_t]
    check.expect(c.run_until(lambda: c.finished(sids), timeout=60),
                 f"all {len(sids)} streams finished on one connection")
    for e in c.errors:
        check.expect(False, e)

    types = {"/index.html": "text/html", "/data/64k.bin": "application/octet-stream",
             "/data/1m.bin": "application/octet-stream"}
    bad = []
    for sid, path in gets.items():
        s = c.stream(sid)
        want = (200, types[path], str(os.path.getsize(os.path.join(root, path.lstrip("/")))), files[path], True, None)
        got = (int(s.header(":status") or 0), (s.header("content-type") or "").split(";")[0],
               s.header("content-length"), h.sha256(bytes(s.body)), s.ended, s.reset)
        if got != want:
            bad.append((sid, path, got, want))
    check.equal(bad, [], f"{len(gets)} concurrent GETs: status, content-type, content-length, body SHA-256")

    s = c.stream(head)
    check.equal((s.header(":status"), s.header("content-length"), bytes(s.body), s.ended),
                ("200", "1048576", b"", True), "HEAD /data/1m.bin: status, content-length, no body")
    check.equal(c.stream(missing).header(":status"), "404", "GET /no/such/file: 404")
    check.equal(c.stream(escape).header(":status"), "400", "GET /../../etc/passwd: 400")
    check.equal(c.stream(wrong).header(":status"), "405", "GET /echo: 405")

    s = c.stream(echo)
    check.equal((s.header(":status"), s.header("content-type"), len(s.body)),
                ("200", "application/x-h2wire-test", len(upload)), "POST 4 MiB /echo: status, content-type, length")
    check.equal(h.sha256(bytes(s.body)), h.sha256(upload), "POST 4 MiB /echo: echoed body SHA-256")

    s = c.stream(echo_t)
    check.equal(h.sha256(bytes(s.body)), h.sha256(small), "POST /echo?trailers=1: echoed body SHA-256")
    check.equal(dict(s.trailers or []), {"x-body-length": str(len(small)), "x-body-fnv1a": py_h2.fnv1a(small)},
                "POST /echo?trailers=1: trailers")
    s = c.stream(file_t)
    data64 = open(os.path.join(root, "data/64k.bin"), "rb").read()
    check.equal(h.sha256(bytes(s.body)), files["/data/64k.bin"], "GET /data/64k.bin?trailers=1: body SHA-256")
    check.equal(dict(s.trailers or []), {"x-body-length": "65536", "x-body-fnv1a": py_h2.fnv1a(data64)},
                "GET /data/64k.bin?trailers=1: trailers")
    c.conn.close_connection()
    c.flush()
    c.close()

    # Graceful shutdown with a download in flight. Our stream window (64 KiB,
    # h2's default) holds the 8 MiB response back until we read on.
    d = py_h2.Client(server.port)
    sid = d.request("GET", "/data/8m.bin")
    check.expect(d.run_until(lambda: len(d.stream(sid).body) > 0, timeout=30), "shutdown: the download started")
    server.proc.send_signal(signal.SIGTERM)
    check.expect(d.run_until(lambda: d.stream(sid).ended or d.stream(sid).reset is not None, timeout=60),
                 "shutdown: the download finished after SIGTERM")
    for e in d.errors:
        check.expect(False, "shutdown: " + e)
    s = d.stream(sid)
    check.equal((s.header(":status"), len(s.body), s.reset), ("200", len(big), None),
                "shutdown: status, length, not reset")
    if not check.equal(h.sha256(bytes(s.body)), h.sha256(big), "shutdown: body SHA-256"):
        diff = [i for i in range(0, min(len(s.body), len(big)), 1024) if s.body[i:i + 1024] != big[i:i + 1024]]
        h.log(f"shutdown: {len(diff)} KiB blocks differ, first at offset {diff[:1]}, last {diff[-1:]}")
        if os.environ.get("H2WIRE_DUMP"):
            open(os.environ["H2WIRE_DUMP"], "wb").write(bytes(s.body))
    d.run_until(lambda: d.goaway is not None or d.closed, timeout=10)
    check.expect(d.goaways and all(code == 0 and last >= sid for last, code in d.goaways),
                 f"shutdown: GOAWAY NO_ERROR covering stream {sid} (got {d.goaways})")
    d.close()
    try:
        status = server.proc.wait(timeout=15)
    except Exception:
        status = None
    check.equal(status, 0, "shutdown: the server exited with status 0")
    check.finish()


if __name__ == "__main__":
    main()
