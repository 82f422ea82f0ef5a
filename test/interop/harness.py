"""Harness for the interop suite against real peers (issue 5 §3).

Starts servers (the h2wire examples, nghttpd, Python and Node peers) on
127.0.0.1 at ports chosen at run time, runs clients (curl, nghttp, h2load,
h2wire-client, Chromium), and stops every process it started, on success,
failure, timeout (meson sends SIGTERM) or an exception. A missing peer fails
the check with the Debian package to install: CI installs them all, so a
skip would hide a broken setup.

Checks are collected by a Checker; a script ends with check.finish(), which
exits 1 if any expectation failed.
"""

import atexit
import hashlib
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True

# Where each peer comes from, for the message when it is missing.
PACKAGES = {
    "curl": "curl",
    "nghttp": "nghttp2-client",
    "h2load": "nghttp2-client",
    "nghttpd": "nghttp2-server",
    "openssl": "openssl",
    "node": "nodejs",
    "chromium": "chromium",
    "python3": "python3",
}

LISTENING = re.compile(r"listening on (?:\[?([0-9.:a-fA-F]+)\]?):(\d+)")

_children = []  # every process started, newest last; each leads its own process group
_tempdirs = []


def log(*args):
    print(*args, flush=True)


# ---------------------------------------------------------------------------
# Expectations


class Checker:
    """Collects failed expectations; finish() exits 1 if there were any."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.passed = 0

    def expect(self, cond, what):
        log(("ok   " if cond else "FAIL ") + what)
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
        return bool(cond)

    def equal(self, got, want, what):
        return self.expect(got == want, f"{what}: got {shorten(got)}, want {shorten(want)}")

    def finish(self):
        stop_all()
        if self.failures:
            log(f"{self.name}: {len(self.failures)} expectation(s) failed, {self.passed} met:")
            for f in self.failures:
                log("  - " + f)
            sys.exit(1)
        log(f"{self.name}: all {self.passed} expectations met")
        sys.exit(0)


def shorten(v):
    s = repr(v)
    return s if len(s) < 160 else s[:140] + f"...({len(s)} chars)"


def fail(message):
    """Ends the script at once with a clear message (missing peer, server that
    did not start)."""
    log("FAIL " + message)
    stop_all()
    sys.exit(1)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fnv1a(data):
    """FNV-1a 64 as 16 hex digits (the h2wire example server's x-body-fnv1a
    trailer)."""
    x = 0xCBF29CE484222325
    for b in data:
        x = ((x ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{x:016x}"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------
# Peers and processes


def require(name, path=None):
    """Absolute path of a peer program; fails the test when it is missing."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(name)
    if not found:
        for d in ("/usr/sbin", "/usr/bin"):  # nghttpd lives in sbin, often off PATH
            cand = os.path.join(d, name)
            if os.access(cand, os.X_OK):
                found = cand
                break
    if not found:
        pkg = PACKAGES.get(name, name)
        fail(f"{name} is not installed (Debian package {pkg}); the interop suite needs it: "
             f"apt-get install -y {pkg}")
    return found


def require_binary(path, what):
    if not path or not os.access(path, os.X_OK):
        fail(f"{what} was not built ({path!r})")
    return path


def _kill_group(proc, grace):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # also whatever it started (Chromium's helpers)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def kill_leftovers(marker):
    """Processes that escaped their process group (Chromium helpers; none
    should): any whose command line names `marker` (a profile directory)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if marker.encode() in cmd:
            log(f"killing leftover process {pid}")
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def stop_all():
    while _children:
        _kill_group(_children.pop(), grace=3)
    while _tempdirs:
        shutil.rmtree(_tempdirs.pop(), ignore_errors=True)


def _on_signal(signum, _frame):
    log(f"interrupted by signal {signum}: stopping every peer")
    stop_all()
    sys.exit(128 + signum)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def spawn(cmd, **kwargs):
    """Popen in a new process group, remembered for stop_all()."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    _children.append(proc)
    return proc


def run(cmd, timeout=60, input_bytes=None, cwd=None, env=None):
    """Runs a client to completion; returns (returncode, stdout bytes, stderr
    text). A client that outlives `timeout` is killed and reported as -9."""
    line = " ".join(_quote(c) for c in cmd)
    log("$ " + (line if len(line) < 600 else line[:400] + f" ... ({len(cmd)} arguments) ... " + line[-150:]))
    proc = spawn(cmd, stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)
    try:
        out, err = proc.communicate(input=input_bytes, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, grace=1)
        out, err = proc.communicate()
        log(f"  killed after {timeout} s")
        return -9, out, err.decode("utf-8", "replace")
    finally:
        if proc in _children:
            _children.remove(proc)
    return proc.returncode, out, err.decode("utf-8", "replace")


