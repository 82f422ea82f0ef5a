"""Interop over HTTP/3 (RFC 9114) on 127.0.0.1, every peer on a port chosen
at run time, every process stopped at the end:

  ngtcp2    Debian's ngtcp2 example client (gtlsclient, HTTP/3 by nghttp3)
            fetches files from h2wire-h3-server and posts a body to /echo;
            h2wire-h3-client fetches files from Debian's ngtcp2 example
            server (gtlsserver).
  chromium  headless Chromium loads a page and its subresources from
            h2wire-h3-server, forced onto QUIC for that origin, with the test
            certificate's SPKI trusted; the page checks nextHopProtocol h3.
  self      h2wire-h3-client against h2wire-h3-server: GET, POST /echo of
            2 MB, trailers, and WebSocket over HTTP/3 (RFC 9220); with
            --h2-server, h2wire-server --h3-port serving both protocols from
            one process, its HTTP/2 responses advertising h3 (Alt-Svc).

  h3_interop_test.py [--parts ngtcp2,chromium,self] [--h2-server BIN] H3_SERVER H3_CLIENT
"""

import argparse
import base64
import hashlib
import html
import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "interop"))
import harness as h  # noqa: E402

h.PACKAGES.update({"gtlsclient": "ngtcp2-client", "gtlsserver": "ngtcp2-server"})


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_root(root):
    files = {
        "index.html": b"<h1>h2wire over HTTP/3</h1>\n",
        "small.txt": b"small file\n",
        "big.bin": os.urandom(3 * 1000 * 1000),
    }
    for name, data in files.items():
        h.write_file(os.path.join(root, name), data)
    return files


def start_h3_server(binary, root, key, cert):
    return h.Server("h2wire-h3-server", [binary, "--cert", cert, "--key", key, "--port", "0", "--root", root,
                                         "--log"])


