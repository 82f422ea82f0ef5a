#!/usr/bin/python3
"""HTTP/2 file servers side by side over loopback: h2wire's example servers,
nghttpd, h2o and nginx (whichever are installed), cleartext h2c with prior
knowledge (RFC 9113 §3.3).

    compare.py [--quick] [--rounds N] [--build DIR] [--server NAME=BINARY ...]
               [--only NAME,NAME] [--threads N] [--skip-idle] [--skip-memory]

Each server runs pinned to one core (taskset -c 0), the load generator and
the helper clients on the other (taskset -c 1). All servers run at once
(idle but for the one measured) and the runs are interleaved (small on A B
C, 1 MiB on A B C, then the next round), so that noise from other work on
the machine spreads evenly; the table shows medians.
Measured per server:

  small    h2load -c 10 -m 100 -D 2s on a 16-byte file: req/s and the
           server's CPU-seconds (user + system, from /proc/PID/task/*/schedstat,
           all threads and child processes) per 100k requests;
  1MiB     the same on a 1 MiB file (-c 10 -m 10 -n 3000);
  idle     the small-file run again while K idle HTTP/2 connections (preface
           and SETTINGS exchanged, then silent) are held open: CPU per
           request relative to an idle-free run just before;
  memory   on a fresh instance: RSS per idle connection (1,000 of them);
  burst    RSS per connection after 100 connections each sent 100 concurrent
           GETs (responses complete, connections still open, no trim);
  stalled  RSS per stream for 1,000 GETs of the 1 MiB file on connections
           whose SETTINGS_INITIAL_WINDOW_SIZE is 0 (RFC 9113 §6.9.2): the
           response HEADERS went out, no DATA can.

Everything binds 127.0.0.1 with ports picked at run time; every process
started is killed at exit. With --threads N (N > 1) the h2wire servers and
the others run N workers, pinned to cores 0..N-1, the load generator
unpinned (the machine may not have a spare core: read the numbers as such).
The memory tests and helper clients use only the standard library.
"""
import argparse
import atexit
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
children = []


def cleanup():
    for p in children:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()


