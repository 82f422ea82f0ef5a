"""Raw HTTP/2 for the attack harness: frame and HPACK builders that can say
anything (including what a well-behaved client never would) and a
non-blocking connection that counts what the server answers.

Stdlib only; `hpack` (python3-hpack) is used only to decode response
headers when an attack asks for it (Conn(decode=True)).
"""
import collections
import errno
import select
import socket
import struct
import time

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
PRIORITY_UPDATE = 0x10
FRAME_NAMES = {0: 'DATA', 1: 'HEADERS', 2: 'PRIORITY', 3: 'RST_STREAM', 4: 'SETTINGS', 5: 'PUSH_PROMISE',
               6: 'PING', 7: 'GOAWAY', 8: 'WINDOW_UPDATE', 9: 'CONTINUATION', 0x10: 'PRIORITY_UPDATE'}
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

S_HEADER_TABLE_SIZE, S_ENABLE_PUSH, S_MAX_CONCURRENT_STREAMS, S_INITIAL_WINDOW_SIZE, S_MAX_FRAME_SIZE, \
    S_MAX_HEADER_LIST_SIZE = range(1, 7)

ERRORS = {0: 'NO_ERROR', 1: 'PROTOCOL_ERROR', 2: 'INTERNAL_ERROR', 3: 'FLOW_CONTROL_ERROR',
          4: 'SETTINGS_TIMEOUT', 5: 'STREAM_CLOSED', 6: 'FRAME_SIZE_ERROR', 7: 'REFUSED_STREAM',
          8: 'CANCEL', 9: 'COMPRESSION_ERROR', 10: 'CONNECT_ERROR', 11: 'ENHANCE_YOUR_CALM',
          12: 'INADEQUATE_SECURITY', 13: 'HTTP_1_1_REQUIRED'}
CANCEL = 8

PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
HOST = '127.0.0.1'


def error_name(code):
    return ERRORS.get(code, '0x%x' % code)


# ---------------------------------------------------------------- frames

_HDR = struct.Struct('>BHBBI')


def frame(ftype, flags, sid, payload=b''):
    n = len(payload)
    return _HDR.pack(n >> 16, n & 0xffff, ftype, flags, sid & 0x7fffffff) + payload


def frame_header(ftype, flags, sid, length):
    return _HDR.pack(length >> 16, length & 0xffff, ftype, flags, sid & 0x7fffffff)


def settings(*pairs, ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0, b''.join(struct.pack('>HI', k, v) for k, v in pairs))


def ping(opaque=b'\0' * 8, ack=False):
    return frame(PING, ACK if ack else 0, 0, opaque)


def rst_stream(sid, code=CANCEL):
    return frame(RST_STREAM, 0, sid, struct.pack('>I', code))


def window_update(sid, inc):
    return frame(WINDOW_UPDATE, 0, sid, struct.pack('>I', inc & 0x7fffffff))


def goaway(last, code, debug=b''):
    return frame(GOAWAY, 0, 0, struct.pack('>II', last, code) + debug)


def priority(sid, dep, weight=16, exclusive=False):
    return frame(PRIORITY, 0, sid, struct.pack('>IB', (dep & 0x7fffffff) | (0x80000000 if exclusive else 0),
                                               (weight - 1) & 0xff))


def headers(sid, block, end_stream=True, end_headers=True):
    return frame(HEADERS, (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0), sid, block)


def continuation(sid, block, end_headers=True):
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, sid, block)


def data(sid, payload=b'', end_stream=False):
    return frame(DATA, END_STREAM if end_stream else 0, sid, payload)


def priority_update(prioritized, field=b'u=3'):
    return frame(PRIORITY_UPDATE, 0, 0, struct.pack('>I', prioritized) + field)


# ---------------------------------------------------------------- HPACK (RFC 7541), no Huffman


def hp_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7f) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hp_str(s):
    if isinstance(s, str):
        s = s.encode()
    return hp_int(len(s), 7) + s


def hp_indexed(index):
    """Indexed field (§6.1): 62 is the newest dynamic-table entry."""
    return hp_int(index, 7, 0x80)


def hp_literal(name, value, indexing='none'):
    """Literal field (§6.2); name is a static/dynamic index or bytes.
    indexing: 'inc' (incremental indexing), 'none' (without), 'never'."""
    prefix, first = {'inc': (6, 0x40), 'none': (4, 0x00), 'never': (4, 0x10)}[indexing]
    if isinstance(name, int):
        return hp_int(name, prefix, first) + hp_str(value)
    return bytes([first]) + hp_str(name) + hp_str(value)