def ngtcp2_checks(check, server_bin, client_bin, root, files, key, cert, tmp):
    client = h.require("gtlsclient")
    server = start_h3_server(server_bin, root, key, cert)
    port = str(server.port)
    down = os.path.join(tmp, "ngtcp2-download")
    os.makedirs(down)
    # Several files on one connection, at once.
    rc, out, err = h.run([client, "-q", "--exit-on-all-streams-close", "--download", down, "127.0.0.1", port,
                          f"https://localhost:{port}/index.html", f"https://localhost:{port}/small.txt",
                          f"https://localhost:{port}/big.bin"], timeout=60)
    check.equal(rc, 0, "ngtcp2 client -> h2wire-h3-server: exit status")
    for name in ("index.html", "small.txt", "big.bin"):
        got = open(os.path.join(down, name), "rb").read() if os.path.exists(os.path.join(down, name)) else None
        check.expect(got == files[name], f"ngtcp2 client -> h2wire-h3-server: {name} arrives whole "
                     f"({len(got) if got is not None else 'missing'} of {len(files[name])} octets)")
    # A POST: the body comes back from /echo.
    body = os.urandom(200 * 1000)
    upload = os.path.join(tmp, "upload.bin")
    h.write_file(upload, body)
    echo_dir = os.path.join(tmp, "ngtcp2-echo")
    os.makedirs(echo_dir)
    rc, out, err = h.run([client, "-q", "--exit-on-all-streams-close", "-m", "POST", "-d", upload, "--download",
                          echo_dir, "127.0.0.1", port, f"https://localhost:{port}/echo"], timeout=60)
    check.equal(rc, 0, "ngtcp2 client POST /echo: exit status")
    path = os.path.join(echo_dir, "echo")
    got = open(path, "rb").read() if os.path.exists(path) else b""
    check.expect(got == body, f"ngtcp2 client POST /echo: 200 KB body echoed ({len(got)} octets back)")
    check.expect(server.alive(), "h2wire-h3-server still runs after the ngtcp2 client")
    check.equal(server.stop(), 0, "h2wire-h3-server exits 0 on SIGTERM")

    # h2wire's client against ngtcp2's server.
    ng = h.require("gtlsserver")
    uport = free_udp_port()
    proc = h.spawn([ng, "-q", "-d", root, "127.0.0.1", str(uport), key, cert], stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    out_all = b""
    for name in ("index.html", "small.txt", "big.bin"):
        rc, out, err = h.run([client_bin, "--insecure", "-v", f"https://localhost:{uport}/{name}"], timeout=60)
        check.equal(rc, 0, f"h2wire-h3-client -> ngtcp2 server: {name}: exit status ({err.strip()[-300:]})")
        check.expect(out == files[name], f"h2wire-h3-client -> ngtcp2 server: {name} arrives whole "
                     f"({len(out)} of {len(files[name])} octets)")
        out_all += out
    rc, out, err = h.run([client_bin, "--insecure", f"https://localhost:{uport}/index.html",
                          f"https://localhost:{uport}/small.txt", f"https://localhost:{uport}/big.bin"], timeout=60)
    check.expect(rc == 0 and out == out_all, "h2wire-h3-client -> ngtcp2 server: three files on one connection")
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


def self_checks(check, server_bin, client_bin, root, files, key, cert, tmp):
    server = start_h3_server(server_bin, root, key, cert)
    base = f"https://localhost:{server.port}"
    rc, out, err = h.run([client_bin, "--insecure", "-v", base + "/index.html", base + "/big.bin"], timeout=60)
    check.expect(rc == 0 and out == files["index.html"] + files["big.bin"], "self: GET two files on one connection")
    check.expect(":status 200" in err, "self: status 200")
    body = os.urandom(2 * 1000 * 1000)
    upload = os.path.join(tmp, "self-upload.bin")
    h.write_file(upload, body)
    rc, out, err = h.run([client_bin, "--insecure", "--data-file", upload, base + "/echo"], timeout=60)
    check.expect(rc == 0 and out == body, f"self: POST /echo 2 MB ({len(out)} octets back)")
    rc, out, err = h.run([client_bin, "--insecure", "-v", base + "/missing"], timeout=30)
    check.expect(":status 404" in err, "self: 404")
    rc, out, err = h.run([client_bin, "--insecure", "-v", "--ws", "hello", "--ws", "over HTTP/3", base + "/ws"],
                         timeout=30)
    check.expect(rc == 0 and out == b"hello\nover HTTP/3\n",
                 f"self: WebSocket over HTTP/3 (RFC 9220) echoes two messages ({out!r}, {err.strip()[-300:]})")
    check.expect(server.alive(), "self: the server still runs")
    check.equal(server.stop(), 0, "self: the server exits 0 on SIGTERM")


def dual_checks(check, h2_server_bin, client_bin, root, files, key, cert):
    """h2wire-server --h3-port: one process serves HTTP/2 over TLS and HTTP/3,
    from the same routing, and its HTTP/2 responses name the HTTP/3 port in
    Alt-Svc (RFC 7838)."""
    server = h.Server("h2wire-server --h3-port", [h2_server_bin, "--tls", "--cert", cert, "--key", key, "--port", "0",
                                                  "--h3-port", "0", "--root", root])
    deadline = time.monotonic() + 10
    h3_port = None
    while h3_port is None and time.monotonic() < deadline:
        m = re.search(r"http/3 on udp 127\.0\.0\.1:(\d+)", server.output())
        h3_port = int(m.group(1)) if m else None
        time.sleep(0.05)
    if not check.expect(h3_port is not None, "dual: the server reports its HTTP/3 port"):
        server.stop()
        return
    curl = h.require("curl")
    rc, out, err = h.run([curl, "-sk", "--http2", "-D", "-", "-o", "/dev/null",
                          f"https://127.0.0.1:{server.port}/index.html"], timeout=30)
    check.expect(rc == 0 and f'alt-svc: h3=":{h3_port}"' in out.decode(errors="replace"),
                 f"dual: HTTP/2 response advertises h3 on {h3_port} ({out[:300]!r})")
    rc, out, err = h.run([client_bin, "--insecure", f"https://localhost:{h3_port}/index.html",
                          f"https://localhost:{h3_port}/big.bin"], timeout=60)
    check.expect(rc == 0 and out == files["index.html"] + files["big.bin"],
                 "dual: the same files over HTTP/3 from the HTTP/2 server's process")
    check.equal(server.stop(), 0, "dual: the server exits 0 on SIGTERM")


def chromium_checks(check, server_bin, root, key, cert, tmp):
    exe = h.require("chromium")
    # The page loads four subresources and reports how each came.
    names = [f"r{i}.txt" for i in range(4)]
    for i, n in enumerate(names):
        h.write_file(os.path.join(root, n), (f"resource {i}\n" * 100).encode())
    page = """<!doctype html><html><body><pre id=out></pre><script>
(async () => {
  const got = [];
  for (const n of %s) { const r = await fetch('/' + n); got.push([n, r.status, (await r.text()).length]); }
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource').map(e => e.nextHopProtocol);
  document.getElementById('out').textContent = 'RESULT' + JSON.stringify({nav: nav.nextHopProtocol, res, got}) + 'END';
})();
</script></body></html>""" % json.dumps(names)
    h.write_file(os.path.join(root, "page.html"), page.encode())
    server = start_h3_server(server_bin, root, key, cert)
    # The SPKI hash Chromium is told to trust (base64 of SHA-256 of the DER SubjectPublicKeyInfo).
    openssl = h.require("openssl")
    der = subprocess.run([openssl, "x509", "-in", cert, "-pubkey", "-noout"], capture_output=True, check=True).stdout
    spki = subprocess.run([openssl, "pkey", "-pubin", "-outform", "der"], input=der, capture_output=True,
                          check=True).stdout
    spki_hash = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    origin = f"localhost:{server.port}"
    profile = os.path.join(tmp, "chromium-profile")
    home = os.path.join(tmp, "home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
    try:
        rc, out, err = h.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              "--disable-extensions", "--enable-quic", "--origin-to-force-quic-on=" + origin,
                              "--ignore-certificate-errors-spki-list=" + spki_hash,
                              "--host-resolver-rules=MAP localhost 127.0.0.1", "--user-data-dir=" + profile,
                              "--virtual-time-budget=20000", "--dump-dom", f"https://{origin}/page.html"],
                             timeout=90, env=env)
    finally:
        h.kill_leftovers(profile)
    dom = out.decode("utf-8", "replace")
    m = re.search(r"RESULT(.*?)END", dom, re.S)
    if not check.expect(m is not None, "chromium: the page reported its results"):
        h.log("DOM: " + dom[-2000:])
        h.log("stderr: " + "\n".join(err.splitlines()[-20:]))
        h.log("server: " + server.output()[-2000:])
        server.stop()
        return
    got = json.loads(html.unescape(m.group(1)))
    check.equal(got["nav"], "h3", "chromium: the page came over h3")
    check.equal(sorted(set(got["res"])), ["h3"], "chromium: every subresource came over h3")
    check.equal(got["got"], [[n, 200, len(f"resource {i}\n") * 100] for i, n in enumerate(names)],
                "chromium: four fetches, status 200, whole bodies")
    check.expect(server.alive(), "chromium: the server still runs")
    server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("client")
    ap.add_argument("--parts", default="ngtcp2,chromium,self")
    ap.add_argument("--h2-server", help="h2wire-server built with HTTP/3 (--h3-port), for the dual part")
    opts = ap.parse_args()
    parts = opts.parts.split(",")
    check = h.Checker("h3 interop")
    server_bin = h.require_binary(opts.server, "h2wire-h3-server")
    client_bin = h.require_binary(opts.client, "h2wire-h3-client")
    tmp = h.tempdir()
    root = os.path.join(tmp, "root")
    os.makedirs(root)
    files = make_root(root)
    key, cert = h.self_signed_cert(tmp)
    if "self" in parts:
        self_checks(check, server_bin, client_bin, root, files, key, cert, tmp)
    if "self" in parts and opts.h2_server:
        dual_checks(check, h.require_binary(opts.h2_server, "h2wire-server"), client_bin, root, files, key, cert)
    if "ngtcp2" in parts:
        ngtcp2_checks(check, server_bin, client_bin, root, files, key, cert, tmp)
    if "chromium" in parts:
        chromium_checks(check, server_bin, root, key, cert, tmp)
    check.finish()


if __name__ == "__main__":
    main()
