// A minimal WebSocket client on node's own net/tls modules, for http-h2.sh:
// handshake on PATH, one masked text message, expects it echoed back, then a
// close handshake.  Usage: node http-ws-client.mjs http|https PORT PATH [CA]
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import crypto from 'node:crypto';

const [scheme, port, path, ca] = process.argv.slice(2);
const key = crypto.randomBytes(16).toString('base64');
const want = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
const opts = { host: '127.0.0.1', port: Number(port) };
const sock = scheme === 'https'
  ? tls.connect({ ...opts, ca: fs.readFileSync(ca), servername: 'localhost', ALPNProtocols: ['http/1.1'] })
  : net.connect(opts);
const fail = (msg) => { console.error('ws: ' + msg); process.exit(1); };
setTimeout(() => fail('timed out'), 10000).unref();

function frame(opcode, payload) {
  const mask = crypto.randomBytes(4);
  const head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([head, mask, body]);
}

let buf = Buffer.alloc(0);
let upgraded = false;
const text = Buffer.from('hello over ' + scheme);
sock.on(scheme === 'https' ? 'secureConnect' : 'connect', () => {
  sock.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
             `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
});
sock.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  if (!upgraded) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buf.subarray(0, end).toString();
    if (!head.startsWith('HTTP/1.1 101')) fail('no 101: ' + head);
    if (!head.toLowerCase().includes('sec-websocket-accept: ' + want.toLowerCase())) fail('bad accept: ' + head);
    upgraded = true;
    buf = buf.subarray(end + 4);
    sock.write(frame(1, text));
  }
  while (buf.length >= 2) {
    const opcode = buf[0] & 0x0f, len = buf[1] & 0x7f;
    if (len > 125 || buf.length < 2 + len) return;
    const payload = buf.subarray(2, 2 + len);
    buf = buf.subarray(2 + len);
    if (opcode === 9) { sock.write(frame(10, payload)); continue; }
    if (opcode === 1) {
      if (!payload.equals(text)) fail('echo differs: ' + payload);
      sock.write(frame(8, Buffer.from([0x03, 0xe8])));
    } else if (opcode === 8) {
      console.log('ws ok: echo and close over ' + scheme);
      sock.end();
      process.exit(0);
    }
  }
});
sock.on('error', (e) => fail(e.message));
