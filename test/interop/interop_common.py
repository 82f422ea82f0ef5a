"""Shared pieces of the h2wire <-> Python h2 interop scripts.

The body and header patterns match those of h2wire_peer.cpp, so each side
can check what the other sent without shipping the data around.
"""

import select
import socket
import struct
import sys
import time

try:
    import h2.config  # noqa: F401
    import h2.connection  # noqa: F401
    import h2.events  # noqa: F401
    import h2.exceptions  # noqa: F401
except ImportError:  # pragma: no cover
    print("python3-h2 is not installed: skipping")
    sys.exit(77)

DEADLINE_SECONDS = 90

FRAME_NAMES = {
    0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS",
    5: "PUSH_PROMISE", 6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE",
    9: "CONTINUATION",
}


def make_body(n, tag):
    """Octet i is (i*7 + i//256 + tag*13) mod 256, as in h2wire_peer.cpp."""
    return bytes((i * 7 + (i >> 8) + tag * 13) & 0xFF for i in range(n))


def make_value(n, tag):
    """Lowercase letters, as in h2wire_peer.cpp."""
    return "".join(chr(ord("a") + (i * 7 + i // 3 + tag) % 26) for i in range(n))


class FrameLog:
    """Splits one direction of the byte stream into frames, independently of
    h2, so the scripts can see what went over the wire (CONTINUATIONs,
    WINDOW_UPDATEs, GOAWAY fields)."""

    def __init__(self, skip_preface):
        self.buf = b""
        self.skip = 24 if skip_preface else 0
        self.frames = []  # (type, flags, stream, payload)

    def feed(self, data):
        if self.skip:
            n = min(self.skip, len(data))
            self.skip -= n
            data = data[n:]
        self.buf += data
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[0:3], "big")
            if len(self.buf) < 9 + length:
                break
            ftype, flags = self.buf[3], self.buf[4]
            stream = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
            self.frames.append((ftype, flags, stream, self.buf[9:9 + length]))
            self.buf = self.buf[9 + length:]

    def count(self, ftype, stream=None):
        return sum(1 for f in self.frames if f[0] == ftype and (stream is None or f[2] == stream))

    def of_type(self, ftype):
        return [f for f in self.frames if f[0] == ftype]

    def max_length(self, ftype):
        return max((len(f[3]) for f in self.frames if f[0] == ftype), default=0)

    def goaways(self):
        """(last_stream_id, error_code, debug) of every GOAWAY."""
        out = []
        for f in self.of_type(7):
            last = struct.unpack(">I", f[3][0:4])[0] & 0x7FFFFFFF
            code = struct.unpack(">I", f[3][4:8])[0]
            out.append((last, code, f[3][8:]))
        return out


class Checker:
    """Collects failed expectations; exits 1 at the end if any."""

    def __init__(self):
        self.failures = []

    def expect(self, cond, what):
        status = "ok  " if cond else "FAIL"
        print(f"{status} {what}")
        if not cond:
            self.failures.append(what)

    def equal(self, got, want, what):
        self.expect(got == want, f"{what}: got {shorten(got)!s}, want {shorten(want)!s}")

    def finish(self):
        if self.failures:
            print(f"{len(self.failures)} expectation(s) failed")
            sys.exit(1)
        print("all expectations met")
        sys.exit(0)


def shorten(v):
    s = repr(v)
    return s if len(s) < 120 else s[:100] + f"...({len(s)} chars)"


def send_all(sock, data, log=None):
    if log is not None:
        log.feed(data)
    if data:
        sock.sendall(data)


def wait_readable(sock, seconds):
    r, _, _ = select.select([sock], [], [], seconds)
    return bool(r)


def driver_results(proc, timeout=30):
    """Waits for h2wire-peer and returns its RESULT lines as a list of dicts
    (with 'name' for the first word), plus stderr text."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except Exception:
        proc.kill()
        out, err = proc.communicate()
    results = []
    for line in out.splitlines():
        if not line.startswith("RESULT "):
            continue
        words = line.split()[1:]
        entry = {}
        if words and "=" not in words[0]:
            entry["name"] = words[0]
            words = words[1:]
        for w in words:
            k, _, v = w.partition("=")
            entry[k] = v
        results.append(entry)
    return results, err, proc.returncode


def deadline_passed(start):
    return time.monotonic() - start > DEADLINE_SECONDS


def listen_localhost():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    s.settimeout(30)
    return s
