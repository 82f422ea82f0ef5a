#!/usr/bin/python3
"""Interop (issue 6): Python h2 as the client of an h2wire server.

    /usr/bin/python3 connect_python_client.py <connect-peer>

Starts `connect-peer server` (127.0.0.1, kernel-chosen port) and checks, on
one connection: the server's SETTINGS_ENABLE_CONNECT_PROTOCOL; a 4 MiB echo
through an extended CONNECT tunnel; a 403 ending the attempt; the server's
RST_STREAM CONNECT_ERROR; tunnel DATA from the server before we send
anything; a 1 MiB upload counted and hashed by the server; WebSocket over
HTTP/2 (RFC 8441 + RFC 6455); our RST_STREAM CANCEL reaching the server.
(No classic CONNECT: h2 4.1 insists on :scheme and :path in every request.)
"""

import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True

from connect_py import (DEADLINE_SECONDS, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Peer, Results,
                        WsParser, fnv, pattern, sha, ws_frame)

import h2.errors
import h2.events
import h2.settings


class Stream:
    def __init__(self, name):
        self.name = name
        self.status = None
        self.body = bytearray()
        self.ended = False
        self.reset = None
        self.data_before_our_end = False


class Client(Peer):
    def __init__(self, sock):
        super().__init__(sock, client_side=True)
        self.settings = None
        self.streams = {}
        self.ws = None  # (sid, parser, messages, pongs, close_code)

    def open(self, name, protocol, path, extra=(), end=False):
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", "CONNECT"), (":protocol", protocol), (":scheme", "http"), (":path", path),
                   (":authority", "localhost")] + list(extra)
        self.conn.send_headers(sid, headers, end_stream=end)
        self.streams[sid] = Stream(name)
        return sid

    def on_event(self, ev):
        if isinstance(ev, h2.events.RemoteSettingsChanged) and self.settings is None:
            self.settings = {k: v.new_value for k, v in ev.changed_settings.items()}
        elif isinstance(ev, h2.events.ResponseReceived):
            s = self.streams[ev.stream_id]
            s.status = int(dict(ev.headers)[":status"])
            if s.name == "server-reset":
                self.send(ev.stream_id, b"x")
            if s.name == "websocket" and s.status == 200:
                self.ws_start(ev.stream_id)
        elif isinstance(ev, h2.events.DataReceived):
            s = self.streams.get(ev.stream_id)
            if s is None:
                return
            if self.ws and ev.stream_id == self.ws["sid"]:
                self.ws_data(ev.data)
                return
            s.body += ev.data
            if s.name == "client-reset" and s.reset is None:
                self.conn.reset_stream(ev.stream_id, h2.errors.ErrorCodes.CANCEL)
                self.drop(ev.stream_id)
                s.reset = "local"
        elif isinstance(ev, h2.events.StreamEnded):
            s = self.streams.get(ev.stream_id)
            if s:
                s.ended = True
                if s.name == "server-data-first":
                    s.data_before_our_end = ev.stream_id not in self.sending
                    self.send(ev.stream_id, b"", end=True)
        elif isinstance(ev, h2.events.StreamReset):
            s = self.streams.get(ev.stream_id)
            if s and s.reset is None:
                s.reset = ev.error_code

    # WebSocket: text, a fragmented binary, a ping, UTF-8 cut across
    # fragments, then a close once all echoes and the pong are in.
    def ws_start(self, sid):
        self.ws = {"sid": sid, "parser": WsParser(expect_masked=False), "messages": [], "pongs": 0, "close": None,
                   "closing": False}
        big = pattern(100000, 7)
        utf8 = "h\u00e9llo \u2713".encode()
        out = ws_frame(OP_TEXT, b"hello h2wire")
        for at in range(0, len(big), 16384):
            out += ws_frame(OP_BINARY if at == 0 else OP_CONT, big[at:at + 16384], fin=at + 16384 >= len(big))
        out += ws_frame(OP_PING, b"p1")
        out += ws_frame(OP_TEXT, utf8[:2], fin=False) + ws_frame(OP_CONT, utf8[2:])
        self.send(sid, out)

    def ws_data(self, data):
        w = self.ws
        for op, payload in w["parser"].feed(data):
            if op in (OP_TEXT, OP_BINARY):
                w["messages"].append((op, payload))
            elif op == OP_PONG:
                w["pongs"] += 1
            elif op == OP_CLOSE:
                w["close"] = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.send(w["sid"], b"", end=True)
        if not w["closing"] and len(w["messages"]) == 3 and w["pongs"] >= 1:
            w["closing"] = True
            self.send(w["sid"], ws_frame(OP_CLOSE, (1000).to_bytes(2, "big") + b"bye"))


