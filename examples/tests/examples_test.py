#!/usr/bin/python3
"""h2wire-server and h2wire-client against each other, over loopback.

    examples_test.py SERVER CLIENT [--tls] [--openssl PATH] [--asio ASIO_SERVER] [--uv UV_SERVER]
                     [--only-defences]

Starts the server on 127.0.0.1 with --port 0 and a temporary root, runs the
client for each check, and stops the server (SIGTERM, graceful shutdown; it
must exit 0). With --tls a self-signed certificate is made at run time with
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout key.pem -out cert.pem
and the same checks run over TLS (ALPN h2), the client verifying that
certificate with --cacert. Every child is killed when the script ends; each
step has a generous timeout only so that a hang cannot block the suite.

Then the defences against hostile peers (defences.py: timeouts, drain after
GOAWAY, echo and file budgets, EMFILE, fairness, h2c upgrade bounds) run
against SERVER and, with --asio, against the Asio server too; with --uv
against the libuv server, which then also gets the client checks above (h2c
with prior knowledge, h2c upgrade, graceful shutdown during an upload, TLS).
"""
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import defences  # noqa: E402

TIMEOUT = 120  # seconds; a guard against hangs, never a performance check

failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail), flush=True)
    if not ok:
        failures.append(name)


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Server:
    def __init__(self, binary, root, extra=()):
        self.proc = subprocess.Popen([binary, "--root", root, "--port", "0", "--log", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise SystemExit("server did not start: %r %s" % (line, self.proc.stderr.read()))
        self.port = int(m.group(1))

    def log_line(self):
        return self.proc.stderr.readline()

    def stop(self):
        """Graceful shutdown (SIGTERM); returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def client(binary, *args):
    try:
        r = subprocess.run([binary, *args], capture_output=True, timeout=TIMEOUT)
        return r.returncode, r.stdout, r.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return None, b"", "timeout"


def run_checks(tag, client_bin, base, extra, work):
    files = os.path.join(work, "root")

    def fetch(*args):
        return client(client_bin, *extra, *args)

    rc, out, err = fetch(base + "/index.html")
    check(tag + "GET", rc == 0 and out == b"<h1>h2wire</h1>\n" and "[1] :status: 200" in err, err)

    rc, out, err = fetch("-X", "HEAD", base + "/big.bin")
    check(tag + "HEAD", rc == 0 and out == b"" and "content-length: 3000000" in err and "0 octets" in err, err)

    rc, out, err = fetch("--fail", base + "/missing.txt")
    check(tag + "404 with --fail exits 1", rc == 1 and ":status: 404" in err, err)
    rc, out, err = fetch(base + "/missing.txt")
    check(tag + "404 without --fail exits 0", rc == 0 and ":status: 404" in err, err)

    rc, out, err = fetch(base + "/../secret")
    check(tag + "path traversal refused", rc == 0 and ":status: 400" in err, err)

    dest = os.path.join(work, "big.out")
    rc, out, err = fetch("-q", "-o", dest, base + "/big.bin")
    check(tag + "GET 3 MB file", rc == 0 and sha(dest) == sha(os.path.join(files, "big.bin")), err)

    upload = os.path.join(work, "upload.bin")
    rc, out, err = fetch("-q", "--data", "@" + upload, "-o", dest, base + "/echo")
    check(tag + "POST /echo 6 MiB", rc == 0 and sha(dest) == sha(upload), err)

    rc, out, err = fetch("-H", "te: trailers", base + "/index.html?trailers=1")
    check(tag + "trailers", rc == 0 and "x-body-length: 16" in err and "x-body-fnv1a: " in err, err)

    outdir = os.path.join(work, tag.strip(": ") + "-many")
    os.makedirs(outdir, exist_ok=True)
    rc, out, err = fetch("-q", "-n", "100", "--repeat", "100", "--output-dir", outdir, base + "/page.html")
    want = sha(os.path.join(files, "page.html"))
    got = [sha(os.path.join(outdir, f)) for f in os.listdir(outdir)]
    check(tag + "100 concurrent streams", rc == 0 and len(got) == 100 and all(h == want for h in got), err)


def upgrade_checks(tag, client_bin, base, root, work):
    """h2c upgrade (RFC 7540 §3.2): the first request goes as HTTP/1.1."""
    rc, out, err = client(client_bin, "--upgrade", base + "/index.html", base + "/page.html")
    check(tag + "upgrade: GET as stream 1, then stream 3",
          rc == 0 and "[1] :status: 200" in err and "[3] :status: 200" in err, err)
    dest = os.path.join(work, tag.strip(": ") + "upgrade-big.out")
    rc, out, err = client(client_bin, "-q", "--upgrade", "-o", dest, base + "/big.bin")
    check(tag + "upgrade: 3 MB file as stream 1", rc == 0 and sha(dest) == sha(os.path.join(root, "big.bin")), err)
    rc, out, err = client(client_bin, "--upgrade", "-X", "HEAD", base + "/big.bin")
    check(tag + "upgrade: HEAD as stream 1", rc == 0 and "content-length: 3000000" in err and "0 octets" in err, err)
    small = os.path.join(work, "small.bin")
    with open(small, "wb") as f:
        f.write(os.urandom(100000))
    dest = os.path.join(work, "small.out")
    rc, out, err = client(client_bin, "-q", "--upgrade", "--data", "@" + small, "-o", dest, base + "/echo")
    check(tag + "upgrade: POST /echo with a body", rc == 0 and sha(dest) == sha(small), err)


def graceful_shutdown(tag, srv, client_bin, base, work):
    """SIGTERM while an upload is being echoed: the stream finishes, then the
    server exits 0."""
    big = os.path.join(work, "upload.bin")
    dest = os.path.join(work, "shutdown.out")
    proc = subprocess.Popen([client_bin, "-q", "--data", "@" + big, "-o", dest, base + "/echo?shutdown"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while "POST /echo?shutdown" not in srv.log_line():
            pass
        status = srv.stop()
        rc = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    check(tag + "graceful shutdown: open stream completes, server exits 0",
          rc == 0 and status == 0 and sha(dest) == sha(big),
          "client %s server %s: %s" % (rc, status, proc.stderr.read().decode(errors="replace")))


def tls_checks(tag, server_bin, client_bin, root, cert, key, work, servers):
    tsrv = Server(server_bin, root, ["--tls", "--cert", cert, "--key", key])
    servers.append(tsrv)
    tbase = "https://localhost:%d" % tsrv.port
    run_checks(tag + "tls: ", client_bin, tbase, ["--cacert", cert], work)
    rc, out, err = client(client_bin, tbase + "/index.html")
    check(tag + "tls: unknown certificate refused without --cacert", rc == 1, err)
    check(tag + "tls: server exits 0 on SIGTERM", tsrv.stop() == 0)


def client_checks(tag, server_bin, client_bin, root, work, servers, tls_files):
    """h2wire-client against one server: h2c with prior knowledge, h2c
    upgrade, graceful shutdown, then TLS (with `tls_files`, a (certificate,
    key) pair) on a second server."""
    srv = Server(server_bin, root)
    servers.append(srv)
    base = "http://127.0.0.1:%d" % srv.port
    run_checks(tag + "h2c: ", client_bin, base, [], work)
    upgrade_checks(tag, client_bin, base, root, work)
    graceful_shutdown(tag, srv, client_bin, base, work)
    if tls_files:
        tls_checks(tag, server_bin, client_bin, root, *tls_files, work, servers)


def file_cache_checks(tag, server_bin, client_bin, work, servers):
    """The file cache (server/file_cache.hpp): a file that changes is served
    as it is now once the entry is revalidated (--file-cache-ttl), whether it
    is rewritten in place, replaced by rename, grows past --file-cache-file
    or goes away."""
    root = os.path.join(work, "cache-root")
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, "f.txt")

    def put(content):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(content)
        os.replace(tmp, path)

    put(b"first version\n")
    srv = Server(server_bin, root, ["--file-cache-ttl", "200ms", "--file-cache-file", "64K"])
    servers.append(srv)
    url = "http://127.0.0.1:%d/f.txt" % srv.port

    def get():
        rc, out, err = client(client_bin, url)
        return out if rc == 0 and ":status: 200" in err else None

    ok = get() == b"first version\n" and get() == b"first version\n"
    check(tag + "file cache: served (and served again from the cache)", ok)
    with open(path, "r+b") as f:  # rewritten in place, same size
        f.write(b"FIRST")
    time.sleep(0.4)
    check(tag + "file cache: rewritten in place: new content after the ttl", get() == b"FIRST version\n")
    put(b"second, by rename\n")
    time.sleep(0.4)
    check(tag + "file cache: replaced by rename: new content after the ttl", get() == b"second, by rename\n")
    big = os.urandom(200000)
    put(big)
    time.sleep(0.4)
    check(tag + "file cache: grown past --file-cache-file: served from the file", get() == big)
    put(b"small again\n")
    time.sleep(0.4)
    check(tag + "file cache: small again", get() == b"small again\n")
    os.unlink(path)
    time.sleep(0.4)
    rc, out, err = client(client_bin, url)
    check(tag + "file cache: removed: 404 after the ttl", rc == 0 and ":status: 404" in err, err)
    check(tag + "file cache: server exits 0 on SIGTERM", srv.stop() == 0)

    # --file-cache-ttl 0: every hit is checked, so a change shows at once.
    put(b"one\n")
    srv = Server(server_bin, root, ["--file-cache-ttl", "0"])
    servers.append(srv)
    url = "http://127.0.0.1:%d/f.txt" % srv.port
    first = get()
    put(b"two\n")
    check(tag + "file cache: --file-cache-ttl 0: a change shows at once", first == b"one\n" and get() == b"two\n")
    srv.stop()


def variant_checks(tag, server_bin, client_bin, root, work, servers, flags):
    """The client checks against a server started with `flags` (--threads 2:
    two loops on one port; --poll: the poll() loop; --file-cache 0;
    --write-max 1000: short writes)."""
    srv = Server(server_bin, root, flags)
    servers.append(srv)
    run_checks(tag, client_bin, "http://127.0.0.1:%d" % srv.port, [], work)
    # Several connections at once, spread by the kernel over the loops.
    procs = [subprocess.Popen([client_bin, "-q", "-n", "10", "--repeat", "5",
                               "http://127.0.0.1:%d/page.html" % srv.port], stderr=subprocess.PIPE)
             for _ in range(8)]
    rcs = [p.wait(timeout=TIMEOUT) for p in procs]
    check(tag + "8 clients at once", all(rc == 0 for rc in rcs), str(rcs))
    check(tag + "server exits 0 on SIGTERM", srv.stop() == 0)


def alt_svc_checks(server_bin, client_bin, root, servers):
    """--alt-svc: every response names the HTTP/3 server (RFC 7838 §3)."""
    srv = Server(server_bin, root, ["--alt-svc", 'h3=":4433"; ma=60'])
    servers.append(srv)
    base = "http://127.0.0.1:%d" % srv.port
    for path in ("/index.html", "/missing.txt", "/echo"):
        rc, out, err = client(client_bin, base + path)
        check("alt-svc on " + path, rc == 0 and 'alt-svc: h3=":4433"; ma=60' in err, err)
    check("alt-svc: server exits 0 on SIGTERM", srv.stop() == 0)


def main():
    args = sys.argv[1:]
    server_bin, client_bin = args[0], args[1]
    tls = "--tls" in args
    openssl = args[args.index("--openssl") + 1] if "--openssl" in args else "openssl"
    asio = args[args.index("--asio") + 1] if "--asio" in args else None
    uv = args[args.index("--uv") + 1] if "--uv" in args else None
    only_defences = "--only-defences" in args

    with tempfile.TemporaryDirectory(prefix="h2wire-examples-") as work:
        root = os.path.join(work, "root")
        os.makedirs(root)
        with open(os.path.join(root, "index.html"), "wb") as f:
            f.write(b"<h1>h2wire</h1>\n")
        with open(os.path.join(root, "page.html"), "wb") as f:
            f.write(b"".join(b"line %d of a page\n" % i for i in range(2000)))
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(os.urandom(3000000))
        with open(os.path.join(work, "secret"), "wb") as f:
            f.write(b"outside the root\n")
        with open(os.path.join(work, "upload.bin"), "wb") as f:
            f.write(os.urandom(6 * 1024 * 1024))

        servers = []
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        if tls:
            subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                            "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=TIMEOUT)
        try:
            tls_files = (cert, key) if tls else None
            defences.run_all(check, server_bin, "poll", root, tls_files)
            if asio:
                defences.run_all(check, asio, "asio", root, tls_files)
            if uv:
                defences.run_all(check, uv, "uv", root, tls_files)
            if only_defences:
                raise StopIteration
            client_checks("", server_bin, client_bin, root, work, servers, tls_files)
            variant_checks("threads 2: ", server_bin, client_bin, root, work, servers, ["--threads", "2"])
            variant_checks("poll: ", server_bin, client_bin, root, work, servers, ["--poll"])
            variant_checks("no file cache: ", server_bin, client_bin, root, work, servers, ["--file-cache", "0"])
            # Every writev cut short in the middle of a piece (frame header,
            # borrowed file chunk, held file).
            variant_checks("write-max 1000: ", server_bin, client_bin, root, work, servers, ["--write-max", "1000"])
            file_cache_checks("", server_bin, client_bin, work, servers)
            alt_svc_checks(server_bin, client_bin, root, servers)
            if asio:
                variant_checks("asio threads 2: ", asio, client_bin, root, work, servers, ["--threads", "2"])
                variant_checks("asio write-max 1000: ", asio, client_bin, root, work, servers, ["--write-max", "1000"])
            if uv:
                client_checks("uv ", uv, client_bin, root, work, servers, tls_files)
        except StopIteration:
            pass
        finally:
            for s in servers:
                s.kill()

    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
