#!/usr/bin/python3
"""Interop: RFC 9218 priorities, served by an h2wire example server to real
clients (issue 16 §7). The server runs with --log, which prints a line per
response as its stream closes: its urgency and incremental flag, and its
place in the order the connection's responses finished. The checks read
both what the client saw and those lines.

  priority_test.py [--kind h2wire|nghttpd] [--parts python,nghttp,chromium] SERVER

With --kind nghttpd the python and nghttp checks run against nghttpd
--no-rfc7540-pri (nghttp2's RFC 9218 scheduler), the reference they are
debugged against; it has no such log, so the checks of the log are left out.

python   Python h2 (python3-h2) as a client whose connection window admits
         65,535 octets at a time (it gives back, with one WINDOW_UPDATE, only
         the DATA that arrived; its stream windows are 2^31-1, so only the
         connection window limits):
         - six GETs at once in the reverse of their urgency (u=7, two of
           u=5 incremental, one with no priority (u=3), u=1, u=0, each by
           the `priority` header): they must end in urgency order, with no
           DATA of a less urgent response before the last octet of a more
           urgent one, and the two incremental ones interleaved;
         - PRIORITY_UPDATE (RFC 9218 §7.1), which Python h2 cannot send, so
           the frames are written by hand: one for a stream not yet opened
           (its HEADERS follow; it must be served first), and one in the
           middle of a body (the response that had started drops to u=7:
           the other one of its old urgency must overtake it).
nghttp    nghttp --no-rfc7540-pri with -W 16 (a 65,535-octet connection
         window) and one `-H priority: ...` for all of its four URIs (nghttp
         1.52 has no per-URI priority): with `u=0` the responses go one
         after another in stream order (the DATA frames of each in one run),
         with `u=2, i` they interleave.
chromium headless Chromium loads a page (the document, two style sheets
         and a script in its head, eight images) over TLS. Chromium 156
         sends u=0 for the document and the style sheets, u=1 for the
         script, u=2 or u=3 for images (all incremental but the style sheets
         and the script; as the server logged them). Its windows are large,
         so the order shows only among responses the server had at the same
         time: of those, the more urgent one, requested first, must finish
         first.
"""

import argparse
import html
import json
import os
import re
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
    from h2.settings import SettingCodes
except ImportError:
    h.fail("Python h2 is not installed for /usr/bin/python3 (Debian package python3-h2)")

DONE = re.compile(r"^stream (\d+) done: (\S+) u=(\d) i=([01]) \(#(\d+) on c(\d+), (\w+)\)$")
REQUEST = re.compile(r"^stream (\d+) (\w+) (\S+) -> (\d+)$")
WINDOW = 65535
BODY = 192 * 1024  # three windows each


def start(binary, root, tls=None):
    """The server under test with --log (its stderr goes to the harness's
    log of its output)."""
    h.require_binary(binary, "the server under test")
    cmd = [binary, "--root", root, "--port", "0", "--log"]
    if tls:
        cmd += ["--tls", "--cert", tls[1], "--key", tls[0]]
    return h.Server(os.path.basename(binary), cmd)