atexit.register(cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def raise_fd_limit():
    """RLIMIT_NOFILE as high as allowed (a container may cap the hard limit)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def spawn(cmd, cpus=None, **kw):
    if cpus is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus] + cmd

    def pre():
        os.setsid()
        raise_fd_limit()

    p = subprocess.Popen(cmd, preexec_fn=pre, **kw)
    children.append(p)
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tree(pid):
    """pid and its descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def cpu_seconds(pid):
    """CPU time of the process tree, user and system: the first field of
    /proc/PID/task/TID/schedstat (nanoseconds on a CPU) of every thread, far
    finer than the clock ticks of /proc/PID/stat."""
    total = 0
    for p in tree(pid):
        try:
            for tid in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/schedstat" % (p, tid)) as f:
                    total += int(f.read().split()[0])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def rss_kib(pid):
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                m = re.search(r"VmRSS:\s+(\d+)", f.read())
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total


# ---- servers ---------------------------------------------------------------


def nginx_conf(port, root, work, threads):
    return """daemon off; master_process off; worker_processes %d; error_log %s/nginx.err;
pid %s/nginx.pid; worker_rlimit_nofile 19000;
events { worker_connections 30000; }
http { access_log off; client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;
  uwsgi_temp_path %s; scgi_temp_path %s; keepalive_timeout 600s; keepalive_requests 100000000;
  http2_max_concurrent_streams 128;
  server { listen 127.0.0.1:%d http2; root %s; } }
""" % ((threads, work, work) + (work,) * 5 + (port, root))


def h2o_conf(port, root, work, threads):
    return """listen: {host: 127.0.0.1, port: %d}
num-threads: %d
max-connections: 30000
http2-idle-timeout: 600
error-log: %s/h2o.err
hosts:
  default:
    paths:
      /: {file.dir: %s}
""" % (port, threads, work, root)


def server_command(name, binary, port, root, work, threads):
    binary, *more = binary.split()  # --server "NAME=BINARY ARG ..." (h2wire servers: extra flags)
    if name.startswith("h2wire"):
        extra = ["--threads", str(threads)] if threads > 1 else []
        if name.endswith("-poll"):
            extra += ["--poll"]
        return [binary, "--root", root, "--port", str(port), "--max-connections", "30000"] + extra + more
    if name == "nghttpd":
        return [binary, "--no-tls", "-n", str(threads), "-d", root, "--address=127.0.0.1", str(port)]
    if name == "h2o":
        path = os.path.join(work, "h2o.conf")
        with open(path, "w") as f:
            f.write(h2o_conf(port, root, work, threads))
        return [binary, "-c", path]
    if name == "nginx":
        path = os.path.join(work, "nginx.conf")
        with open(path, "w") as f:
            f.write(nginx_conf(port, root, work, threads))
        return [binary, "-c", path, "-p", work]
    raise SystemExit("unknown server " + name)


class Server:
    def __init__(self, name, binary, root, work, threads):
        self.name = name
        self.port = free_port()
        cpus = ",".join(str(i) for i in range(threads))
        cmd = server_command(name, binary, self.port, root, work, threads)
        self.proc = spawn(cmd, cpus=cpus, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                time.sleep(0.1)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise SystemExit("%s did not start: %s" % (name, " ".join(cmd)))

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def rss(self):
        return rss_kib(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


H2LOAD_THREADS = 1


def h2load(port, path, amount, streams, clients=10, cpus="1"):
    """One h2load run: `amount` requests (an int) or seconds (a float, -D).
    Returns (req/s, requests that succeeded) or None."""
    size = ["-n", str(amount)] if isinstance(amount, int) else ["-D", "%dms" % (amount * 1000)]
    cmd = ["h2load", "-c", str(clients), "-m", str(streams), "-t", str(H2LOAD_THREADS)] + size + [
        "http://127.0.0.1:%d%s" % (port, path)]
    p = spawn(cmd, cpus=cpus, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        return None
    m = re.search(r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded", out)
    r = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", out)
    # With -D, requests still in flight when the time is up do not count;
    # anything else that did not succeed is a failure.
    ok = m and r and int(m.group(2)) > 0 and (int(m.group(2)) == amount if isinstance(amount, int) else
                                                int(m.group(2)) >= 0.98 * int(m.group(1)))
    if not ok:
        print("  h2load failed: %s" % " | ".join(l for l in out.splitlines() if re.match(r"(requests|status|finished)", l)),
              file=sys.stderr)
        return None
    return float(r.group(3)), int(m.group(2))


def load_run(srv, path, amount, streams, cpus):
    """(req/s, server CPU-seconds per 100k requests) or None."""
    before = srv.cpu()
    x = h2load(srv.port, path, amount, streams, cpus=cpus)
    if x is None:
        return None
    return x[0], (srv.cpu() - before) * 100000 / x[1]


# ---- raw HTTP/2 helpers (RFC 9113 §4.1 frames, RFC 7541 literals) -------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def get_block(path):
    # :method GET (static 2), :scheme http (6), :path literal with name 4,
    # :authority literal with name 1 (RFC 7541 §6.1, §6.2.2).
    p, a = path.encode(), b"127.0.0.1"
    return b"\x82\x86\x04" + bytes([len(p)]) + p + b"\x01" + bytes([len(a)]) + a


class Conns:
    """Many HTTP/2 connections driven from one thread with a selector."""

    def __init__(self, port, count, window=None):
        self.sel = selectors.DefaultSelector()
        self.socks = []
        entries = struct.pack(">HI", 4, window) if window is not None else b""
        hello = PREFACE + frame(4, 0, 0, entries)
        for i in range(count):
            s = socket.socket()
            s.setsockopt(socket.SOL_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT: ports per 4-tuple
            s.bind(("127.0.%d.%d" % (1 + i // 250, 1 + i % 250), 0))
            s.connect(("127.0.0.1", port))
            s.sendall(hello)
            s.setblocking(False)
            self.socks.append(s)
            self.sel.register(s, selectors.EVENT_READ, {"buf": b"", "acked": False, "headers": 0, "ended": 0})
        self.pump(lambda st: st["acked"], 20)

    def pump(self, done, timeout):
        """Reads and parses frames until done(state) holds for every
        connection (or timeout); ACKs the server's SETTINGS."""
        deadline = time.monotonic() + timeout
        pending = set(self.socks)
        while pending and time.monotonic() < deadline:
            for key, _ in self.sel.select(0.5):
                s, st = key.fileobj, key.data
                try:
                    got = s.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError:
                    got = b""
                if not got:
                    self.sel.unregister(s)
                    pending.discard(s)
                    continue
                buf = st["buf"] + got
                while len(buf) >= 9:
                    length = int.from_bytes(buf[:3], "big")
                    if len(buf) < 9 + length:
                        break
                    ftype, flags = buf[3], buf[4]
                    if ftype == 4 and not flags & 1 and not st["acked"]:
                        s.sendall(frame(4, 1, 0))
                        st["acked"] = True
                    if ftype == 1:
                        st["headers"] += 1
                    if ftype in (0, 1) and flags & 1:
                        st["ended"] += 1
                    buf = buf[9 + length:]
                st["buf"] = buf
            pending = {s for s in pending if not done(self.sel.get_key(s).data)}
        return not pending

    def request_all(self, path, per_conn):
        block = get_block(path)
        for s in self.socks:
            s.setblocking(True)
            s.sendall(b"".join(frame(1, 0x5, 1 + 2 * i, block) for i in range(per_conn)))
            s.setblocking(False)

    def close(self):
        for s in self.socks:
            s.close()


def idle_holder(port, count):
    """Subprocess mode: hold `count` idle connections until stdin closes."""
    raise_fd_limit()
    c = Conns(port, count)
    print("ready", flush=True)
    sys.stdin.read()
    c.close()


class IdleHolder:
    def __init__(self, port, count):
        self.proc = spawn([sys.executable, os.path.abspath(__file__), "--hold-idle", str(port), str(count)],
                          cpus="1", stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("idle holder failed")

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# ---- the measurements ----------------------------------------------------------


def fmt(x, spec="%.0f"):
    return "-" if x is None else spec % x


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one round, 1-second runs, 1k idle only (under a minute)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "..", "build-rel"),
                    help="meson build with -Dexamples=enabled (release)")
    ap.add_argument("--server", action="append", default=[], help="NAME=BINARY: add or override a server; for h2wire* names, "
                    "\"NAME=BINARY FLAG ...\" adds flags")
    ap.add_argument("--only", help="comma-separated server names")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each load run (default 2)")
    ap.add_argument("--idle", type=int, default=10000, help="idle connections for the idle test")
    ap.add_argument("--skip-idle", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--hold-idle", nargs=2, type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.hold_idle:
        return idle_holder(*a.hold_idle)
    if not shutil.which("h2load"):
        raise SystemExit("needs h2load (Debian nghttp2-client)")

    servers = {}
    ex = os.path.join(os.path.abspath(a.build), "examples")  # the servers start in a scratch directory
    for name, path in (("h2wire", os.path.join(ex, "h2wire-server")),
                       ("h2wire-poll", os.path.join(ex, "h2wire-server")),
                       ("h2wire-asio", os.path.join(ex, "h2wire-asio-server"))):
        if os.access(path, os.X_OK):
            servers[name] = path
    for name, prog in (("nghttpd", "nghttpd"), ("h2o", "h2o"), ("nginx", "nginx")):
        path = shutil.which(prog) or (os.path.exists("/usr/sbin/" + prog) and "/usr/sbin/" + prog)
        if path:
            servers[name] = path
    for spec in a.server:
        name, _, path = spec.partition("=")
        servers[name] = path
    if a.only:
        servers = {k: v for k, v in servers.items() if k in a.only.split(",")}
    rounds = 1 if a.quick else a.rounds
    # Small files: timed runs (h2load -D), so every server gets the same
    # time; the requests in flight when it ends (at most 1,000 of several
    # 100,000) are not counted. 1 MiB files: a count of requests, all of them
    # complete, so no CPU goes to responses cut off at the end.
    small_n = 1.0 if a.quick else a.seconds
    big_n = 1000 if a.quick else 3000
    idle_counts = [1000] if a.quick else [1000, a.idle]
    raise_fd_limit()
    load_cpus = "1" if a.threads == 1 else None
    global H2LOAD_THREADS
    H2LOAD_THREADS = a.threads

    work = tempfile.mkdtemp(prefix="h2-compare-")
    os.chmod(work, 0o755)  # h2o started as root serves as "nobody"
    atexit.register(shutil.rmtree, work, True)
    root = os.path.join(work, "root")
    os.makedirs(root)
    with open(os.path.join(root, "small.txt"), "wb") as f:
        f.write(b"0123456789abcde\n")
    with open(os.path.join(root, "big.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    started = time.monotonic()
    res = {name: {} for name in servers}

    def add(name, key, value):
        res[name].setdefault(key, []).append(value)

    def workdir(name):
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        return d

    print("servers: %s; %d round(s); threads %d" % (", ".join(servers), rounds, a.threads), flush=True)
    # Every server runs for the whole session (idle, they cost nothing), so
    # that each measurement can be interleaved run by run: small on A, B,
    # C, then 1 MiB on A, B, C, ... Other work on the machine then hits
    # every server alike.
    running = {}
    try:
        for name, binary in servers.items():
            running[name] = Server(name, binary, root, workdir(name), a.threads)
            load_run(running[name], "/small.txt", 20000, 100, load_cpus)  # warm up
        for r in range(rounds):
            for key, path, n, m in (("small", "/small.txt", small_n, 100), ("big", "/big.bin", big_n, 10)):
                for name, srv in running.items():
                    x = load_run(srv, path, n, m, load_cpus)
                    if x:
                        add(name, key + "_rps", x[0])
                        add(name, key + "_cpu", x[1])
                        print("  round %d %-12s %-5s %8.0f req/s %7.3f cpu-s/100k  (%.0fs)" % (
                            r + 1, name, key, x[0], x[1], time.monotonic() - started), flush=True)
            if a.skip_idle:
                continue
            # The small-file run with idle connections open, right after an
            # idle-free one on the same server: the ratio of the two is what
            # the idle connections cost.
            for name, srv in running.items():
                base_run = load_run(srv, "/small.txt", small_n, 100, load_cpus)
                for k in idle_counts:
                    holder = IdleHolder(srv.port, k)
                    try:
                        x = load_run(srv, "/small.txt", small_n, 100, load_cpus)
                        if x and base_run:
                            add(name, "idle%d_ratio" % k, x[1] / base_run[1])
                            print("  round %d %-12s %5dk idle: %+.0f%% cpu per request  (%.0fs)" % (
                                r + 1, name, k // 1000, 100 * (x[1] / base_run[1] - 1), time.monotonic() - started),
                                flush=True)
                    finally:
                        holder.stop()
    finally:
        for srv in running.values():
            srv.stop()

    def idle_rss(srv):
        holder = IdleHolder(srv.port, 1000)
        try:
            return srv.rss(), 1000
        finally:
            holder.stop()

    def burst_rss(srv):
        c = Conns(srv.port, 100)
        try:
            c.request_all("/small.txt", 100)
            ok = c.pump(lambda st: st["ended"] >= 100, 30)
            time.sleep(0.2)
            return (srv.rss(), 100) if ok else None
        finally:
            c.close()

    def stalled_rss(srv):
        c = Conns(srv.port, 10, window=0)  # their idle cost is not counted
        try:
            base = srv.rss()
            c.request_all("/big.bin", 100)
            ok = c.pump(lambda st: st["headers"] >= 100, 30)
            time.sleep(0.2)
            return (srv.rss() - base + srv.base, 1000) if ok else None
        finally:
            c.close()

    if not a.skip_memory:
        # Each on a fresh instance, warmed by a short load run: memory freed
        # by one test would otherwise be reused by the next and hide its cost.
        for key, test in (("idle_rss", idle_rss), ("burst_rss", burst_rss), ("stalled_rss", stalled_rss)):
            for name, binary in servers.items():
                srv = Server(name, binary, root, workdir(name), 1)
                try:
                    load_run(srv, "/small.txt", 10000, 100, load_cpus)
                    srv.base = srv.rss()
                    x = test(srv)
                    if x:
                        add(name, key, (x[0] - srv.base) * 1024 / x[1])
                finally:
                    srv.stop()

    print()
    cols = ["small req/s", "cpu/100k", "1MiB req/s", "cpu/100k", "B/idle conn", "burst B/conn", "stalled B/strm"]
    for k in ([] if a.skip_idle else idle_counts):
        cols += ["%dk idle cpu" % (k // 1000)]
    print("%-18s" % "server" + "".join("%15s" % c for c in cols))
    for name in servers:
        d = res[name]
        row = [fmt(median(d.get("small_rps", []))), fmt(median(d.get("small_cpu", [])), "%.3f"),
               fmt(median(d.get("big_rps", []))), fmt(median(d.get("big_cpu", [])), "%.1f"),
               fmt(median(d.get("idle_rss", []))), fmt(median(d.get("burst_rss", []))),
               fmt(median(d.get("stalled_rss", [])))]
        for k in ([] if a.skip_idle else idle_counts):
            ratio = median(d.get("idle%d_ratio" % k, []))
            row += [("%+.0f%%" % (100 * (ratio - 1))) if ratio else "-"]
        print("%-18s" % name + "".join("%15s" % c for c in row))
    print("\ncpu/100k: server CPU-seconds (user+sys) per 100,000 requests; idle cpu: change of the small-file cpu/100k"
          "\nwith the idle connections open; B/...: RSS growth in octets. %.0f s in all." % (
              time.monotonic() - started))


if __name__ == "__main__":
    main()
