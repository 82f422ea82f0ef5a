#!/usr/bin/python3
"""Interop under load: h2load (nghttp2-client) against the h2wire servers and
nghttpd, in the same run, on the same directory and the same machine.

  h2load_test.py [--asio ASIO_SERVER] [--uv UV_SERVER] [--kind h2wire|nghttpd] SERVER

Each target gets the same load, 100,000 requests from 10 clients with 100
concurrent streams each, for a small file, three times, taking turns with
the others; it must answer all of them every time:
0 failed, 0 errored, 0 timeouts, every status 2xx, and exactly 100,000 bodies'
worth of DATA. The median req/s of each and its ratio to nghttpd's are
printed (`h2load ratio h2wire/nghttpd: X`); the ratio is reported, never
asserted, as the machine is shared.
"""

import argparse
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

REQUESTS = 100_000
CLIENTS = 10
STREAMS = 100
ROUNDS = 3


def load(check, exe, label, server, path, size):
    rc, out, err = h.run([exe, "-n", str(REQUESTS), "-c", str(CLIENTS), "-m", str(STREAMS), server.url(path)],
                         timeout=120)
    text = out.decode("utf-8", "replace")
    fig = h.parse_h2load(text)
    if rc != 0 or "req_per_s" not in fig:
        h.log(text + err)
    check.equal(rc, 0, f"{label}: h2load exit status")
    check.equal(fig.get("succeeded"), REQUESTS, f"{label}: requests succeeded")
    check.equal((fig.get("failed"), fig.get("errored"), fig.get("timeout")), (0, 0, 0),
                f"{label}: failed, errored, timeout")
    check.equal(fig.get("2xx"), REQUESTS, f"{label}: 2xx responses")
    m = re.search(r"\((\d+)\) data", text)
    check.equal(int(m.group(1)) if m else None, REQUESTS * size, f"{label}: DATA octets received")
    check.expect(server.alive(), f"{label}: the server is still running")
    rate = fig.get("req_per_s", 0.0)
    h.log(f"h2load {label}: {rate:.0f} req/s ({REQUESTS} requests, {CLIENTS} clients x {STREAMS} streams)")
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server", nargs="?")
    ap.add_argument("--asio", help="h2wire-asio-server, loaded the same way")
    ap.add_argument("--uv", help="h2wire-uv-server, loaded the same way")
    ap.add_argument("--kind", default="h2wire")
    opts = ap.parse_args()

    check = h.Checker("h2load")
    # meson test sets MALLOC_PERTURB_, which makes glibc fill every block
    # malloc hands out: a cost per allocation that nghttpd, caching its
    # files, mostly avoids. The servers are measured without it.
    os.environ.pop("MALLOC_PERTURB_", None)
    exe = h.require("h2load")
    h.require("nghttpd")
    root = h.tempdir()
    h.make_docroot(root)
    path = "/index.html"
    size = os.path.getsize(os.path.join(root, "index.html"))

    # All servers run at once and take turns, round after round, so a busy
    # moment on the (shared) machine hits them alike; the median of each is
    # compared.
    targets = [("h2wire", lambda: h.start_server(opts.kind, opts.server, root, name="h2wire-server"))]
    if opts.asio:
        targets.append(("h2wire-asio", lambda: h.start_server("h2wire", opts.asio, root, name="h2wire-asio-server")))
    if opts.uv:
        targets.append(("h2wire-uv", lambda: h.start_server("h2wire", opts.uv, root, name="h2wire-uv-server")))
    targets.append(("nghttpd", lambda: h.start_nghttpd(root)))
    servers = {label: start() for label, start in targets}
    rates = {label: [] for label in servers}
    for rnd in range(ROUNDS):
        for label, server in servers.items():
            rates[label].append(load(check, exe, f"{label} round {rnd + 1}", server, path, size))
    for label, server in servers.items():
        status = server.stop()
        if label != "nghttpd":
            check.equal(status, 0, f"{label}: exit status after SIGTERM (graceful shutdown)")

    median = {label: sorted(r)[len(r) // 2] for label, r in rates.items()}
    for label, r in rates.items():
        h.log(f"h2load {label}: median {median[label]:.0f} req/s, best {max(r):.0f} "
              f"(rounds: {', '.join(f'{x:.0f}' for x in r)})")
    ref = median["nghttpd"]
    for label in rates:
        if label != "nghttpd":
            h.log(f"h2load ratio {label}/nghttpd: {median[label] / ref:.2f}" if ref else
                  f"h2load ratio {label}/nghttpd: n/a")
    check.finish()


if __name__ == "__main__":
    main()
