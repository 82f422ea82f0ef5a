'use strict';
// Node's http2 module as a server, for node_server_test.py.
//
//   node node_server.js ROOT [--tls KEY CERT]
//
// Listens on 127.0.0.1 at a port the kernel picks and prints
// "listening on 127.0.0.1:PORT" first. Serves:
//   GET/HEAD /path     the file ROOT/path (content-length), 404 when missing
//   POST /echo         the request body back (streamed)
//   GET /big-headers   a response whose header block is far larger than a
//                      frame (a 40,000-character field): nghttp2 under Node
//                      splits it into HEADERS + CONTINUATION
//   GET /trailers      a body, then trailers (one of them 20,000 characters)
// Prints "REQUEST <method> <path>" per request. Exits on SIGTERM/SIGINT.
const http2 = require('http2');
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const root = path.resolve(args[0]);
const tlsAt = args.indexOf('--tls');

function letters(n, tag) {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + ((i * 7 + Math.floor(i / 3) + tag) % 26));
  return s;
}

function onStream(stream, headers) {
  const method = headers[':method'];
  const url = headers[':path'];
  console.log(`REQUEST ${method} ${url}`);
  stream.on('error', () => {});
  if (url === '/echo' && method === 'POST') {
    stream.respond({ ':status': 200, 'content-type': headers['content-type'] || 'application/octet-stream' });
    stream.pipe(stream);
    return;
  }
  if (url === '/big-headers') {
    stream.respond({ ':status': 200, 'x-big': letters(40000, 3), 'content-length': '2' });
    stream.end('ok');
    return;
  }
  if (url === '/trailers') {
    stream.respond({ ':status': 200 }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'yes', 'x-big-trailer': letters(20000, 5) }));
    stream.end('body before trailers\n');
    return;
  }
  const file = path.join(root, decodeURIComponent(url.split('?')[0]));
  if (!file.startsWith(root + path.sep)) {
    stream.respond({ ':status': 400 });
    stream.end();
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      stream.respond({ ':status': 404, 'content-type': 'text/plain' });
      stream.end('not found\n');
      return;
    }
    if (method === 'HEAD') {
      stream.respond({ ':status': 200, 'content-length': String(st.size) }, { endStream: true });
      return;
    }
    stream.respondWithFile(file, { 'content-type': 'application/octet-stream' });
  });
}

const server = tlsAt >= 0
  ? http2.createSecureServer({ key: fs.readFileSync(args[tlsAt + 1]), cert: fs.readFileSync(args[tlsAt + 2]) })
  : http2.createServer();
server.on('stream', onStream);
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
