"""A raw HTTP/2 peer for the defence tests: frames built and parsed by hand
(RFC 9113 §4.1, §6), header blocks as HPACK literals (RFC 7541 §6.2.2), no
module beyond the standard library. It behaves badly on purpose (never ACKs
SETTINGS, keeps windows at 0, sends junk), which a well-behaved client
library would not let us do. Only frame types and error codes are read
back; header blocks from the server are not decoded.
"""
import socket
import ssl
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §6: frame types
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
# RFC 9113 §6.5.2: settings
INITIAL_WINDOW_SIZE = 0x4
# RFC 9113 §7: error codes
NO_ERROR, PROTOCOL_ERROR, SETTINGS_TIMEOUT, CANCEL, ENHANCE_YOUR_CALM = 0x0, 0x1, 0x4, 0x8, 0xb


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def settings(entries=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in entries))


def window_update(stream, increment):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def hpack_int(value, prefix_bits, first=0):
    """RFC 7541 §5.1: an integer with an N-bit prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def header_block(fields):
    """RFC 7541 §6.2.2: each field a literal without indexing, new name, no
    Huffman coding."""
    out = b""
    for name, value in fields:
        n, v = name.encode(), value.encode()
        out += b"\0" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v
    return out


def data(stream, payload, end=False):
    return frame(DATA, END_STREAM if end else 0, stream, payload)


class Frame:
    def __init__(self, ftype, flags, stream, payload):
        self.type, self.flags, self.stream, self.payload = ftype, flags, stream, payload

    def error_code(self):
        """RST_STREAM and GOAWAY: the error code."""
        at = 4 if self.type == GOAWAY else 0
        return struct.unpack(">I", self.payload[at:at + 4])[0]

    def __repr__(self):
        return "Frame(type=%d flags=%#x stream=%d len=%d)" % (self.type, self.flags, self.stream, len(self.payload))


class Peer:
    """One TCP connection to the server under test."""

    def __init__(self, port, host="127.0.0.1", tls=False):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:  # ALPN h2 (RFC 9113 §3.2); the test certificate is not verified
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""
        self.eof = False
        self.server_settings = {}  # every SETTINGS entry the server sent, last value wins
        self.next_stream = 1

    def close(self):
        self.sock.close()

    def send(self, b):
        self.sock.sendall(b)

    def start(self, entries=(), ack=True):
        """Client preface with our SETTINGS; `ack`: ACK the server's SETTINGS
        as soon as they are read (read_frames does it)."""
        self.ack = ack
        self.send(PREFACE + settings(entries))

    def request(self, method, path, end=True, extra=()):
        sid = self.next_stream
        self.next_stream += 2
        block = header_block([(":method", method), (":scheme", "http"), (":authority", "localhost"),
                              (":path", path), *extra])
        self.send(frame(HEADERS, END_HEADERS | (END_STREAM if end else 0), sid, block))
        return sid

    def _fill(self, deadline):
        """Reads what is there before `deadline`; False on timeout or EOF."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.eof:
            return False
        self.sock.settimeout(remaining)
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            b = b""
        if not b:
            self.eof = True
            return False
        self.buf += b
        return True

    def read_frame(self, timeout=5.0):
        """The next frame, or None at EOF or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 9:
                n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) >= 9 + n:
                    ftype, flags = self.buf[3], self.buf[4]
                    stream = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
                    f = Frame(ftype, flags, stream, self.buf[9:9 + n])
                    self.buf = self.buf[9 + n:]
                    if f.type == SETTINGS and not f.flags & ACK:
                        for i in range(0, len(f.payload) - 5, 6):
                            k, v = struct.unpack(">HI", f.payload[i:i + 6])
                            self.server_settings[k] = v
                        if getattr(self, "ack", False):
                            self.send(settings(ack=True))
                    return f
            if not self._fill(deadline):
                return None

    def wait_for(self, pred, timeout=5.0):
        """Reads frames until one satisfies `pred`; returns it and the frames
        before it, or (None, frames) at EOF or timeout."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            f = self.read_frame(max(deadline - time.monotonic(), 0))
            if f is None:
                return None, seen
            if pred(f):
                return f, seen
            seen.append(f)

    def wait_eof(self, timeout=5.0):
        """Reads and drops everything until the server closes; returns the
        seconds it took, or None if it did not close in time."""
        start = time.monotonic()
        deadline = start + timeout
        self.buf = b""
        while not self.eof:
            if not self._fill(deadline):
                if self.eof:
                    break
                return None
            self.buf = b""
        return time.monotonic() - start


def goaway_code(frames):
    for f in frames:
        if f.type == GOAWAY:
            return f.error_code()
    return None
