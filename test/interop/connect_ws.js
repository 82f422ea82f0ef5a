'use strict';
// RFC 6455 framing for the Node side of the CONNECT interop checks, written
// from the RFC (no npm package): frames with the three length forms and
// masking, messages from fragments, ping/pong and close. Used over an HTTP/2
// extended CONNECT stream (RFC 8441), where the stream is the "TCP
// connection" of RFC 6455.
const crypto = require('crypto');

const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };

/** One frame (RFC 6455 §5.2); masked with a fresh key when `mask`. */
function encodeFrame(opcode, payload, fin, mask) {
  payload = Buffer.from(payload);
  const n = payload.length;
  let head;
  if (n < 126) {
    head = Buffer.from([(fin ? 0x80 : 0) | opcode, (mask ? 0x80 : 0) | n]);
  } else if (n <= 0xffff) {
    head = Buffer.alloc(4);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = (mask ? 0x80 : 0) | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = (mask ? 0x80 : 0) | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  if (!mask) return Buffer.concat([head, payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}

/**
 * Incremental parser of the peer's frames. `expectMasked`: a server expects
 * masked frames, a client unmasked ones (§5.1). Calls onMessage(opcode, data)
 * for complete text/binary messages, onControl(opcode, payload) for control
 * frames, onError(reason) on a protocol violation.
 */
class Parser {
  constructor(expectMasked, handlers) {
    this.expectMasked = expectMasked;
    this.h = handlers;
    this.buf = Buffer.alloc(0);
    this.fragments = null;  // [opcode, [Buffer...]] of a message in progress
    this.failed = false;
  }
  push(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    while (!this.failed && this.buf.length >= 2) {
      const b0 = this.buf[0], b1 = this.buf[1];
      const fin = (b0 & 0x80) !== 0, op = b0 & 0x0f, masked = (b1 & 0x80) !== 0;
      if (b0 & 0x70) return this.fail('RSV bits set');
      if (masked !== this.expectMasked) return this.fail('wrong masking');
      let len = b1 & 0x7f, at = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        at = 10;
      }
      const keyAt = at;
      if (masked) at += 4;
      if (this.buf.length < at + len) return;
      const payload = Buffer.from(this.buf.subarray(at, at + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= this.buf[keyAt + (i & 3)];
      this.buf = this.buf.subarray(at + len);
      if (op >= 0x8) {
        if (!fin || len > 125) return this.fail('bad control frame');
        this.h.onControl(op, payload);
      } else if (op === OP.cont) {
        if (!this.fragments) return this.fail('continuation without a message');
        this.fragments[1].push(payload);
        if (fin) this.done();
      } else if (op === OP.text || op === OP.binary) {
        if (this.fragments) return this.fail('new message inside a fragmented one');
        this.fragments = [op, [payload]];
        if (fin) this.done();
      } else {
        return this.fail('reserved opcode ' + op);
      }
    }
  }
  done() {
    const [op, parts] = this.fragments;
    this.fragments = null;
    this.h.onMessage(op, Buffer.concat(parts));
  }
  fail(why) {
    this.failed = true;
    if (this.h.onError) this.h.onError(why);
  }
}

/** A close frame's payload: code and reason. */
function closePayload(code, reason = '') {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

/**
 * Server side echo over a Duplex (an HTTP/2 stream): messages back as they
 * came, pings answered, close answered, then the stream ended.
 */
function serveEcho(stream) {
  let closed = false;
  const parser = new Parser(true, {
    onMessage: (op, data) => { if (!closed) stream.write(encodeFrame(op, data, true, false)); },
    onControl: (op, payload) => {
      if (op === OP.ping && !closed) stream.write(encodeFrame(OP.pong, payload, true, false));
      if (op === OP.close && !closed) {
        closed = true;
        stream.end(encodeFrame(OP.close, payload.subarray(0, 2), true, false));
      }
    },
    onError: () => {
      closed = true;
      stream.end(encodeFrame(OP.close, closePayload(1002), true, false));
    },
  });
  stream.on('data', (d) => parser.push(d));
  stream.on('end', () => { if (!closed) { closed = true; stream.end(); } });
}

module.exports = { OP, encodeFrame, Parser, closePayload, serveEcho };