def log_lines(server, timeout=5, want=None):
    """The server's --log lines so far: [("request", stream, method, path) or
    ("done", stream, path, urgency, incremental, order, connection, code)];
    waits up to `timeout` until `want(lines)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        out = []
        for line in server.output().splitlines():
            m = DONE.match(line)
            if m:
                out.append(("done", int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)),
                            int(m.group(5)), int(m.group(6)), m.group(7)))
                continue
            m = REQUEST.match(line)
            if m:
                out.append(("request", int(m.group(1)), m.group(2), m.group(3)))
        if want is None or want(out) or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def dones(lines, connection=None):
    """The "done" lines as {path: (urgency, incremental, order, connection)}."""
    return {d[2]: (d[3], d[4], d[5], d[6]) for d in lines
            if d[0] == "done" and (connection is None or d[6] == connection)}


# ---------------------------------------------------------------------------
# Python h2 with a narrow connection window


def priority_update(stream, value):
    """A PRIORITY_UPDATE frame (RFC 9218 §7.1: type 0x10, on stream 0)."""
    payload = struct.pack(">I", stream) + value.encode()
    return struct.pack(">I", len(payload))[1:] + bytes([0x10, 0]) + struct.pack(">I", 0) + payload


class WindowedClient:
    """Python h2 over a socket; the connection window gets back exactly the
    DATA octets that arrived, so at most 65,535 are in flight."""

    def __init__(self, port):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(cfg)
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values={
            SettingCodes.MAX_CONCURRENT_STREAMS: 100,
            SettingCodes.ENABLE_PUSH: 0,
            SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1,
            9: 1,  # SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218 §2.1)
        })
        self.conn.initiate_connection()
        self.out = self.conn.data_to_send()
        self.raw = b""  # frames written by hand, sent before h2's next output
        self.paths = {}
        self.status = {}
        self.body = {}
        self.timeline = []  # (stream, octets) per DATA frame, in arrival order
        self.ended = []  # streams in the order their END_STREAM arrived
        self.errors = []

    def request(self, path, priority=None, update_first=None):
        """GET `path`, with a `priority` header if given; `update_first`: a
        PRIORITY_UPDATE for the stream just before its HEADERS."""
        sid = self.conn.get_next_available_stream_id()
        if update_first:
            self.out += self.conn.data_to_send() + priority_update(sid, update_first)
        fields = [(":method", "GET"), (":scheme", "http"), (":authority", f"127.0.0.1:{self.port}"),
                  (":path", path)]
        if priority:
            fields.append(("priority", priority))
        self.conn.send_headers(sid, fields, end_stream=True)
        self.out += self.conn.data_to_send()
        self.paths[sid] = path
        self.body[sid] = bytearray()
        return sid

    def run(self, on_data=None, timeout=30):
        """Until every stream ended (or failed); `on_data(client, stream)`
        after each DATA frame may queue frames in self.raw."""
        self.sock.sendall(self.out)
        self.out = b""
        deadline = time.monotonic() + timeout
        while len(self.ended) < len(self.paths) and not self.errors:
            if time.monotonic() > deadline:
                self.errors.append(f"timed out after {timeout} s with {len(self.ended)} of {len(self.paths)} ended")
                break
            try:
                data = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            if not data:
                self.errors.append("the server closed the connection")
                break
            got = 0
            for ev in self.conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    self.status[ev.stream_id] = dict(ev.headers).get(":status")
                elif isinstance(ev, h2.events.DataReceived):
                    got += ev.flow_controlled_length
                    self.body[ev.stream_id] += ev.data
                    self.timeline.append((ev.stream_id, len(ev.data)))
                    if on_data:
                        on_data(self, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    self.ended.append(ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset):
                    self.errors.append(f"stream {ev.stream_id} reset ({ev.error_code})")
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self.errors.append(f"GOAWAY ({ev.error_code})")
            if got:
                self.conn.increment_flow_control_window(got)
            out = self.raw + self.conn.data_to_send()
            self.raw = b""
            if out:
                self.sock.sendall(out)

    def close(self):
        self.conn.close_connection()
        try:
            self.sock.sendall(self.conn.data_to_send())
        except OSError:
            pass
        self.sock.close()


def overtaken_octets(timeline, urgency):
    """DATA octets of a less urgent stream that arrived before the last
    octet of a more urgent one."""
    last = {}
    for i, (sid, _) in enumerate(timeline):
        last[sid] = i
    bad = 0
    for i, (sid, n) in enumerate(timeline):
        if any(urgency[o] < urgency[sid] and last[o] > i for o in last):
            bad += n
    return bad


def first_complete(timeline, streams, size):
    """Index in the timeline of the frame that completed the first of
    `streams` (bodies of `size` octets), or None."""
    total = dict.fromkeys(streams, 0)
    for i, (sid, n) in enumerate(timeline):
        if sid in total:
            total[sid] += n
            if total[sid] == size:
                return i
    return None


def python_urgencies(check, server, files, logs):
    c = WindowedClient(server.port)
    plan = [("/prio/u7.bin", "u=7", 7), ("/prio/u5a.bin", "u=5, i", 5), ("/prio/u5b.bin", "u=5, i", 5),
            ("/prio/u3.bin", None, 3), ("/prio/u1.bin", "u=1", 1), ("/prio/u0.bin", "u=0", 0)]
    sids = {c.request(path, prio): (path, u) for path, prio, u in plan}
    c.run()
    c.close()
    for e in c.errors:
        check.expect(False, "python h2 (urgencies): " + e)
    check.equal({c.paths[s]: (c.status.get(s), h.sha256(bytes(c.body[s]))) for s in sids},
                {p: ("200", files[p]) for p, _, _ in plan}, "python h2 (urgencies): every response 200 and whole")
    urgency = {s: u for s, (_, u) in sids.items()}
    got = [c.paths[s] for s in c.ended]
    ended_urgencies = [urgency[s] for s in c.ended]
    check.expect(len(got) == len(plan) and ended_urgencies == sorted(ended_urgencies),
                 f"python h2 (urgencies): responses ended in urgency order (u=0 first, u=7 last): {got}")
    check.equal(overtaken_octets(c.timeline, urgency), 0,
                "python h2 (urgencies): DATA octets of a less urgent response before a more urgent one ended")
    u5 = {s for s, u in urgency.items() if u == 5}
    first = first_complete(c.timeline, u5, BODY)
    seen = {s for s, _ in c.timeline[:first + 1] if s in u5} if first is not None else set()
    check.equal(seen == u5, True,
                "python h2 (urgencies): the two incremental u=5 responses interleaved (both sent before either ended)")
    if not logs:
        return
    lines = log_lines(server, want=lambda ls: len(dones(ls)) >= len(plan))
    logged = dones(lines)
    check.equal({p: logged.get(p, (None, None))[:2] for p, _, _ in plan},
                {"/prio/u7.bin": (7, 0), "/prio/u5a.bin": (5, 1), "/prio/u5b.bin": (5, 1), "/prio/u3.bin": (3, 0),
                 "/prio/u1.bin": (1, 0), "/prio/u0.bin": (0, 0)},
                "server log (urgencies): each response's urgency and incremental flag, from its priority header")
    order = [p for p, _ in sorted(((p, logged[p][2]) for p, _, _ in plan if p in logged), key=lambda x: x[1])]
    check.equal(order, got, "server log (urgencies): responses finished in the order the client saw them end")


def python_updates(check, server, files, logs):
    if not logs:
        h.log("nghttpd 1.52 ignores PRIORITY_UPDATE (seen here): the PRIORITY_UPDATE checks are h2wire's only")
        return
    c = WindowedClient(server.port)
    s1 = c.request("/prio/b1.bin")
    s3 = c.request("/prio/b3.bin")
    s5 = c.request("/prio/b5.bin", update_first="u=1")
    sent = {}

    def on_data(client, sid):
        # In the middle of b1's body (it went first of the two at u=3), it
        # drops to u=7: b3 must overtake it.
        if sid == s1 and "at" not in sent:
            sent["at"] = len(client.timeline)
            client.raw += priority_update(s1, "u=7")

    c.run(on_data=on_data)
    c.close()
    for e in c.errors:
        check.expect(False, "python h2 (PRIORITY_UPDATE): " + e)
    check.equal({c.paths[s]: (c.status.get(s), h.sha256(bytes(c.body[s]))) for s in (s1, s3, s5)},
                {p: ("200", files[p]) for p in ("/prio/b1.bin", "/prio/b3.bin", "/prio/b5.bin")},
                "python h2 (PRIORITY_UPDATE): every response 200 and whole")
    check.equal([c.paths[s] for s in c.ended], ["/prio/b5.bin", "/prio/b3.bin", "/prio/b1.bin"],
                "python h2 (PRIORITY_UPDATE): b5 first (u=1 by an update before its HEADERS), "
                "then b3 (u=3), then b1 (u=3, then u=7 in the middle of its body)")
    if "at" in sent and s3 in c.ended:
        end3 = max(i for i, (s, _) in enumerate(c.timeline) if s == s3)
        late = sum(n for s, n in c.timeline[sent["at"]:end3] if s == s1)
        check.expect(late <= WINDOW, f"python h2 (PRIORITY_UPDATE): b1 octets after the update and before b3 ended: "
                     f"{late}, at most the {WINDOW} in flight")
    else:
        check.expect(False, "python h2 (PRIORITY_UPDATE): b1 started and b3 ended")
    lines = log_lines(server, want=lambda ls: all(p in dones(ls) for p in ("/prio/b1.bin", "/prio/b3.bin",
                                                                          "/prio/b5.bin")))
    logged = dones(lines)
    check.equal({p: logged.get(p, (None, None))[:2] for p in ("/prio/b1.bin", "/prio/b3.bin", "/prio/b5.bin")},
                {"/prio/b1.bin": (7, 0), "/prio/b3.bin": (3, 0), "/prio/b5.bin": (1, 0)},
                "server log (PRIORITY_UPDATE): b1 u=7 (updated), b3 u=3 (default), b5 u=1 (update before the request)")


# ---------------------------------------------------------------------------
# nghttp


DATA_FRAME = re.compile(r"recv DATA frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>")


def nghttp_runs(check, exe, server, priority, paths):
    """One nghttp run; returns the stream ids of its DATA frames, one per run
    of frames of the same stream, and the server's lines for the run."""
    before = {d for d in log_lines(server) if d[0] == "done"}
    rc, out, err = h.run([exe, "--no-rfc7540-pri", "-W", "16", "-w", "30", "-n", "-v", "-H", "priority: " + priority,
                          *[server.url(p) for p in paths]], timeout=60)
    check.equal(rc, 0, f"nghttp -H 'priority: {priority}': exit status" + (f" ({err.strip()[-300:]})" if rc else ""))
    runs = []
    for m in DATA_FRAME.finditer(out.decode("latin-1")):
        sid = int(m.group(3))
        if int(m.group(1)) > 0 and (not runs or runs[-1] != sid):
            runs.append(sid)
    lines = log_lines(server, want=lambda ls: len({d for d in ls if d[0] == "done"} - before) >= len(paths))
    return runs, [d for d in lines if d[0] == "done" and d not in before]


