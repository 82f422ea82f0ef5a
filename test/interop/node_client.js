'use strict';
// Node's http2 module as a client, driven by node_client_test.py.
//
//   node node_client.js ORIGIN SPEC.json
//
// ORIGIN is http://127.0.0.1:PORT (h2c, prior knowledge) or
// https://127.0.0.1:PORT (TLS, ALPN h2; the self-signed certificate is
// accepted). SPEC.json: {"requests": [{"method", "path", "headers": {},
// "body_file": optional path}]}. Every request goes out at once on one
// session; the results come back as one JSON line on stdout:
//   {"alpn", "remote_settings", "results": [{"path", "status", "headers",
//    "length", "sha256", "trailers", "error"}]}
// The script judges nothing itself: the Python side compares.
const http2 = require('http2');
const crypto = require('crypto');
const fs = require('fs');

const [origin, specFile] = process.argv.slice(2);
const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
const started = Date.now();

setTimeout(() => {
  console.log(JSON.stringify({ error: 'node client: no result within 60 s' }));
  process.exit(2);
}, 60000).unref();

function request(session, r) {
  return new Promise((resolve) => {
    const out = { path: r.path };
    const hash = crypto.createHash('sha256');
    let length = 0;
    const headers = { ':method': r.method, ':path': r.path, ...(r.headers || {}) };
    const stream = session.request(headers, { endStream: !r.body_file });
    stream.on('response', (h) => {
      out.status = h[':status'];
      out.headers = h;
    });
    stream.on('data', (d) => {
      hash.update(d);
      length += d.length;
    });
    stream.on('trailers', (t) => { out.trailers = t; });
    stream.on('end', () => {
      out.length = length;
      out.sha256 = hash.digest('hex');
    });
    stream.on('close', () => {
      out.ms = Date.now() - started;
      if (stream.rstCode) out.error = out.error || `RST_STREAM ${stream.rstCode}`;
      resolve(out);
    });
    stream.on('error', (e) => { out.error = String(e); });
    if (r.body_file) fs.createReadStream(r.body_file).pipe(stream);
  });
}

async function main() {
  const session = http2.connect(origin, { rejectUnauthorized: false });
  let sessionError = null;
  session.on('error', (e) => { sessionError = String(e); });
  await new Promise((resolve, reject) => {
    session.once('connect', resolve);
    session.once('error', reject);
  });
  const results = await Promise.all(spec.requests.map((r) => request(session, r)));
  const report = {
    alpn: session.alpnProtocol,
    remote_settings: session.remoteSettings,
    results,
    session_error: sessionError,
  };
  report.streams_done_ms = Date.now() - started;
  await new Promise((resolve) => session.close(resolve));
  report.closed_ms = Date.now() - started;
  console.log(JSON.stringify(report));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String(e && e.stack) }));
  process.exit(1);
});
