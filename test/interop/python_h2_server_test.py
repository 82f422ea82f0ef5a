#!/usr/bin/python3
"""Interop: h2wire-client against the Python `h2` library as a server, over
sockets, with prior knowledge and with an h2c upgrade (RFC 7540 §3.2; h2
answers 101 and takes the HTTP/1.1 request as stream 1).

  python_h2_server_test.py CLIENT

The server (a thread here) answers:
  /gen/N/TAG     N pattern octets
  /big-headers   a 50,000-character field: h2 splits the block into HEADERS +
                 CONTINUATION at the client's SETTINGS_MAX_FRAME_SIZE
  /echo          the body back, with trailers (x-echo-length, x-echo-sha256)
  anything else  404
Checks: h2wire-client's exit status and summary, statuses and fields it
printed, the SHA-256 of every body; on the server side, what arrived
(request fields, upload hash) and that no protocol error occurred.
"""

import os
import socket
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
import py_h2  # noqa: E402

BIG = "".join(chr(ord("a") + (i * 7 + i // 3 + 9) % 26) for i in range(50000))


class H2Server:
    """Serves one connection at a time, until stop()."""

    def __init__(self):
        self.listener = py_h2.listener()
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.requests = []  # (method, path, fields dict, body sha256, upgraded)
        self.errors = []
        self.upgrades = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop = True
        self._thread.join(timeout=10)
        self.listener.close()

    def _serve(self):
        while not self._stop:
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            try:
                self._connection(sock)
            except Exception as e:  # noqa: BLE001 - reported as a failed check
                self.errors.append(f"server: {e!r}")
            finally:
                sock.close()

    def _connection(self, sock):
        sock.settimeout(10)
        first = sock.recv(65536, socket.MSG_PEEK)
        upgraded = None
        if not first.startswith(b"PRI * HTTP/2.0"):
            upgraded = self._read_upgrade(sock)
            if upgraded is None:
                return
        ep = py_h2.Server(sock, self._respond)
        if upgraded is not None:
            # RFC 7540 §3.2: 101, then our preface; the request is stream 1.
            method, path, fields, settings = upgraded
            ep.conn.initiate_upgrade_connection(settings)
            sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
            self.upgrades += 1
            rec = ep.stream(1)
            rec.headers = [(":method", method), (":path", path)] + list(fields.items())
            rec.ended = True
            ep.answered.add(1)
            self._respond(ep, 1, rec, upgraded=True)
        ep.run_until(lambda: ep.closed or self._stop, timeout=60)
        self.errors += ep.errors

    def _read_upgrade(self, sock):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ", 2)
        fields = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        ok = fields.get("upgrade", "").lower() == "h2c" and "http2-settings" in fields
        if not ok:
            self.errors.append(f"server: an HTTP/1.1 request without a valid h2c upgrade: {head!r}")
            return None
        conn_tokens = {t.strip().lower() for t in fields.get("connection", "").split(",")}
        if not {"upgrade", "http2-settings"} <= conn_tokens:
            self.errors.append(f"server: Connection does not list Upgrade and HTTP2-Settings: {head!r}")
        rest = {k: v for k, v in fields.items() if k not in ("connection", "upgrade", "http2-settings", "host")}
        return method, target, rest, fields["http2-settings"]

    def _respond(self, ep, sid, rec, upgraded=False):
        method, path = rec.header(":method"), rec.header(":path")
        body = bytes(rec.body)
        self.requests.append((method, path, dict(rec.headers or []), h.sha256(body), upgraded))
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "gen":
            data = h.pattern(int(parts[2]), int(parts[3]))
            ep.conn.send_headers(sid, [(":status", "200"), ("content-length", str(len(data)))])
            ep.send_body(sid, data)
        elif path == "/big-headers":
            ep.conn.send_headers(sid, [(":status", "200"), ("x-big", BIG)])
            ep.send_body(sid, b"big")
        elif path == "/echo":
            ep.conn.send_headers(sid, [(":status", "200"), ("content-type", rec.header("content-type") or "")])
            ep.send_body(sid, body, trailers=[("x-echo-length", str(len(body))), ("x-echo-sha256", h.sha256(body))])
        else:
            ep.conn.send_headers(sid, [(":status", "404")], end_stream=True)


def main():
    client = sys.argv[1] if len(sys.argv) > 1 else None
    check = h.Checker("h2wire-client vs python h2 server")
    h.require_binary(client, "h2wire-client")
    tmp = h.tempdir()
    srv = H2Server()
    base = f"http://127.0.0.1:{srv.port}"

    for mode, extra in (("prior knowledge", []), ("h2c upgrade", ["--upgrade"])):
        out = os.path.join(tmp, mode.replace(" ", "-"))
        os.makedirs(out)
        gens = [(1000 * (i + 1), i) for i in range(6)] + [(1 << 20, 7)]
        urls = [f"{base}/gen/{n}/{t}" for n, t in gens] + [f"{base}/missing"]
        before = len(srv.requests)
        r = h.run_client(client, extra + ["--output-dir", out] + urls)
        check.equal((r.rc, r.summary), (0, (len(urls), 0)), f"{mode}: GETs exit status, summary")
        check.equal([r.done.get(2 * i + 1, (None,))[0] for i in range(len(urls))], [200] * len(gens) + [404],
                    f"{mode}: statuses")
        got = h.files_in(out)
        want = {f"{i}-{t}": h.sha256(h.pattern(n, t)) for i, (n, t) in enumerate(gens)}
        check.equal({k: got.get(k) for k in want}, want, f"{mode}: bodies SHA-256")
        if extra:
            seen = srv.requests[before:]
            check.equal([s[4] for s in seen].count(True), 1, "h2c upgrade: exactly one request came by HTTP/1.1")
            check.equal(seen[0][1] if seen else None, "/gen/1000/0", "h2c upgrade: the first URL was the upgrade")

        upload = h.big_pattern(3 * 1024 * 1024 + 5, 61)
        upload_path = os.path.join(tmp, "upload.bin")
        h.write_file(upload_path, upload)
        echoed = os.path.join(tmp, "echoed.bin")
        if not extra:  # h2wire-client sends no body with its upgrade request
            r = h.run_client(client, extra + ["--data", "@" + upload_path, "-H", "content-type: application/x-up",
                                              "-o", echoed, f"{base}/echo"])
            check.equal((r.rc, r.summary), (0, (1, 0)), f"{mode}: POST 3 MiB exit status, summary")
            check.equal(h.sha256_file(echoed), h.sha256(upload), f"{mode}: POST 3 MiB echoed body SHA-256")
            check.equal((r.field(1, "x-echo-length"), r.field(1, "x-echo-sha256")),
                        (str(len(upload)), h.sha256(upload)), f"{mode}: POST 3 MiB: the server's trailers")
            check.equal(srv.requests[-1][2].get("content-type"), "application/x-up",
                        f"{mode}: POST: the server got the content-type")

        r = h.run_client(client, extra + ["-v", f"{base}/big-headers"])
        check.equal((r.rc, r.summary, r.out), (0, (1, 0), b"big"), f"{mode}: big header block exit, summary, body")
        check.equal(r.field(1, "x-big"), BIG, f"{mode}: the 50,000-character field intact")
        check.expect("recv CONTINUATION" in r.err, f"{mode}: the frame trace shows CONTINUATION received")

        out = os.path.join(tmp, mode.replace(" ", "-") + "-many")
        os.makedirs(out)
        urls = [f"{base}/gen/{300 + 17 * i}/{i}" for i in range(100)]
        r = h.run_client(client, extra + ["-n", "100", "--output-dir", out] + urls)
        check.equal((r.rc, r.summary), (0, (100, 0)), f"{mode}: 100 concurrent streams exit status, summary")
        want = {f"{i}-{i}": h.sha256(h.pattern(300 + 17 * i, i)) for i in range(100)}
        check.equal(h.files_in(out) == want, True, f"{mode}: 100 concurrent streams bodies SHA-256")

    srv.stop()
    check.equal(srv.errors, [], "server side: no error")
    check.equal(srv.upgrades, 3, "server side: three connections came by h2c upgrade")
    check.finish()


if __name__ == "__main__":
    main()
