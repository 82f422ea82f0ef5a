"""Shared pieces of the Python h2 CONNECT interop scripts (issue 6).

A select() loop around h2's sans-IO connection that sends queued bytes per
stream as the windows allow and hands received DATA back to the windows;
RFC 6455 framing for the WebSocket checks; the byte pattern and FNV-1a 64
of connect_peer.cpp; RESULT lines.
"""

import hashlib
import os
import select
import socket
import struct
import sys

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings
except ImportError:
    print("RESULT python-h2 FAIL Python h2 is not installed for /usr/bin/python3 (Debian package python3-h2)")
    sys.exit(1)

DEADLINE_SECONDS = 60


def pattern(n, tag):
    """Octet i is (i*7 + i//256 + tag*13) mod 256, as in connect_peer.cpp."""
    return bytes((i * 7 + (i >> 8) + tag * 13) & 0xFF for i in range(n))


def fnv(data):
    h = 0xCBF29CE484222325
    for c in data:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def sha(b):
    return hashlib.sha256(bytes(b)).hexdigest()


class Results:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        self.count += 1
        if not ok:
            self.failed += 1
        print("RESULT %s %s %s" % (name, "ok" if ok else "FAIL", detail), flush=True)

    def summary(self):
        print("SUMMARY %d/%d passed" % (self.count - self.failed, self.count), flush=True)
        return 0 if self.failed == 0 else 1


# --- RFC 6455 framing ---------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def ws_frame(op, payload, fin=True, mask=True):
    """One frame (RFC 6455 §5.2), masked with a fresh key when `mask`."""
    payload = bytes(payload)
    n = len(payload)
    b0 = (0x80 if fin else 0) | op
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i & 3] for i, c in enumerate(payload))


class WsParser:
    """Frames from the peer; complete messages as (opcode, bytes), control
    frames as (opcode, payload)."""

    def __init__(self, expect_masked):
        self.expect_masked = expect_masked
        self.buf = b""
        self.frag = None
        self.error = None

    def feed(self, data):
        self.buf += data
        out = []
        while self.error is None and len(self.buf) >= 2:
            b0, b1 = self.buf[0], self.buf[1]
            fin, op, masked, n, at = b0 & 0x80, b0 & 0x0F, b1 & 0x80, b1 & 0x7F, 2
            if b0 & 0x70 or bool(masked) != self.expect_masked:
                self.error = "bad RSV or masking"
                break
            if n == 126:
                if len(self.buf) < 4:
                    break
                n, at = struct.unpack("!H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    break
                n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
            key_at = at
            if masked:
                at += 4
            if len(self.buf) < at + n:
                break
            payload = self.buf[at:at + n]
            if masked:
                key = self.buf[key_at:key_at + 4]
                payload = bytes(c ^ key[i & 3] for i, c in enumerate(payload))
            self.buf = self.buf[at + n:]
            if op >= 0x8:
                out.append((op, payload))
            elif op == OP_CONT:
                if self.frag is None:
                    self.error = "continuation without a message"
                    break
                self.frag[1].append(payload)
                if fin:
                    out.append((self.frag[0], b"".join(self.frag[1])))
                    self.frag = None
            elif op in (OP_TEXT, OP_BINARY):
                if self.frag is not None:
                    self.error = "new message inside a fragmented one"
                    break
                self.frag = (op, [payload])
                if fin:
                    out.append((op, payload))
                    self.frag = None
            else:
                self.error = "reserved opcode"
        return out


# --- h2 over a socket -----------------------------------------------------------

class Peer:
    """An h2 connection on a socket. Subclasses handle events in on_event()."""

    def __init__(self, sock, client_side, settings=None):
        self.sock = sock
        self.sock.setblocking(False)
        cfg = h2.config.H2Configuration(client_side=client_side, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(cfg)
        if settings:
            # In the first SETTINGS frame: h2 sends the current values there,
            # and update() would only queue new ones for a later frame.
            values = dict(self.conn.local_settings.items())
            values.update(settings)
            self.conn.local_settings = h2.settings.Settings(client=client_side, initial_values=values)
        self.conn.initiate_connection()
        self.sending = {}  # stream -> [bytearray, end_after]
        self.closed = False

    def send(self, sid, data, end=False):
        q = self.sending.setdefault(sid, [bytearray(), False])
        q[0] += data
        q[1] = q[1] or end

    def drop(self, sid):
        self.sending.pop(sid, None)

    def pump(self):
        for sid in list(self.sending):
            buf, end = self.sending[sid]
            try:
                ended = False
                while buf:
                    n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size, len(buf))
                    if n <= 0:
                        break
                    ended = end and n == len(buf)
                    self.conn.send_data(sid, bytes(buf[:n]), end_stream=ended)
                    del buf[:n]
                if not buf:
                    if end and not ended:
                        self.conn.end_stream(sid)
                    del self.sending[sid]
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, KeyError):
                self.sending.pop(sid, None)

    def flush(self):
        data = self.conn.data_to_send()
        while data:
            try:
                n = self.sock.send(data)
                data = data[n:]
            except BlockingIOError:
                select.select([], [self.sock], [], 1)
            except OSError:
                self.closed = True
                return

    def step(self, timeout=0.1):
        self.pump()
        self.flush()
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.DataReceived) and ev.flow_controlled_length:
                try:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                except (h2.exceptions.StreamClosedError, KeyError):
                    pass
            self.on_event(ev)
        self.pump()
        self.flush()

    def on_event(self, ev):
        pass


def ws_echo_feed(peer, sid, parser, data):
    """Server side WebSocket echo: messages back, pings answered, close
    answered and the stream ended."""
    for op, payload in parser.feed(data):
        if op in (OP_TEXT, OP_BINARY):
            peer.send(sid, ws_frame(op, payload, mask=False))
        elif op == OP_PING:
            peer.send(sid, ws_frame(OP_PONG, payload, mask=False))
        elif op == OP_CLOSE:
            peer.send(sid, ws_frame(OP_CLOSE, payload[:2], mask=False), end=True)
    if parser.error:
        peer.send(sid, ws_frame(OP_CLOSE, struct.pack("!H", 1002), mask=False), end=True)
