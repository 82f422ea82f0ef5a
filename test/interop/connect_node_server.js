'use strict';
// Interop (issue 6): Node's http2 module as the server for an h2wire client.
//
//   node connect_node_server.js <connect-peer>
//
// Listens on 127.0.0.1 (kernel-chosen port) with
// SETTINGS_ENABLE_CONNECT_PROTOCOL=1 and answers what connect_peer.cpp's
// header describes (/echo, classic CONNECT to echo.example:443, /deny,
// /reset, /stream?n=N, /count, /ws, GET /). Then runs
// `connect-peer client <port>` and checks its RESULT lines, plus what this
// side saw: the client's RST_STREAM CANCEL, and that the client sent nothing
// with :protocol before our SETTINGS.
const http2 = require('http2');
const { serveEcho } = require('./connect_ws.js');
const { pattern, Fnv, Results, child, lines, deadline } = require('./connect_util.js');

const driver = process.argv[2];
const results = new Results();
deadline(60);

const seen = { cancels: [], protocols: [], connects: 0 };

const server = http2.createServer({ settings: { enableConnectProtocol: true }, maxSessionMemory: 256 });
server.on('sessionError', (e) => results.check('session-error', false, String(e)));
server.on('stream', (stream, headers) => {
  const method = headers[':method'];
  const path = headers[':path'] || '';
  const protocol = headers[':protocol'];
  stream.on('error', () => {});
  stream.on('close', () => {
    if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) seen.cancels.push(path);
  });
  if (method !== 'CONNECT') {
    stream.respond({ ':status': path === '/' ? 200 : 404 });
    stream.end(path === '/' ? 'hello' : 'not found');
    return;
  }
  seen.connects++;
  if (protocol) seen.protocols.push(protocol);
  if (!protocol) {
    // Classic CONNECT (RFC 9113 §8.5): :method and :authority only.
    if (headers[':authority'] !== 'echo.example:443' || headers[':scheme'] || headers[':path']) {
      stream.respond({ ':status': 400 });
      stream.end();
      return;
    }
    stream.respond({ ':status': 200 });
    stream.pipe(stream);
    return;
  }
  if (path === '/ws') {
    if (protocol !== 'websocket' || headers['sec-websocket-version'] !== '13') {
      stream.respond({ ':status': 400 });
      stream.end();
      return;
    }
    stream.respond({ ':status': 200 });
    serveEcho(stream);
  } else if (path === '/echo') {
    stream.respond({ ':status': 200 });
    stream.pipe(stream);
  } else if (path === '/deny') {
    stream.respond({ ':status': 403 });
    stream.end('denied');
  } else if (path === '/reset') {
    stream.respond({ ':status': 200 });
    stream.once('data', () => stream.close(http2.constants.NGHTTP2_CONNECT_ERROR));
  } else if (path.startsWith('/stream?n=')) {
    stream.respond({ ':status': 200 });
    stream.resume();
    stream.end(pattern(Number(path.slice(10)), 5));
  } else if (path === '/count') {
    stream.respond({ ':status': 200 });
    const f = new Fnv();
    stream.on('data', (d) => f.add(d));
    stream.on('end', () => stream.end(`n=${f.n} fnv=${f.hex()}`));
  } else {
    stream.respond({ ':status': 404 });
    stream.end();
  }
});

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  const client = child(driver, ['client', String(port)]);
  const got = [];
  lines(client.stdout, (line) => {
    if (!line.startsWith('RESULT')) return;
    got.push(line);
    console.log('client: ' + line);
  });
  client.on('exit', (code) => {
    results.check('driver-exit', code === 0, `exit code ${code}`);
    const fails = got.filter((l) => !/^RESULT \S+ ok/.test(l));
    results.check('driver-results', got.length >= 20 && fails.length === 0,
      `${got.length} results, failed: ${fails.join(' | ')}`);
    results.check('server-saw-client-cancel', seen.cancels.includes('/echo'), `cancels on ${seen.cancels.join(',')}`);
    results.check('protocols-seen', seen.protocols.includes('websocket') && seen.protocols.includes('echo'),
      `:protocol values ${[...new Set(seen.protocols)].join(',')}`);
    console.log(`SUMMARY ${results.count - results.failed}/${results.count} passed`);
    server.close();
    process.exit(results.failed === 0 ? 0 : 1);
  });
});
