'use strict';
// Interop (issue 6): Node's http2 module as the client of an h2wire server
// (connect-peer server, or h2wire-server with --ws checks only), over
// 127.0.0.1 on a kernel-chosen port.
//
//   node connect_node_client.js <connect-peer>          every CONNECT check
//   node connect_node_client.js --ws-only <h2wire-server>  the /ws echo only
//
// Checks: the server's SETTINGS_ENABLE_CONNECT_PROTOCOL; an 8 MiB echo
// through an extended CONNECT tunnel; a classic CONNECT echo; a 403 ending
// the attempt; the server's RST_STREAM CONNECT_ERROR reaching us; tunnel
// DATA from the server before we send anything; a 3 MiB upload counted and
// hashed by the server; WebSocket over HTTP/2 (RFC 8441 + RFC 6455: text,
// fragmented binary, ping/pong, UTF-8 split across fragments, close); our
// RST_STREAM CANCEL reaching the server; 8 tunnels and 8 GETs at once.
const http2 = require('http2');
const crypto = require('crypto');
const { OP, encodeFrame, Parser, closePayload } = require('./connect_ws.js');
const { pattern, Fnv, Results, child, lines, deadline } = require('./connect_util.js');

const args = process.argv.slice(2);
const wsOnly = args[0] === '--ws-only';
const driver = wsOnly ? args[1] : args[0];
const results = new Results();
deadline(60);

const server = wsOnly ? child(driver, ['--port', '0']) : child(driver, ['server']);
const serverLines = [];
let started = false;
lines(server.stdout, (line) => {
  serverLines.push(line);
  const m = /(?:PORT|port|listening on [^:\s]*:)\s*(\d+)/.exec(line) || /:(\d+)\b/.exec(line);
  if (!started && m) {
    started = true;
    run(Number(m[1])).catch((e) => { results.check('exception', false, String(e && e.stack)); finish(); });
  }
});

let session;
function finish() {
  if (session) session.close();
  // Give the server a moment to print what it saw (resets), then judge.
  setTimeout(() => {
    if (!wsOnly) {
      results.check('server-saw-client-cancel',
        serverLines.some((l) => /server-saw-reset path=\/stream\?n=16777216 code=CANCEL/.test(l)),
        'server reported: ' + serverLines.filter((l) => l.startsWith('RESULT')).join(' | '));
    }
    console.log(`SUMMARY ${results.count - results.failed}/${results.count} passed`);
    process.exit(results.failed === 0 ? 0 : 1);
  }, 300);
}

function sha(b) { return crypto.createHash('sha256').update(b).digest('hex'); }

/** Opens a stream; resolves with {status, body, rstCode, endedBeforeWrite} once it closes. */
function exchange(headers, drive) {
  return new Promise((resolve) => {
    const req = session.request(headers, { endStream: false });
    const chunks = [];
    const out = { status: 0, body: null, rstCode: 0, ended: false };
    req.on('response', (h) => { out.status = h[':status']; if (drive && drive.onResponse) drive.onResponse(req, h); });
    req.on('data', (d) => { chunks.push(d); if (drive && drive.onData) drive.onData(req, d); });
    req.on('end', () => { out.ended = true; if (drive && drive.onEnd) drive.onEnd(req); });
    req.on('error', () => {});
    req.on('close', () => { out.rstCode = req.rstCode; out.body = Buffer.concat(chunks); resolve(out); });
    if (drive && drive.start) drive.start(req);
  });
}

function ext(protocol, path, extra = {}) {
  return Object.assign({ ':method': 'CONNECT', ':protocol': protocol, ':scheme': 'http', ':path': path,
    ':authority': 'localhost' }, extra);
}

async function echo(name, headers, size, tag) {
  const data = pattern(size, tag);
  const r = await exchange(headers, { start: (req) => req.end(data) });
  results.check(name, r.status === 200 && r.rstCode === 0 && r.body.length === size && sha(r.body) === sha(data),
    `status=${r.status} got=${r.body.length}/${size} rst=${r.rstCode}`);
}