def nghttp_part(check, server, logs):
    exe = h.require("nghttp")
    paths = [f"/prio/n{i}.bin" for i in range(4)]
    runs, done = nghttp_runs(check, exe, server, "u=0", paths)
    check.expect(len(runs) == len(paths) and runs == sorted(runs),
                 f"nghttp 'u=0' (not incremental): each response's DATA in one run, in stream order: {runs}")
    if logs:
        check.equal(sorted((d[2], d[3], d[4]) for d in done), [(p, 0, 0) for p in paths],
                    "nghttp 'u=0': the server logged u=0 i=0 for each")
    runs, done = nghttp_runs(check, exe, server, "u=2, i", paths)
    check.expect(len(runs) > len(paths), f"nghttp 'u=2, i' (incremental): the responses interleaved "
                 f"({len(runs)} runs of DATA frames for {len(paths)} streams)")
    if logs:
        check.equal(sorted((d[2], d[3], d[4]) for d in done), [(p, 2, 1) for p in paths],
                    "nghttp 'u=2, i': the server logged u=2 i=1 for each")

# ---------------------------------------------------------------------------
# Chromium


PAGE_PATHS = (["/page/index.html", "/page/s0.css", "/page/s1.css", "/page/j0.js"]
              + [f"/page/i{i}.svg" for i in range(8)] + ["/page/f-high.bin"] + [f"/page/f-low{i}.bin" for i in range(3)])


