'use strict';
// Shared bits of the Node CONNECT interop scripts: the byte pattern and
// FNV-1a 64 that connect_peer.cpp uses too, result lines, and a child
// process that is always killed on exit.
const { spawn } = require('child_process');

/** Octet i of pattern `tag`, as in connect_peer.cpp. */
function pattern(n, tag) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8) + tag * 13) & 0xff;
  return b;
}

/** FNV-1a 64 as 16 hex digits, with 32-bit halves (h * prime = h<<40 + h*0x1b3). */
class Fnv {
  constructor() { this.hi = 0xcbf29ce4; this.lo = 0x84222325; this.n = 0; }
  add(buf) {
    let hi = this.hi, lo = this.lo;
    for (let i = 0; i < buf.length; i++) {
      lo = (lo ^ buf[i]) >>> 0;
      const l = lo * 0x1b3;
      const carry = Math.floor(l / 4294967296);
      const nlo = l % 4294967296;
      hi = (hi * 0x1b3 + carry + ((lo << 8) >>> 0)) % 4294967296;
      lo = nlo;
    }
    this.hi = hi; this.lo = lo; this.n += buf.length;
  }
  hex() { return this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0'); }
}

class Results {
  constructor() { this.failed = 0; this.count = 0; }
  check(name, ok, detail = '') {
    this.count++;
    if (!ok) this.failed++;
    console.log(`RESULT ${name} ${ok ? 'ok' : 'FAIL'} ${detail}`);
  }
}

/** Starts `cmd args`, kills it when this process exits. */
function child(cmd, args) {
  const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  process.on('exit', () => { try { p.kill('SIGKILL'); } catch (e) { /* gone */ } });
  return p;
}

/** Lines of a readable stream, to `onLine`. */
function lines(readable, onLine) {
  let buf = '';
  readable.setEncoding('utf8');
  readable.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
}

/** Exits 2 after `seconds` whatever happens (tests stop by themselves). */
function deadline(seconds) {
  setTimeout(() => { console.log('RESULT deadline FAIL timed out'); process.exit(2); }, seconds * 1000).unref();
}

module.exports = { pattern, Fnv, Results, child, lines, deadline };