def main():
    driver = sys.argv[1]
    results = Results()
    server = subprocess.Popen([driver, "server"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        port = int(line.split()[1])
        sock = socket.create_connection(("127.0.0.1", port))
        c = Client(sock)
        start = time.monotonic()
        while c.settings is None and not c.closed and time.monotonic() - start < DEADLINE_SECONDS:
            c.step()
        enabled = (c.settings or {}).get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
        results.check("settings", enabled == 1, "ENABLE_CONNECT_PROTOCOL=%s" % enabled)
        if enabled != 1:
            return results.summary()

        echo_data = pattern(4 << 20, 1)
        count_data = pattern(1 << 20, 9)
        sid = c.open("echo-4MiB", "echo", "/echo")
        c.send(sid, echo_data, end=True)
        c.open("non-2xx", "echo", "/deny")
        c.open("server-reset", "echo", "/reset")
        c.open("server-data-first", "echo", "/stream?n=1048576")
        sid = c.open("upload-count", "echo", "/count")
        c.send(sid, count_data, end=True)
        c.open("websocket", "websocket", "/ws", [("sec-websocket-version", "13")])
        c.open("client-reset", "echo", "/stream?n=16777216")

        def finished(s):
            return s.reset is not None or (s.ended and s.name != "websocket") or (
                s.name == "websocket" and s.ended and c.ws and c.ws["close"] is not None)

        while not all(finished(s) for s in c.streams.values()) and not c.closed and \
                time.monotonic() - start < DEADLINE_SECONDS:
            c.step()
        # Let the last frames (our END_STREAMs, the RST) go out.
        for _ in range(5):
            c.step(0.05)

        by = {s.name: s for s in c.streams.values()}
        s = by["echo-4MiB"]
        results.check(s.name, s.status == 200 and sha(s.body) == sha(echo_data) and s.ended,
                      "status=%s got=%d" % (s.status, len(s.body)))
        s = by["non-2xx"]
        results.check(s.name, s.status == 403 and bytes(s.body) == b"denied", "status=%s" % s.status)
        s = by["server-reset"]
        results.check(s.name, s.reset == h2.errors.ErrorCodes.CONNECT_ERROR, "reset=%r" % (s.reset,))
        s = by["server-data-first"]
        results.check(s.name, s.status == 200 and sha(s.body) == sha(pattern(1 << 20, 5)) and s.data_before_our_end,
                      "got=%d" % len(s.body))
        s = by["upload-count"]
        want = "n=%d fnv=%s" % (len(count_data), fnv(count_data))
        results.check(s.name, bytes(s.body).decode(errors="replace") == want, "got %r want %r" % (bytes(s.body), want))
        w = c.ws or {"messages": [], "pongs": 0, "close": None}
        want_msgs = [(OP_TEXT, b"hello h2wire"), (OP_BINARY, pattern(100000, 7)), (OP_TEXT, "h\u00e9llo \u2713".encode())]
        results.check("websocket", w["messages"] == want_msgs and w["pongs"] == 1 and w["close"] == 1000,
                      "messages=%d pongs=%d close=%s" % (len(w["messages"]), w["pongs"], w["close"]))
        s = by["client-reset"]
        results.check(s.name, s.reset == "local", "reset=%r" % (s.reset,))
        c.conn.close_connection()
        c.flush()
        sock.close()
        # What the server saw of our reset.
        server.terminate()
        out = server.communicate(timeout=10)[0]
        results.check("server-saw-client-cancel", "server-saw-reset path=/stream?n=16777216 code=CANCEL" in out,
                      " | ".join(l for l in out.splitlines() if l.startswith("RESULT")))
        return results.summary()
    finally:
        if server.poll() is None:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
