#!/usr/bin/python3
"""Interop: headless Chromium loads a page with 20 subresources from an h2wire
server over TLS (ALPN h2; a self-signed certificate made for this run).

  chromium_test.py [--kind h2wire|nghttpd] SERVER

The page pulls 4 stylesheets, 4 scripts, 4 SVG images and 8 binary files
(1 KiB to 1 MiB, by fetch(), hashed in the page with SubtleCrypto), then
writes what it saw into the DOM: the resource timing entries (name,
nextHopProtocol, responseStatus), each stylesheet's effect, each script's
mark, each image's width and each file's SHA-256. Chromium runs with
--dump-dom, and the check reads that JSON back: every resource arrived
intact, and the page and all 20 resources came over "h2".
"""

import argparse
import html
import json
import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

CSS, JS, IMG = 4, 4, 4
DATA_SIZES = [1024, 4096, 16384, 65536, 100_000, 262_144, 500_000, 1 << 20]

PAGE_SCRIPT = """
async function report() {
  const out = {css: [], js: window.marks || [], img: [], data: {}};
  for (let i = 0; i < %(css)d; i++)
    out.css.push(getComputedStyle(document.getElementById('c' + i)).width);
  for (const img of document.images) out.img.push([img.getAttribute('src'), img.naturalWidth]);
  const hex = b => Array.from(new Uint8Array(b), x => x.toString(16).padStart(2, '0')).join('');
  await Promise.all(%(data)s.map(async name => {
    try {
      const r = await fetch(name);
      const body = await r.arrayBuffer();
      out.data[name] = [r.status, body.byteLength, hex(await crypto.subtle.digest('SHA-256', body))];
    } catch (e) { out.data[name] = ['error', String(e)]; }
  }));
  out.nav = performance.getEntriesByType('navigation').map(e => [e.name, e.nextHopProtocol, e.responseStatus]);
  out.resources = performance.getEntriesByType('resource')
      .map(e => [e.name, e.nextHopProtocol, e.responseStatus, e.encodedBodySize]);
  document.getElementById('out').textContent = 'RESULT' + JSON.stringify(out) + 'END';
}
window.addEventListener('load', () => { report(); });
"""


def make_site(root):
    """Writes the page and its 20 subresources; returns what the page must
    report: (css widths, js marks, image widths, {data path: (size, sha)})."""
    head, body = [], []
    css_widths, js_marks, img_widths, data = [], [], [], {}
    for i in range(CSS):
        h.write_file(os.path.join(root, f"r/s{i}.css"), f"#c{i} {{ width: {17 + i}px }}\n".encode())
        head.append(f'<link rel="stylesheet" href="/r/s{i}.css">')
        body.append(f'<div id="c{i}"></div>')
        css_widths.append(f"{17 + i}px")
    for i in range(JS):
        mark = f"script {i} " + h.sha256(f"js{i}".encode())[:16]
        h.write_file(os.path.join(root, f"r/j{i}.js"), f"(window.marks = window.marks || []).push({mark!r});\n".encode())
        head.append(f'<script src="/r/j{i}.js"></script>')
        js_marks.append(mark)
    for i in range(IMG):
        w = 10 + 3 * i
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="5">'
               f'<rect width="{w}" height="5" fill="#{i * 40:02x}8040"/></svg>\n')
        h.write_file(os.path.join(root, f"r/i{i}.svg"), svg.encode())
        body.append(f'<img src="/r/i{i}.svg" alt="">')
        img_widths.append([f"/r/i{i}.svg", w])
    for i, n in enumerate(DATA_SIZES):
        name = f"/r/d{i}.bin"
        data[name] = [200, n, h.write_file(os.path.join(root, name.lstrip("/")), h.pattern(n, 40 + i))]
    script = PAGE_SCRIPT % {"css": CSS, "data": json.dumps(list(data))}
    page = ("<!doctype html>\n<html><head><meta charset=utf-8><title>h2wire interop</title><link rel=icon href='data:,'>\n" + "\n".join(head)
            + "\n</head><body>\n" + "\n".join(body) + '\n<pre id="out">pending</pre>\n<script>' + script
            + "</script>\n</body></html>\n")
    h.write_file(os.path.join(root, "index.html"), page.encode())
    return css_widths, js_marks, img_widths, data



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server", nargs="?")
    ap.add_argument("--kind", default="h2wire")
    opts = ap.parse_args()

    check = h.Checker("chromium")
    exe = h.require("chromium")
    root = h.tempdir()
    tmp = h.tempdir()
    css, js, img, data = make_site(root)
    key, cert = h.self_signed_cert(tmp)
    server = h.start_server(opts.kind, opts.server, root, tls=(key, cert), name="h2wire-server (TLS)")

    profile = os.path.join(tmp, "chromium-profile")
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
    url = server.url("/index.html", "https")
    try:
        rc, out, err = h.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              "--disable-extensions", "--ignore-certificate-errors", "--user-data-dir=" + profile,
                              "--virtual-time-budget=30000", "--dump-dom", url], timeout=90, env=env)
    finally:
        h.kill_leftovers(profile)
    dom = out.decode("utf-8", "replace")
    check.equal(rc, 0, "chromium exit status")
    m = re.search(r"RESULT(.*?)END", dom, re.S)
    if not check.expect(m is not None, "the page reported its results"):
        h.log("DOM: " + dom[-2000:])
        h.log("stderr: " + "\n".join(err.splitlines()[-20:]))
        check.finish()
    got = json.loads(html.unescape(m.group(1)))

    check.equal(got["nav"], [[url, "h2", 200]], "page: loaded over h2 with status 200")
    check.equal(got["css"], css, f"{CSS} stylesheets applied")
    check.equal(sorted(got["js"]), sorted(js), f"{JS} scripts ran")
    check.equal(got["img"], img, f"{IMG} images decoded at their widths")
    for name, want in data.items():
        check.equal(got["data"].get(name), want, f"fetch {name}: status, length, SHA-256")
    resources = got["resources"]
    names = sorted(r[0] for r in resources)
    want_names = sorted(server.url(p, "https") for p in
                        [f"/r/s{i}.css" for i in range(CSS)] + [f"/r/j{i}.js" for i in range(JS)]
                        + [f"/r/i{i}.svg" for i in range(IMG)] + list(data))
    check.equal(names, want_names, f"resource timing lists exactly the {len(want_names)} subresources")
    check.equal(sorted({r[1] for r in resources}), ["h2"], "every subresource's nextHopProtocol is h2")
    check.equal(sorted({r[2] for r in resources}), [200], "every subresource's responseStatus is 200")
    check.expect(server.alive(), "the server is still running")
    server.stop()
    check.finish()


if __name__ == "__main__":
    main()
