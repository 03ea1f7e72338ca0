// The client of tests/bench/dwn-http.bash: RecordsWrite over HTTP with N
// concurrent clients, the messages signed beforehand (signing not measured).
//   node dwn-http-bench.mjs build NPM_DIR FILE COUNT
//       COUNT RecordsWrites by alice (dwn-sdk-js 0.5.2), 256 B of data each,
//       written to FILE as JSON lines {message, data (base64)}
//   node dwn-http-bench.mjs run FILE URL CLIENTS [WARMUP]
//       sends them with dwn-server 0.6.1's client conventions (dwn-request
//       header, application/octet-stream body) over CLIENTS keep-alive
//       connections, each client one request at a time; the first WARMUP
//       (default 200) are not timed.  Prints "writes=N errors=E writes_per_s=X
//       p50_ms=A p99_ms=B [first_error=...]" (errors: any reply other than HTTP 200 /
//       DWN 202; the first one's status and text, spaces as _).
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [mode, ...args] = process.argv.slice(2);
const here = new URL('.', import.meta.url).pathname;

if (mode === 'build') {
  const [npmDir, file, countArg] = args;
  const harness = await import(pathToFileURL(join(here, '../interop/dwn/harness.mjs')).href);
  await harness.loadSdk(npmDir);
  let clock = 0;
  harness.sdk.Time.getCurrentTimestamp = () => harness.ts(++clock / 1000);
  const alice = await harness.identity('alice');
  const lines = [];
  for (let i = 0; i < Number(countArg); i++) {
    const data = harness.genData('bench-' + i, 256);
    const w = await harness.sdk.RecordsWrite.create({ data, dataFormat: 'application/octet-stream', schema: `https://example.com/schema/${i % 10}`, signer: alice.signer });
    lines.push(JSON.stringify({ target: alice.did, message: w.message, data: Buffer.from(data).toString('base64') }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
  process.exit(0);
}

const [file, url, clientsArg, warmupArg] = args;
const clients = Number(clientsArg), warmup = Number(warmupArg ?? 200);
const items = readFileSync(file, 'utf8').trim().split('\n').map((l) => {
  const x = JSON.parse(l);
  const rpc = { jsonrpc: '2.0', id: 1, method: 'dwn.processMessage', params: { target: x.target, message: x.message } };
  return { header: JSON.stringify(rpc), body: Buffer.from(x.data, 'base64') };
});
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
function send(item) {
  return new Promise((ok) => {
    const req = http.request({ host: target.hostname, port: target.port, path: '/', method: 'POST', agent,
      headers: { 'dwn-request': item.header, 'content-type': 'application/octet-stream', 'content-length': item.body.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let good = false;
        try { good = res.statusCode === 200 && JSON.parse(text).result.reply.status.code === 202; } catch { good = false; }
        if (!good && !firstError) firstError = `HTTP_${res.statusCode}_${text.slice(0, 120).replace(/\s/g, '_')}`;
        ok(good);
      });
    });
    req.on('error', (e) => { if (!firstError) firstError = String(e.code ?? e.message).replace(/\s/g, '_'); ok(false); });
    req.end(item.body);
  });
}
let next = 0, errors = 0, firstError = '';
const lat = [];
async function client(limit, timed) {
  while (next < limit) {
    const item = items[next++];
    const t = process.hrtime.bigint();
    if (!(await send(item))) errors++;
    if (timed) lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
}
const w = Math.min(warmup, items.length);
await Promise.all(Array.from({ length: clients }, () => client(w, false)));
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: clients }, () => client(items.length, true)));
const s = Number(process.hrtime.bigint() - t0) / 1e9;
lat.sort((a, b) => a - b);
const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : 0).toFixed(2);
console.log(`writes=${items.length - w} errors=${errors} writes_per_s=${((items.length - w) / s).toFixed(0)} p50_ms=${pct(0.5)} p99_ms=${pct(0.99)}${firstError ? ' first_error=' + firstError : ''}`);
agent.destroy();