def make_page(root):
    """The page: the document (Chromium: u=0, incremental), two style sheets
    of 200 KiB and a script of 150 KiB in its head (u=0; u=1), eight SVG
    images of 40 KiB in its body (u=2 or u=3, incremental), and at its end a
    script that fetches, in one go, 300 KiB with priority 'high' (u=1,
    incremental) and then three of 50 KiB with priority 'low' (u=3,
    incremental). The less urgent responses are the smaller: a server that
    shares its output out evenly finishes them before the more urgent ones
    it had at the same time."""
    head, body = [], []
    for i in range(2):
        css = f"#c{i} {{ width: {11 + i}px }}\n/*" + "c" * (200 * 1024) + "*/\n"
        h.write_file(os.path.join(root, f"page/s{i}.css"), css.encode())
        head.append(f'<link rel="stylesheet" href="/page/s{i}.css">')
        body.append(f'<div id="c{i}"></div>')
    js = "window.mark = 'script ran';\n//" + "j" * (150 * 1024) + "\n"
    h.write_file(os.path.join(root, "page/j0.js"), js.encode())
    head.append('<script src="/page/j0.js"></script>')
    for i in range(8):
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{10 + i}" height="5"><!--' + "i" * (40 * 1024)
               + f'--><rect width="{10 + i}" height="5"/></svg>\n')
        h.write_file(os.path.join(root, f"page/i{i}.svg"), svg.encode())
        body.append(f'<img src="/page/i{i}.svg" alt="">')
    h.write_file(os.path.join(root, "page/f-high.bin"), h.pattern(300 * 1024, 80))
    for i in range(3):
        h.write_file(os.path.join(root, f"page/f-low{i}.bin"), h.pattern(50 * 1024, 81 + i))
    script = """
const fetched = [fetch('/page/f-high.bin', {priority: 'high'})];
for (let i = 0; i < 3; i++) fetched.push(fetch('/page/f-low' + i + '.bin', {priority: 'low'}));
const sizes = Promise.all(fetched).then(rs => Promise.all(rs.map(r => r.arrayBuffer())))
    .then(bs => bs.map(b => b.byteLength), e => String(e));
window.addEventListener('load', async () => {
  document.getElementById('out').textContent = 'RESULT' + JSON.stringify({mark: window.mark,
      css: [0, 1].map(i => getComputedStyle(document.getElementById('c' + i)).width),
      img: Array.from(document.images, x => x.naturalWidth), fetched: await sizes}) + 'END';
});
"""
    page = ("<!doctype html>\n<html><head><meta charset=utf-8><title>priorities</title><link rel=icon href='data:,'>\n"
            + "\n".join(head) + "\n</head><body>\n" + "\n".join(body) + "\n<pre id=out></pre><script>" + script
            + "</script>\n<!--" + "d" * (100 * 1024) + "-->\n</body></html>\n")
    h.write_file(os.path.join(root, "page/index.html"), page.encode())



