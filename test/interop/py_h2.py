"""Python `h2` (Debian python3-h2) over real sockets, as a client and as a
server, for the interop suite's checks against the h2wire examples.

Both sides are small select() loops around h2's sans-IO connection: they
send bodies as the peer's windows allow, hand received DATA back to the
windows, and record every stream's headers, body, trailers and end.
"""

import select
import socket
import struct
import time

import harness as h

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings
except ImportError:
    h.fail("Python h2 is not installed for /usr/bin/python3 (Debian package python3-h2)")


class StreamRecord:
    def __init__(self):
        self.headers = None  # list of (name, value) of the final response / the request
        self.informational = []
        self.body = bytearray()
        self.trailers = None
        self.ended = False
        self.reset = None  # error code

    def header(self, name):
        for k, v in self.headers or []:
            if k == name:
                return v
        return None


class _Endpoint:
    def __init__(self, sock, client_side, settings=None):
        self.sock = sock
        self.sock.setblocking(False)
        cfg = h2.config.H2Configuration(client_side=client_side, header_encoding="utf-8",
                                        validate_inbound_headers=True)
        self.conn = h2.connection.H2Connection(cfg)
        if settings:
            self.conn.local_settings.update(settings)
        self.conn.initiate_connection()
        self.streams = {}
        self.sending = {}  # stream -> [data, offset, trailers, end]
        self.goaway = None  # (last_stream_id, error_code) of the last GOAWAY received
        self.goaways = []
        self.closed = False  # the peer closed the socket
        self.errors = []
        self._out = b""
        # Python h2 stops at the first GOAWAY it receives (any later frame is
        # an error to it), but a graceful shutdown keeps sending the streams
        # the GOAWAY covers. So the client splits the input into frames
        # itself and, from the GOAWAY on, handles DATA, PING and RST_STREAM
        # by hand.
        self._frames = b"" if client_side else None
        self._raw = False

    def stream(self, sid):
        return self.streams.setdefault(sid, StreamRecord())

    def send_body(self, sid, data, trailers=None, end=True):
        self.sending[sid] = [data, 0, trailers, end]

    def _pump(self):
        for sid in list(self.sending):
            data, off, trailers, end = self.sending[sid]
            if self.stream(sid).reset is not None:
                del self.sending[sid]
                continue
            while off < len(data):
                n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size, len(data) - off)
                if n <= 0:
                    break
                self.conn.send_data(sid, data[off:off + n])
                off += n
            self.sending[sid][1] = off
            if off == len(data):
                if trailers:
                    self.conn.send_headers(sid, trailers, end_stream=True)
                elif end:
                    self.conn.end_stream(sid)
                del self.sending[sid]

    def flush(self):
        self._pump()
        self._out += self.conn.data_to_send()
        while self._out:
            try:
                n = self.sock.send(self._out)
            except BlockingIOError:
                return False
            except OSError:
                self._out = b""
                self.closed = True
                return True
            self._out = self._out[n:]
        return True

    def step(self, timeout):
        """One round: write what can go, wait up to `timeout` for input and
        handle it. Returns the h2 events."""
        done = self.flush()
        r, w, _ = select.select([self.sock], [] if done else [self.sock], [], timeout)
        if not r:
            return []
        try:
            data = self.sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return []
        if self._frames is not None:
            data = self._split_at_goaway(data)
        events = []
        if data:
            try:
                events = self.conn.receive_data(data)
            except h2.exceptions.ProtocolError as e:
                self.errors.append(f"h2 rejected the peer's bytes: {e!r}")
                self.closed = True
                return []
            for ev in events:
                self._record(ev)
            self.on_events(events)
        if self._raw:
            self._drain_raw()  # after h2 had the frames before the GOAWAY: order kept
        self.flush()
        return events

    def on_events(self, events):
        pass

    def _split_at_goaway(self, data):
        """Returns the part of `data` for h2: all of it until a GOAWAY frame,
        which h2 still gets; what follows waits in _frames for _drain_raw(),
        which runs after h2 has had its part (so DATA stays in order)."""
        if self._raw:
            self._frames += data
            return b""
        start = len(self._frames)
        self._frames += data
        at = 0
        while len(self._frames) - at >= 9:
            length = int.from_bytes(self._frames[at:at + 3], "big")
            if len(self._frames) - at < 9 + length:
                break
            ftype = self._frames[at + 3]
            at += 9 + length
            if ftype == 7:  # GOAWAY
                self._raw = True
                cut = at - start  # the end of the GOAWAY frame within `data`
                self._frames = self._frames[at:]
                return data[:cut]
        self._frames = self._frames[at:]
        return data

    def _drain_raw(self):
        while len(self._frames) >= 9:
            length = int.from_bytes(self._frames[0:3], "big")
            if len(self._frames) < 9 + length:
                return
            ftype, flags = self._frames[3], self._frames[4]
            sid = struct.unpack(">I", self._frames[5:9])[0] & 0x7FFFFFFF
            payload = self._frames[9:9 + length]
            self._frames = self._frames[9 + length:]
            self._raw_frame(ftype, flags, sid, payload)

    def _raw_frame(self, ftype, flags, sid, payload):
        def frame(t, f, s, p):
            return len(p).to_bytes(3, "big") + bytes([t, f]) + struct.pack(">I", s) + p
        if ftype == 0:  # DATA
            body = payload
            if flags & 0x8:  # PADDED
                body = payload[1:len(payload) - payload[0]]
            self.stream(sid).body += body
            if payload:
                inc = struct.pack(">I", len(payload))
                self._out += frame(8, 0, sid, inc) + frame(8, 0, 0, inc)
            if flags & 0x1:
                self.stream(sid).ended = True
        elif ftype == 1:  # HEADERS: trailers, after the GOAWAY
            if flags & 0x1:
                self.stream(sid).ended = True
        elif ftype == 3:  # RST_STREAM
            self.stream(sid).reset = struct.unpack(">I", payload[:4])[0]
        elif ftype == 6 and not flags & 0x1:  # PING: answer it
            self._out += frame(6, 1, 0, payload)
        elif ftype == 7:  # another GOAWAY (the final one of a graceful shutdown)
            self.goaways.append((struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF,
                                 struct.unpack(">I", payload[4:8])[0]))
            self.goaway = self.goaways[-1]

    def _record(self, ev):
        if isinstance(ev, (h2.events.ResponseReceived, h2.events.RequestReceived)):
            self.stream(ev.stream_id).headers = list(ev.headers)
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            self.stream(ev.stream_id).informational.append(list(ev.headers))
        elif isinstance(ev, h2.events.DataReceived):
            self.stream(ev.stream_id).body += ev.data
            if ev.flow_controlled_length:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            self.stream(ev.stream_id).trailers = list(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            self.stream(ev.stream_id).ended = True
        elif isinstance(ev, h2.events.StreamReset):
            self.stream(ev.stream_id).reset = int(ev.error_code)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = (ev.last_stream_id, int(ev.error_code))
            self.goaways.append(self.goaway)

    def run_until(self, cond, timeout=30):
        deadline = time.monotonic() + timeout
        while not cond():
            if self.closed or time.monotonic() > deadline:
                return cond()
            self.step(0.1)
        self.flush()
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Client(_Endpoint):
    """An h2 client connected to 127.0.0.1:port (prior knowledge)."""

    def __init__(self, port, settings=None):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, client_side=True, settings=settings)
        self.authority = f"127.0.0.1:{port}"

    def request(self, method, path, headers=(), body=None, trailers=None):
        sid = self.conn.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", "http"), (":authority", self.authority), (":path", path),
                  *headers]
        self.conn.send_headers(sid, fields, end_stream=body is None and not trailers)
        self.stream(sid)
        if body is not None or trailers:
            self.send_body(sid, body or b"", trailers)
        return sid

    def finished(self, sids):
        return all(self.stream(s).ended or self.stream(s).reset is not None for s in sids)


class Server(_Endpoint):
    """An h2 server on one accepted connection; `handler(server, sid,
    record)` is called once a request has fully arrived."""

    def __init__(self, sock, handler, settings=None):
        super().__init__(sock, client_side=False, settings=settings)
        self.handler = handler
        self.answered = set()

    def on_events(self, events):
        for ev in events:
            if isinstance(ev, h2.events.StreamEnded) and ev.stream_id not in self.answered:
                self.answered.add(ev.stream_id)
                self.handler(self, ev.stream_id, self.stream(ev.stream_id))


def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s


fnv1a = h.fnv1a