async function websocket() {
  const big = pattern(100000, 7);
  const utf8 = Buffer.from('h\u00e9llo \u2713');
  const got = [];
  let pongs = 0, closeCode = 0;
  const r = await exchange(ext('websocket', '/ws', { 'sec-websocket-version': '13' }), {
    onResponse: (req, h) => {
      if (h[':status'] !== 200) return;
      const parser = new Parser(false, {
        onMessage: (op, d) => {
          got.push([op, d]);
          if (got.length === 3 && pongs >= 1) req.write(encodeFrame(OP.close, closePayload(1000, 'bye'), true, true));
        },
        onControl: (op, p) => {
          if (op === OP.pong) pongs++;
          if (op === OP.close) { closeCode = p.length >= 2 ? p.readUInt16BE(0) : 1005; req.end(); }
        },
        onError: (why) => results.check('websocket-framing', false, why),
      });
      req.on('data', (d) => parser.push(d));
      req.write(encodeFrame(OP.text, 'hello h2wire', true, true));
      // Binary, fragmented: 16 KiB + 16 KiB + ... with FIN on the last.
      for (let at = 0; at < big.length; at += 16384) {
        const end = Math.min(big.length, at + 16384);
        req.write(encodeFrame(at === 0 ? OP.binary : OP.cont, big.subarray(at, end), end === big.length, true));
      }
      req.write(encodeFrame(OP.ping, 'p1', true, true));
      // UTF-8 text cut inside a code point across two fragments.
      req.write(encodeFrame(OP.text, utf8.subarray(0, 2), false, true));
      req.write(encodeFrame(OP.cont, utf8.subarray(2), true, true));
    },
  });
  const ok = r.status === 200 && got.length === 3 && got[0][0] === OP.text && got[0][1].toString() === 'hello h2wire' &&
    got[1][0] === OP.binary && sha(got[1][1]) === sha(big) && got[2][0] === OP.text && got[2][1].equals(utf8) &&
    pongs === 1 && closeCode === 1000 && r.ended && r.rstCode === 0;
  results.check('websocket', ok, `status=${r.status} messages=${got.length} pongs=${pongs} close=${closeCode}`);
}

async function run(port) {
  // Node counts queued writes against maxSessionMemory (10 MB by default)
  // and resets new streams with ENHANCE_YOUR_CALM past it.
  session = http2.connect(`http://127.0.0.1:${port}`, { maxSessionMemory: 256 });
  session.on('error', (e) => results.check('session-error', false, String(e)));
  const settings = await new Promise((resolve) => session.once('remoteSettings', resolve));
  results.check('settings', settings.enableConnectProtocol === true, `enableConnectProtocol=${settings.enableConnectProtocol}`);
  if (wsOnly) {
    await websocket();
    return finish();
  }
  const checks = [
    echo('echo-8MiB', ext('echo', '/echo'), 8 << 20, 1),
    echo('classic-connect-echo', { ':method': 'CONNECT', ':authority': 'echo.example:443' }, 1 << 20, 2),
    exchange(ext('echo', '/deny')).then((r) =>
      results.check('non-2xx', r.status === 403 && r.body.toString() === 'denied', `status=${r.status} body=${r.body}`)),
    exchange(ext('echo', '/reset'), { onResponse: (req) => req.write('x') }).then((r) =>
      results.check('server-reset', r.rstCode === http2.constants.NGHTTP2_CONNECT_ERROR, `rstCode=${r.rstCode}`)),
    (() => {
      let wroteBeforeEnd = false;
      return exchange(ext('echo', '/stream?n=1048576'), {
        onEnd: (req) => req.end(),
        start: (req) => { req.on('finish', () => { wroteBeforeEnd = true; }); },
      }).then((r) => results.check('server-data-first',
        r.status === 200 && r.body.length === 1 << 20 && sha(r.body) === sha(pattern(1 << 20, 5)) && r.ended,
        `status=${r.status} got=${r.body.length} wroteBeforeEnd=${wroteBeforeEnd}`));
    })(),
    (() => {
      const data = pattern(3 << 20, 9);
      const f = new Fnv();
      f.add(data);
      const want = `n=${data.length} fnv=${f.hex()}`;
      return exchange(ext('echo', '/count'), { start: (req) => req.end(data) }).then((r) =>
        results.check('upload-count', r.body.toString() === want, `got '${r.body}' want '${want}'`));
    })(),
    websocket(),
    // Node's close() sends END_STREAM before RST_STREAM: on an echo the
    // server would end too and the reset would find the stream closed. A
    // long download is still open when the reset arrives.
    exchange(ext('echo', '/stream?n=16777216'), {
      onData: (req) => { if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL); },
    }).then((r) => results.check('client-reset', r.rstCode === http2.constants.NGHTTP2_CANCEL, `rstCode=${r.rstCode}`)),
  ];
  for (let i = 0; i < 8; i++) {
    checks.push(echo(`many-echo-${i}`, ext('echo', '/echo'), 256 * 1024 + i * 1000, 20 + i));
    checks.push(new Promise((resolve) => {
      const req = session.request({ ':method': 'GET', ':path': '/', ':scheme': 'http', ':authority': 'localhost' });
      let body = '', status = 0;
      req.on('response', (h) => { status = h[':status']; });
      req.setEncoding('utf8');
      req.on('data', (d) => { body += d; });
      req.on('error', () => {});
      req.on('close', () => { results.check(`many-get-${i}`, status === 200 && body === 'hello', `status=${status}`); resolve(); });
    }));
  }
  await Promise.all(checks);
  finish();
}