def load_page(exe, binary, root, tls, tmp, attempt):
    """One page load by Chromium from a fresh server: (the page's report,
    the server's log lines, whether it was still running)."""
    server = start(binary, root, tls=tls)
    profile = os.path.join(tmp, f"chromium-profile-{attempt}")
    home = os.path.join(tmp, f"home-{attempt}")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
    try:
        rc, out, err = h.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              "--disable-extensions", "--ignore-certificate-errors", "--user-data-dir=" + profile,
                              "--virtual-time-budget=30000", "--dump-dom", server.url("/page/index.html", "https")],
                             timeout=90, env=env)
    finally:
        h.kill_leftovers(profile)
    m = re.search(r"RESULT(.*?)END", out.decode("utf-8", "replace"), re.S)
    report = json.loads(html.unescape(m.group(1))) if rc == 0 and m else None
    if report is None:
        h.log(f"chromium: exit status {rc}; stderr: " + "\n".join(err.splitlines()[-10:]))
    lines = log_lines(server, want=lambda ls: all(p in dones(ls) for p in PAGE_PATHS))
    alive = server.alive()
    server.stop()
    return report, lines, alive


def ordered_pairs(lines, urgencies):
    """Pairs of responses the server had at the same time (both requested
    before either finished), of different urgencies, the more urgent one
    requested first: how many, and those where the less urgent one finished
    first."""
    events = [(d[0], d[3] if d[0] == "request" else d[2]) for d in lines if d[0] in ("request", "done")]
    h.log("chromium: the server's log, in order: " + ", ".join(f"{k} {p.rsplit('/', 1)[-1]}" for k, p in events))
    requested = {p: events.index(("request", p)) for p in urgencies if ("request", p) in events}
    finished = {p: events.index(("done", p)) for p in urgencies}
    pairs, wrong = 0, []
    for a in requested:
        for b in requested:
            if urgencies[a] < urgencies[b] and requested[a] < requested[b] < min(finished[a], finished[b]):
                pairs += 1
                if finished[a] > finished[b]:
                    wrong.append(f"{b} (u={urgencies[b]}) before {a} (u={urgencies[a]})")
    return pairs, wrong


