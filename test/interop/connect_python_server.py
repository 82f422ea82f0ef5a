#!/usr/bin/python3
"""Interop (issue 6): Python h2 as the server for an h2wire client.

    /usr/bin/python3 connect_python_server.py <connect-peer>

Listens on 127.0.0.1 (kernel-chosen port) with
SETTINGS_ENABLE_CONNECT_PROTOCOL=1 in its first SETTINGS, serves what
connect_peer.cpp's header describes (except classic CONNECT, which h2 4.1
rejects for lacking :scheme and :path), runs `connect-peer client <port>
--no-classic` and checks its RESULT lines and what this side saw.
"""

import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True

from connect_py import DEADLINE_SECONDS, Peer, Results, WsParser, fnv, pattern, ws_echo_feed

import h2.errors
import h2.events
import h2.settings


class Server(Peer):
    def __init__(self, sock):
        super().__init__(sock, client_side=False,
                         settings={h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1})
        self.kind = {}  # stream -> (kind, state)
        self.cancels = []
        self.protocols = []
        self.errors = []

    def respond(self, sid, status, body=None, end=False):
        self.conn.send_headers(sid, [(":status", str(status))], end_stream=end and body is None)
        if body is not None:
            self.send(sid, body, end=True)

    def on_event(self, ev):
        if isinstance(ev, h2.events.RequestReceived):
            self.on_request(ev.stream_id, dict(ev.headers), ev.stream_ended)
        elif isinstance(ev, h2.events.DataReceived):
            kind, state = self.kind.get(ev.stream_id, (None, None))
            if kind == "echo":
                self.send(ev.stream_id, ev.data)
            elif kind == "ws":
                ws_echo_feed(self, ev.stream_id, state, ev.data)
            elif kind == "reset":
                self.conn.reset_stream(ev.stream_id, h2.errors.ErrorCodes.CONNECT_ERROR)
                self.kind.pop(ev.stream_id)
            elif kind == "count":
                state.append(ev.data)
        elif isinstance(ev, h2.events.StreamEnded):
            kind, state = self.kind.get(ev.stream_id, (None, None))
            if kind == "echo":
                self.send(ev.stream_id, b"", end=True)
            elif kind == "count":
                data = b"".join(state)
                self.send(ev.stream_id, ("n=%d fnv=%s" % (len(data), fnv(data))).encode(), end=True)
            elif kind == "ws":
                self.send(ev.stream_id, b"", end=True)
        elif isinstance(ev, h2.events.StreamReset):
            if ev.error_code == h2.errors.ErrorCodes.CANCEL:
                self.cancels.append(self.kind.get(ev.stream_id, ("?",))[0])
            self.kind.pop(ev.stream_id, None)
            self.drop(ev.stream_id)

    def on_request(self, sid, h, ended):
        method, path, protocol = h.get(":method"), h.get(":path", ""), h.get(":protocol")
        if method != "CONNECT":
            self.respond(sid, 200 if path == "/" else 404, b"hello" if path == "/" else b"not found")
            return
        self.protocols.append(protocol)
        if path == "/ws" and protocol == "websocket" and h.get("sec-websocket-version") == "13":
            self.respond(sid, 200)
            self.kind[sid] = ("ws", WsParser(expect_masked=True))
        elif path == "/echo":
            self.respond(sid, 200)
            self.kind[sid] = ("echo", None)
        elif path == "/deny":
            self.respond(sid, 403, b"denied")
        elif path == "/reset":
            self.respond(sid, 200)
            self.kind[sid] = ("reset", None)
        elif path.startswith("/stream?n="):
            self.respond(sid, 200)
            self.send(sid, pattern(int(path[10:]), 5), end=True)
            self.kind[sid] = ("stream", None)
        elif path == "/count":
            self.respond(sid, 200)
            self.kind[sid] = ("count", [])
        else:
            self.respond(sid, 404, b"")


def main():
    driver = sys.argv[1]
    results = Results()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    client = subprocess.Popen([driver, "client", str(port), "--no-classic"], stdout=subprocess.PIPE, text=True)
    try:
        listener.settimeout(DEADLINE_SECONDS)
        sock, _ = listener.accept()
        listener.close()
        server = Server(sock)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(client.stdout), daemon=True)
        reader.start()
        start = time.monotonic()
        while not server.closed and client.poll() is None and time.monotonic() - start < DEADLINE_SECONDS:
            server.step()
        for _ in range(5):
            if server.closed:
                break
            server.step(0.05)
        code = client.wait(timeout=10)
        reader.join(timeout=5)
        got = [l.strip() for l in lines if l.startswith("RESULT")]
        for l in got:
            print("client: " + l)
        fails = [l for l in got if not l.split()[2:3] == ["ok"]]
        results.check("driver-exit", code == 0, "exit code %s" % code)
        results.check("driver-results", len(got) >= 20 and not fails, "%d results, failed: %s" % (len(got), fails))
        results.check("server-saw-client-cancel", "echo" in server.cancels, "cancels: %s" % server.cancels)
        results.check("protocols-seen", "websocket" in server.protocols and "echo" in server.protocols,
                      ":protocol values %s" % sorted(set(server.protocols)))
        return results.summary()
    finally:
        if client.poll() is None:
            client.kill()


if __name__ == "__main__":
    sys.exit(main())