def huffman_a(count):
    """'a' * count, Huffman-coded (RFC 7541 Appendix B: 'a' is 00011);
    count a multiple of 8, so no padding."""
    assert count % 8 == 0
    return bytes.fromhex('18c6318c63') * (count // 8)


def hp_literal_huffman_a(name, count, indexing='none'):
    """Literal field, new name, value 'a' * count Huffman-coded (what an
    ordinary encoder such as python-hpack sends)."""
    first = {'inc': 0x40, 'none': 0x00, 'never': 0x10}[indexing]
    value = huffman_a(count)
    return bytes([first]) + hp_str(name) + hp_int(len(value), 7, 0x80) + value


AUTHORITY = hp_literal(1, HOST)  # literal without indexing, name :authority


def request_block(method=b'GET', path=b'/index.html', extra=b''):
    """A request header block that needs no encoder state (static table and
    literals without indexing), so the same bytes work on every stream."""
    m = {b'GET': b'\x82', b'POST': b'\x83'}.get(method) or hp_literal(2, method)
    if path == b'/':
        p = b'\x84'
    elif path == b'/index.html':
        p = b'\x85'
    else:
        p = hp_literal(4, path)
    return m + b'\x86' + p + AUTHORITY + extra


_STATIC_STATUS = {0x88: 200, 0x89: 204, 0x8a: 206, 0x8b: 304, 0x8c: 400, 0x8d: 404, 0x8e: 500}


# ---------------------------------------------------------------- connection


class Conn:
    """One client connection to the server under attack.

    Nothing is sent from inside pump(): replies the protocol asks of us
    (SETTINGS ACK, PING ACK, WINDOW_UPDATE) queue in `ctl` and go out at the
    next send(), at the offset the caller says is outside a header block.
    """

    def __init__(self, port, *, preface=True, client_settings=(), ack_settings=True, auto_window=True,
                 decode=False, track_windows=False, connect_timeout=3.0, sock=None):
        if sock is None:
            sock = socket.create_connection((HOST, port), timeout=connect_timeout)
        self.sock = sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        sock.setblocking(False)
        self.t0 = time.monotonic()
        self.ack_settings = ack_settings
        self.auto_window = auto_window
        self.track_windows = track_windows
        self.decoder = None
        if decode:
            import hpack
            self.decoder = hpack.Decoder()
            self.decoder.max_header_list_size = 1 << 20
        self.buf = bytearray()
        self.ctl = bytearray()
        self.pending = b''
        self.closed = None          # 'eof' | 'reset' | 'error'
        self.rx_done = False        # nothing more to read (EOF or error on recv)
        self.closed_t = None
        self.blocked = False        # a send() gave up because the server did not read
        self.frames_sent = 0
        self.bytes_sent = 0
        self.bytes_recv = 0
        self.units = 0              # what the attack counts (requests, resets, frames, ...)
        self.recv_frames = collections.Counter()
        self.goaways = []
        self.rst = collections.Counter()
        self.responses = 0
        self.statuses = collections.Counter()
        self.ended = 0              # streams the server ended (END_STREAM)
        self.data_bytes = 0
        self.ping_acks = 0
        self.settings_acks = 0
        self.server_settings = {}
        self.settings_seen = False
        self.conn_window = 65535    # our send window towards the server
        self.stream_windows = {}
        self.peer_initial_window = 65535
        self.watch = {}             # sid -> dict(headers=, end=, rst=, data=) for streams we follow
        self.read_streams = set()   # streams whose data we keep replenishing
        self._unacked_conn = 0
        self._unacked_stream = collections.Counter()
        self._block_sid = None
        self._block = bytearray()
        self._block_end_stream = False
        if preface:
            self.send(PREFACE + settings(*client_settings))

    # -- state
    def alive(self):
        return self.closed is None

    def _mark_closed(self, how):
        if self.closed is None:
            self.closed = how
            self.closed_t = time.monotonic() - self.t0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- sending
    def send(self, payload, frames=0, units=0, ctl_at=0, block_timeout=3.0, read=True):
        """Send `payload` (whole frames, or the rest of a header block), queued
        control frames inserted at offset `ctl_at` (None: keep them queued,
        the payload is inside a header block). Returns False if the
        connection is closed or the server stopped reading for block_timeout
        (the unsent rest is kept and goes first next time)."""
        if self.closed:
            return False
        if self.ctl and ctl_at is not None:
            payload = payload[:ctl_at] + bytes(self.ctl) + payload[ctl_at:]
            self.ctl.clear()
        if self.pending:
            payload = self.pending + payload
            self.pending = b''
        mv = memoryview(payload)
        total = len(payload)
        sent = 0
        deadline = None
        while sent < total:
            try:
                n = self.sock.send(mv[sent:])
                sent += n
                self.bytes_sent += n
                deadline = None
            except BlockingIOError:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + block_timeout
                elif now > deadline:
                    self.blocked = True
                    self.pending = bytes(mv[sent:])
                    return False
                ev = wait_fd(self.sock, write=True, read=read, timeout=0.05)
                if ev & select.POLLIN:
                    self.pump()
                    if self.closed:
                        self.pending = bytes(mv[sent:])
                        return False
            except OSError:
                self._mark_closed('reset')
                return False
        self.blocked = False
        self.frames_sent += frames
        self.units += units
        return True

    def flush(self):
        """Send queued control frames (only call outside a header block)."""
        if self.ctl or self.pending:
            return self.send(b'')
        return True

    # -- receiving
    def pump(self, timeout=0.0, max_bytes=1 << 22):
        """Read what is there (waiting up to `timeout` for the first byte).
        Reading goes on after a failed send: a GOAWAY may be waiting."""
        if self.rx_done:
            return 0
        if timeout:
            wait_fd(self.sock, read=True, timeout=timeout)
        got = 0
        while got < max_bytes:
            try:
                chunk = self.sock.recv(262144)
            except BlockingIOError:
                break
            except OSError:
                self._mark_closed('reset')
                self.rx_done = True
                break
            if not chunk:
                self._mark_closed('eof')
                self.rx_done = True
                break
            got += len(chunk)
            self.buf += chunk
        if got:
            self.bytes_recv += got
            self._parse()
        return got

    def pump_until(self, cond, timeout):
        end = time.monotonic() + timeout
        while not cond() and not self.rx_done:
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.pump(min(left, 0.05))
        return cond()

    def drain(self, timeout=1.0, max_bytes=64 << 20):
        """Read everything for up to `timeout` (end of an attack)."""
        end = time.monotonic() + timeout
        total = 0
        while not self.rx_done and total < max_bytes:
            left = end - time.monotonic()
            if left <= 0:
                break
            n = self.pump(min(left, 0.05))
            total += n
        return total

    def _parse(self):
        buf = self.buf
        pos = 0
        n = len(buf)
        while n - pos >= 9:
            length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
            if n - pos - 9 < length:
                break
            ftype = buf[pos + 3]
            flags = buf[pos + 4]
            sid = ((buf[pos + 5] << 24) | (buf[pos + 6] << 16) | (buf[pos + 7] << 8) | buf[pos + 8]) & 0x7fffffff
            start = pos + 9
            pos = start + length
            self.recv_frames[ftype] += 1
            if ftype == DATA:
                self._on_data(sid, flags, length)
            elif ftype == HEADERS:
                payload = bytes(buf[start:pos])
                if flags & PADDED:
                    pad = payload[0]
                    payload = payload[1:len(payload) - pad]
                if flags & PRIORITY_FLAG:
                    payload = payload[5:]
                self._block_sid = sid
                self._block = bytearray(payload)
                self._block_end_stream = bool(flags & END_STREAM)
                if flags & END_HEADERS:
                    self._on_block()
            elif ftype == CONTINUATION:
                self._block += buf[start:pos]
                if flags & END_HEADERS:
                    self._on_block()
            elif ftype == RST_STREAM:
                code = int.from_bytes(buf[start:start + 4], 'big') if length >= 4 else -1
                self.rst[code] += 1
                w = self.watch.get(sid)
                if w is not None:
                    w['rst'] = code
                self.read_streams.discard(sid)
            elif ftype == SETTINGS:
                if flags & ACK:
                    self.settings_acks += 1
                else:
                    self.settings_seen = True
                    for i in range(start, pos - 5, 6):
                        k = (buf[i] << 8) | buf[i + 1]
                        v = int.from_bytes(buf[i + 2:i + 6], 'big')
                        if k == S_INITIAL_WINDOW_SIZE and self.track_windows:
                            delta = v - self.peer_initial_window
                            for s in self.stream_windows:
                                self.stream_windows[s] += delta
                            self.peer_initial_window = v
                        self.server_settings[k] = v
                    if self.ack_settings:
                        self.ctl += settings(ack=True)
            elif ftype == PING:
                if flags & ACK:
                    self.ping_acks += 1
                else:
                    self.ctl += ping(bytes(buf[start:pos]), ack=True)
            elif ftype == GOAWAY:
                last = int.from_bytes(buf[start:start + 4], 'big') & 0x7fffffff
                code = int.from_bytes(buf[start + 4:start + 8], 'big')
                debug = bytes(buf[start + 8:pos])[:200].decode('utf-8', 'replace')
                self.goaways.append({'t': round(time.monotonic() - self.t0, 3), 'code': code,
                                     'error': error_name(code), 'last_stream_id': last, 'debug': debug,
                                     'units': self.units, 'frames_sent': self.frames_sent,
                                     'bytes_sent': self.bytes_sent, 'ping_acks': self.ping_acks,
                                     'settings_acks': self.settings_acks, 'responses': self.responses,
                                     'rst_recv': sum(self.rst.values())})
            elif ftype == WINDOW_UPDATE:
                if self.track_windows and length >= 4:
                    inc = int.from_bytes(buf[start:start + 4], 'big') & 0x7fffffff
                    if sid == 0:
                        self.conn_window += inc
                    elif sid in self.stream_windows:
                        self.stream_windows[sid] += inc
        if pos:
            del buf[:pos]

    def _on_data(self, sid, flags, length):
        self.data_bytes += length
        w = self.watch.get(sid)
        if w is not None:
            w['data'] += length
            if flags & END_STREAM:
                w['end'] = True
        if flags & END_STREAM:
            self.ended += 1
            self.read_streams.discard(sid)
        if self.auto_window and length:
            self._unacked_conn += length
            if self._unacked_conn >= 1 << 15:
                self.ctl += window_update(0, self._unacked_conn)
                self._unacked_conn = 0
            if sid in self.read_streams:
                self._unacked_stream[sid] += length
                if self._unacked_stream[sid] >= 1 << 14:
                    self.ctl += window_update(sid, self._unacked_stream.pop(sid))

    def _on_block(self):
        sid = self._block_sid
        block = bytes(self._block)
        self._block = bytearray()
        self.responses += 1
        status = None
        if self.decoder is not None:
            try:
                for k, v in self.decoder.decode(block, raw=True):
                    if k == b':status':
                        status = int(v)
                        break
            except Exception:  # noqa: BLE001 - a response we cannot decode is still counted
                status = 'undecodable'
        elif block and block[0] in _STATIC_STATUS:
            status = _STATIC_STATUS[block[0]]
        if status is not None:
            self.statuses[status] += 1
        w = self.watch.get(sid)
        if w is not None:
            w['headers'] = True
            if status is not None:
                w['status'] = status
            if self._block_end_stream:
                w['end'] = True
        if self._block_end_stream:
            self.ended += 1
            self.read_streams.discard(sid)

    def finished(self):
        """Streams the server is done with: ended or reset by it."""
        return self.ended + sum(self.rst.values())

    def follow(self, sid, read=False):
        self.watch[sid] = {'headers': False, 'end': False, 'rst': None, 'data': 0, 'status': None}
        if read:
            self.read_streams.add(sid)
        if self.track_windows:
            self.stream_windows[sid] = self.peer_initial_window
        return self.watch[sid]

    def summary(self):
        g = self.goaways[0] if self.goaways else None
        return {
            'units': self.units, 'frames_sent': self.frames_sent, 'bytes_sent': self.bytes_sent,
            'bytes_recv': self.bytes_recv, 'goaway': g, 'goaways': len(self.goaways),
            'rst': {error_name(k): v for k, v in self.rst.items()},
            'responses': self.responses, 'statuses': {str(k): v for k, v in self.statuses.items()},
            'ended': self.ended, 'data_bytes': self.data_bytes, 'ping_acks': self.ping_acks,
            'settings_acks': self.settings_acks, 'closed': self.closed, 'closed_t': self.closed_t,
            'blocked': self.blocked,
            'recv_frames': {FRAME_NAMES.get(k, '0x%x' % k): v for k, v in self.recv_frames.items()},
        }


def wait_fd(sock, read=True, write=False, timeout=0.0, rdhup=False):
    """poll() one socket (select() cannot take descriptors over 1023)."""
    p = select.poll()
    mask = (select.POLLIN if read else 0) | (select.POLLOUT if write else 0) | (select.POLLRDHUP if rdhup else 0)
    try:
        p.register(sock, mask)
        ev = p.poll(timeout * 1000)
    except (OSError, ValueError):
        return 0
    return ev[0][1] if ev else 0


def nonblocking_connect_many(port, count, timeout=5.0):
    """Open `count` TCP connections quickly; returns (sockets, failures)."""
    socks = []
    failures = 0
    pending = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((HOST, port))
        if rc in (0, errno.EINPROGRESS):
            pending.append(s)
        else:
            failures += 1
            s.close()
    end = time.monotonic() + timeout
    byfd = {s.fileno(): s for s in pending}
    p = select.poll()
    for fd in byfd:
        p.register(fd, select.POLLOUT)
    while byfd and time.monotonic() < end:
        for fd, _ in p.poll(200):
            s = byfd.pop(fd, None)
            if s is None:
                continue
            p.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                socks.append(s)
            else:
                failures += 1
                s.close()
    for s in byfd.values():
        failures += 1
        s.close()
    return socks, failures