def chromium_part(check, binary):
    exe = h.require("chromium")
    root = h.tempdir()
    tmp = h.tempdir()
    make_page(root)
    tls = h.self_signed_cert(tmp)
    # Chromium's windows are large (15 MB for the connection), so what the
    # server has it writes at once, and the kernel takes it (its send buffer
    # holds megabytes on loopback): the order shows only among responses the
    # server had at the same time, as they go out in the order the
    # scheduler builds their frames. Of those, the more urgent one requested
    # first (the other then cannot have gone out before it came) must
    # finish first. How many such pairs a load has depends on when Chromium
    # sends its requests; a load with none is tried again, at most 3 times.
    for attempt in range(3):
        report, lines, alive = load_page(exe, binary, root, tls, tmp, attempt)
        logged = dones(lines)
        urgencies = {p: logged[p][0] for p in PAGE_PATHS if p in logged}
        pairs, wrong = ordered_pairs(lines, urgencies)
        if pairs > 0 or wrong or report is None:
            break
        h.log(f"chromium: load {attempt + 1} gave the server no two responses to compare; again")
    check.equal(report, {"mark": "script ran", "css": ["11px", "12px"], "img": [10 + i for i in range(8)],
                         "fetched": [300 * 1024, 50 * 1024, 50 * 1024, 50 * 1024]},
                "chromium: the page loaded (style sheets applied, script ran, images decoded, fetches whole)")
    check.expect(alive, "chromium: the server was still running")
    check.equal(sorted(p for p in PAGE_PATHS if p not in logged), [], "chromium: the server logged every response")
    h.log("chromium: priorities as the server logged them: "
          + ", ".join(f"{p} u={logged[p][0]}{' i' if logged[p][1] else ''}" for p in PAGE_PATHS if p in logged))
    check.equal({p: logged[p][:2] for p in ("/page/index.html", "/page/s0.css", "/page/s1.css", "/page/j0.js",
                                            "/page/f-high.bin", "/page/f-low0.bin") if p in logged},
                {"/page/index.html": (0, 1), "/page/s0.css": (0, 0), "/page/s1.css": (0, 0), "/page/j0.js": (1, 0),
                 "/page/f-high.bin": (1, 1), "/page/f-low0.bin": (3, 1)},
                "chromium: the priorities it sends (document u=0 i, style sheets u=0, script u=1, fetch 'high' "
                "u=1 i, fetch 'low' u=3 i)")
    check.expect(all(urgencies.get(p, 0) > 1 for p in PAGE_PATHS if p.endswith(".svg")),
                 "chromium: the images less urgent than the script (u=2 or u=3)")
    check.expect(pairs >= 1, f"chromium: {pairs} pairs of responses of different urgencies the server had at once, "
                 "the more urgent requested first")
    check.equal(wrong, [], "chromium: of those, the less urgent ones that finished first")


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server", nargs="?")
    ap.add_argument("--kind", default="h2wire")
    ap.add_argument("--parts", default="python,nghttp,chromium")
    opts = ap.parse_args()
    parts = set(opts.parts.split(","))

    check = h.Checker("priorities")
    root = h.tempdir()
    files = {}
    names = ["u7", "u5a", "u5b", "u3", "u1", "u0", "b1", "b3", "b5"] + [f"n{i}" for i in range(4)]
    for i, name in enumerate(names):
        path = f"/prio/{name}.bin"
        files[path] = h.write_file(os.path.join(root, path.lstrip("/")), h.pattern(BODY, 60 + i))
    if "python" in parts or "nghttp" in parts:
        logs = opts.kind == "h2wire"
        if logs:
            server = start(opts.server, root)
        else:
            server = h.start_nghttpd(root, extra=["--no-rfc7540-pri"])
        if "python" in parts:
            python_urgencies(check, server, files, logs)
            python_updates(check, server, files, logs)
        if "nghttp" in parts:
            nghttp_part(check, server, logs)
        check.expect(server.alive(), "the server is still running")
        if logs:
            check.equal(server.stop(), 0, "the server's exit status after SIGTERM")
    if "chromium" in parts and opts.kind == "h2wire":
        chromium_part(check, opts.server)
    check.finish()


if __name__ == "__main__":
    main()
