#!/usr/bin/python3
"""h2c upgrade (RFC 7540 §3.2) against Python's h2, both directions.

    upgrade_python_test.py SERVER CLIENT

1. Python h2 as the client (H2Connection.initiate_upgrade_connection) against
   SERVER (h2wire-server or h2wire-uv-server): the HTTP/1.1 request becomes stream 1, then a second request
   goes on stream 3; both bodies are checked byte for byte.
2. h2wire-client --upgrade against a Python h2 server that answers 101 and
   calls initiate_upgrade_connection(settings_header=...): stream 1 and
   stream 3 must both complete with the bodies the server sent.

Exits 77 (skip) when h2 is not importable. Binds 127.0.0.1 on ports chosen
at run time; children are killed on exit.
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

try:
    import h2.config
    import h2.connection
    import h2.events
except ImportError:
    print("python3-h2 missing (apt-get install -y python3-h2)")
    sys.exit(77)

TIMEOUT = 60  # seconds; a guard against hangs only

failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)
    if not ok:
        failures.append(name)


def read_head(sock, buf=b""):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed before the HTTP/1.1 head ended")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def python_client(server_bin, root):
    proc = subprocess.Popen([server_bin, "--root", root, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(re.match(r"listening on 127\.0\.0\.1:(\d+)", proc.stdout.readline()).group(1))
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
        settings = conn.initiate_upgrade_connection()
        sock.sendall(b"GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                     b"Upgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n\r\n")
        head, rest = read_head(sock)
        check("python client: 101 Switching Protocols", head.startswith("HTTP/1.1 101"), head)
        sock.sendall(conn.data_to_send())
        conn.send_headers(3, [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"),
                              (":path", "/b.txt")], end_stream=True)
        sock.sendall(conn.data_to_send())
        bodies, status, ended = {1: b"", 3: b""}, {}, set()
        data = rest
        while len(ended) < 2:
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    status[ev.stream_id] = dict(ev.headers)[b":status"]
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    ended.add(ev.stream_id)
                elif isinstance(ev, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    raise RuntimeError("unexpected %r" % ev)
            sock.sendall(conn.data_to_send())
            if len(ended) < 2:
                data = sock.recv(65536)
                if not data:
                    raise EOFError("server closed early")
        with open(os.path.join(root, "a.txt"), "rb") as f:
            a = f.read()
        with open(os.path.join(root, "b.txt"), "rb") as f:
            b = f.read()
        check("python client: stream 1 (the upgraded request)", status.get(1) == b"200" and bodies[1] == a,
              (status, len(bodies[1])))
        check("python client: stream 3 after the upgrade", status.get(3) == b"200" and bodies[3] == b,
              (status, len(bodies[3])))
        conn.close_connection()
        sock.sendall(conn.data_to_send())
        sock.close()
    finally:
        proc.kill()
        proc.wait()


def python_server(client_bin):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    result = {}

    def serve():
        sock, _ = listener.accept()
        sock.settimeout(TIMEOUT)
        head, rest = read_head(sock)
        fields = dict(line.split(":", 1) for line in head.split("\r\n")[1:])
        fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
        result["request_line"] = head.split("\r\n")[0]
        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        conn.initiate_upgrade_connection(settings_header=fields["http2-settings"].encode())
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        body1 = b"stream one\n" * 5000
        conn.send_headers(1, [(":status", "200"), ("content-length", str(len(body1)))])
        sock.sendall(conn.data_to_send())
        pending = {1: body1}
        data = rest
        done = 0
        while True:
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    path = dict(ev.headers)[b":path"]
                    body = b"path " + path + b"\n"
                    conn.send_headers(ev.stream_id, [(":status", "200"), ("content-length", str(len(body)))])
                    pending[ev.stream_id] = body
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    sock.close()
                    result["done"] = done
                    return
            for sid in list(pending):
                while sid in pending:  # as much as the windows allow
                    window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                    n = min(window, len(pending[sid]))
                    if n == 0 and pending[sid]:
                        break
                    conn.send_data(sid, pending[sid][:n], end_stream=(n == len(pending[sid])))
                    pending[sid] = pending[sid][n:]
                    if not pending[sid]:
                        del pending[sid]
                        done += 1
            sock.sendall(conn.data_to_send())
            data = sock.recv(65536)
            if not data:
                sock.close()
                result["done"] = done
                return

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    base = "http://127.0.0.1:%d" % port
    r = subprocess.run([client_bin, "--upgrade", base + "/one", base + "/two"], capture_output=True,
                       timeout=TIMEOUT)
    err = r.stderr.decode(errors="replace")
    t.join(TIMEOUT)
    check("h2wire client --upgrade vs python server: request line", result.get("request_line") == "GET /one HTTP/1.1",
          result)
    check("h2wire client --upgrade vs python server: streams 1 and 3 complete",
          r.returncode == 0 and "[1] done: status 200, 55000 octets" in err and "[3] done: status 200, 10 octets" in err,
          err)
    listener.close()


def main():
    server_bin, client_bin = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="h2wire-upgrade-") as root:
        with open(os.path.join(root, "a.txt"), "wb") as f:
            f.write(os.urandom(200000))
        with open(os.path.join(root, "b.txt"), "wb") as f:
            f.write(b"second\n")
        python_client(server_bin, root)
    python_server(client_bin)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