def _quote(s):
    s = str(s)
    if len(s) > 200:
        s = s[:60] + f"...({len(s)} chars)"
    return s if re.fullmatch(r"[\w@%+=:,./-]*", s) else "'" + s.replace("'", "'\\''") + "'"


class StartError(Exception):
    pass


class Server:
    """A server process. Its port comes either from its first stdout line
    (`listening on 127.0.0.1:PORT`, the h2wire examples with --port 0) or is
    given (peers that cannot report one); then we wait until it accepts.
    Output is drained in the background and kept for the report."""

    def __init__(self, name, cmd, port=None, ready_timeout=20, env=None, cwd=None, retryable=False):
        self.name = name
        self.cmd = cmd
        self.lines = []
        self._lock = threading.Lock()
        self._rest = b""
        log(f"starting {name}: " + " ".join(_quote(c) for c in cmd))
        self.proc = spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=env, cwd=cwd)
        try:
            self.port = port if port is not None else self._read_port(ready_timeout)
            threading.Thread(target=self._drain, daemon=True).start()
            if port is not None:
                self._wait_accepting(ready_timeout)
        except StartError as e:
            self.stop(timeout=2)
            if retryable:
                raise
            fail(str(e))
        log(f"{name} is listening on 127.0.0.1:{self.port}")

    def _read_port(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            if not sel.select(timeout=0.2):
                if self.proc.poll() is not None:
                    break
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                self.lines.append(text)
                m = LISTENING.search(text)
                if m:
                    sel.close()
                    if m.group(1) != "127.0.0.1":
                        raise StartError(f"{self.name} listens on {m.group(1)}, not 127.0.0.1")
                    self._rest = buf
                    return int(m.group(2))
        sel.close()
        self.lines.append(buf.decode("utf-8", "replace"))
        try:
            status = self.proc.wait(timeout=1)  # closed its output: it is exiting
            when = f"before it exited with status {status}"
        except subprocess.TimeoutExpired:
            when = f"within {timeout} s"
        raise StartError(f"{self.name} did not print 'listening on 127.0.0.1:PORT' {when}; "
                         f"its output: {self.lines!r}")

    def _drain(self):
        rest = self._rest
        for raw in iter(self.proc.stdout.readline, b""):
            with self._lock:
                self.lines.append((rest + raw).decode("utf-8", "replace").rstrip("\n"))
            rest = b""

    def _wait_accepting(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError(f"{self.name} exited with status {self.proc.returncode} before accepting; "
                     f"output: {self.output()!r}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise StartError(f"{self.name} did not accept on 127.0.0.1:{self.port} within {timeout} s")

    def output(self):
        with self._lock:
            return "\n".join(self.lines)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends `sig` and waits; returns the exit status (None if it had to
        be killed)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc, grace=1)
            return None
        finally:
            if self.proc in _children:
                _children.remove(self.proc)

    def url(self, path="/", scheme="http"):
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def free_port():
    """A port the kernel just handed out on 127.0.0.1, for peers that need
    one on the command line (nghttpd). Callers retry if it gets taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nghttpd(root, tls=None, extra=(), name="nghttpd"):
    """nghttpd serving `root` on 127.0.0.1 (h2c unless tls=(key, cert))."""
    exe = require("nghttpd")
    for attempt in range(5):
        port = free_port()
        cmd = [exe, "-a", "127.0.0.1", "-d", root, *extra]
        cmd += [str(port), *tls] if tls else ["--no-tls", str(port)]
        try:
            return Server(name, cmd, port=port, retryable=attempt < 4)
        except StartError as e:
            log(f"{name} did not come up on port {port} ({e}); trying another port")


# ---------------------------------------------------------------------------
# Files


def tempdir(prefix="h2wire-interop-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tempdirs.append(d)
    return d


def pattern(n, tag):
    """n deterministic octets (a cheap xorshift stream), different per tag,
    so a body that got shuffled or truncated shows up in its hash."""
    out = bytearray(n)
    x = (0x9E3779B9 * (tag + 1)) & 0xFFFFFFFF
    word = 0
    for i in range(0, n, 4):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        word = x
        out[i:i + 4] = word.to_bytes(4, "little")[:n - i]
    return bytes(out)


def big_pattern(n, tag):
    """Like pattern() but fast for tens of MiB: a 1 MiB block repeated with
    the block index stamped in, so blocks still differ."""
    block = pattern(1 << 20, tag)
    out = bytearray()
    i = 0
    while len(out) < n:
        out += i.to_bytes(8, "little") + block[8:]
        i += 1
    return bytes(out[:n])


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return sha256(data)


def make_docroot(root):
    """The directory every server under test serves. Returns {path: sha256}."""
    files = {
        "/index.html": b"<!doctype html><title>h2wire</title><p>hello from h2wire interop</p>\n",
        "/hello.txt": b"hello, world\n",
        "/empty.txt": b"",
        "/data/64k.bin": pattern(64 * 1024, 1),
        "/data/1m.bin": pattern(1 << 20, 2),
        "/style.css": b"body { font-family: sans-serif }\n",
        "/app.js": b"console.log('h2wire');\n",
    }
    return {p: write_file(os.path.join(root, p.lstrip("/")), d) for p, d in files.items()}


# ---------------------------------------------------------------------------
# TLS


def self_signed_cert(directory):
    """A fresh self-signed certificate for 127.0.0.1/localhost, made with the
    openssl command line into `directory`. Returns (key, cert) paths."""
    openssl = require("openssl")
    key = os.path.join(directory, "key.pem")
    cert = os.path.join(directory, "cert.pem")
    rc, _, err = run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                      "-nodes", "-days", "2", "-subj", "/CN=localhost",
                      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                      "-keyout", key, "-out", cert], timeout=30)
    if rc != 0:
        fail(f"openssl could not make a test certificate: {err}")
    return key, cert


# ---------------------------------------------------------------------------
# Output of the clients


def parse_h2load(text):
    """The figures of an h2load run: req/s, and the requests line."""
    out = {}
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", text)
    if m:
        out["seconds"] = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
        out["req_per_s"] = float(m.group(3))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", text)
    if m:
        for k, v in zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"), m.groups()):
            out[k] = int(v)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if m:
        out["2xx"], out["3xx"], out["4xx"], out["5xx"] = map(int, m.groups())
    return out


# ---------------------------------------------------------------------------
# The servers under test


def start_server(kind, binary, root, tls=None, name=None):
    """Starts the file server under test serving `root`.

    kind "h2wire": an h2wire example server (h2wire-server, h2wire-uv-server,
    h2wire-asio-server): `--root ROOT --port 0`, plus the certificate and key
    for TLS; it prints `listening on 127.0.0.1:PORT` first.
    kind "nghttpd": nghttpd with --echo-upload, the reference the checks are
    debugged against (it has no h2c upgrade)."""
    if kind == "nghttpd":
        return start_nghttpd(root, tls=tls, extra=["--echo-upload"], name=name or "nghttpd")
    require_binary(binary, name or "the server under test")
    cmd = [binary, "--root", root, "--port", "0"]
    if tls:
        cmd += ["--tls", "--cert", tls[1], "--key", tls[0]]
    return Server(name or os.path.basename(binary), cmd)


# ---------------------------------------------------------------------------
# h2wire-client


class ClientRun:
    """One run of h2wire-client: exit status, stdout, stderr, and the fields
    it printed per stream (`[stream] name: value` on stderr, trailers
    included, in order)."""

    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        self.fields = {}
        self.done = {}  # stream -> (status, octets)
        for line in err.splitlines():
            m = re.match(r"\[(\d+)\] done: status (\d+), (\d+) octets$", line)
            if m:
                self.done[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
                continue
            m = re.match(r"\[(\d+)\] ([^:\s][^:]*|:[a-z]+): (.*)$", line)
            if m:
                self.fields.setdefault(int(m.group(1)), []).append((m.group(2), m.group(3)))
        m = re.search(r"^(\d+) requests, (\d+) failed$", err, re.M)
        self.summary = (int(m.group(1)), int(m.group(2))) if m else None

    def field(self, stream, name):
        vals = [v for k, v in self.fields.get(stream, []) if k == name]
        return vals[-1] if vals else None

    def tail(self, n=15):
        return "\n".join(self.err.splitlines()[-n:])


def run_client(client, args, timeout=60):
    require_binary(client, "h2wire-client")
    rc, out, err = run([client, *args], timeout=timeout)
    return ClientRun(rc, out, err)


def files_in(directory):
    """{name: sha256} of the files in a directory."""
    return {n: sha256_file(os.path.join(directory, n)) for n in sorted(os.listdir(directory))}
