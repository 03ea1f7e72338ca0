// The same requests to anyad's DWN listener and to @web5/dwn-server 0.6.1
// (tests/interop/dwn-http-parity.sh), both starting empty, and what a client
// can see compared: HTTP status, content type, CORS headers, JSON-RPC error
// codes and messages, DWN replies (status, entries, entry), record bytes and
// the convenience reads; over WebSocket the subscribe reply, the events, the
// close reply and the error codes.  Differences the docs name (docs/dwn-http.md)
// are checked as such: /info's server/version/url, /health's detail, our
// answers where dwn-server hangs or refuses (unknown method, RecordsWrite over
// a socket, a numeric pagination.limit).
// Usage: node dwn-http-parity.mjs NPM_DIR WS_DIR ANYA_URL DWN_SERVER_URL
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { loadSdk, identity, genData, ts, sdk } from './dwn/harness.mjs';

const [npmDir, wsDir, ours, theirs] = process.argv.slice(2);
await loadSdk(npmDir);
let clock = 0;
sdk.Time.getCurrentTimestamp = () => ts(++clock);
const WebSocket = createRequire(join(wsDir, 'node_modules', 'x.js'))('ws');
const sha = (b) => createHash('sha256').update(b).digest('hex');
let checks = 0, failures = 0;
const show = (x) => JSON.stringify(x)?.slice(0, 500);
function same(what, a, b) {
  checks++;
  if (isDeepStrictEqual(a, b)) console.log(`same ${what}`);
  else { failures++; console.log(`DIFF ${what}\n    anya:       ${show(a)}\n    dwn-server: ${show(b)}`); }
}
function expect(what, ok, detail) {
  checks++;
  if (ok) console.log(`ok   ${what}`);
  else { failures++; console.log(`FAIL ${what}: ${show(detail)}`); }
}

// What a client sees of one HTTP exchange.
async function view(base, path, opts = {}) {
  const resp = await fetch(base + path, opts);
  const bytes = Buffer.from(await resp.arrayBuffer());
  const h = (n) => resp.headers.get(n);
  let json;
  try { json = JSON.parse(bytes.toString()); } catch { json = undefined; }
  const dwnResponse = h('dwn-response') ? JSON.parse(h('dwn-response')) : undefined;
  return {
    status: resp.status,
    type: (h('content-type') || '').split(';')[0],
    cors: { origin: h('access-control-allow-origin'), expose: h('access-control-expose-headers') },
    json, dwnResponse, text: json === undefined ? bytes.toString() : undefined, sha: sha(bytes), bytes,
  };
}
const both = async (path, opts) => [await view(ours, path, opts), await view(theirs, path, opts)];
function rpcHeaders(target, message, extra = {}) {
  return { 'dwn-request': JSON.stringify({ jsonrpc: '2.0', id: randomUUID(), method: 'dwn.processMessage', params: { target, message } }), ...extra };
}
async function send(target, message, data) {
  const headers = rpcHeaders(target, message, data ? { 'content-type': 'application/octet-stream' } : {});
  return both('/', { method: 'POST', headers, body: data });
}
// the comparable part of a JSON-RPC reply: status, entries, entry (no ids: the request ids differ)
const replyOf = (v) => {
  const r = (v.dwnResponse ?? v.json)?.result?.reply;
  return r && { status: r.status, entries: r.entries, entry: r.entry, cursor: r.cursor };
};
const errorOf = (v) => v.json?.error && { code: v.json.error.code, message: v.json.error.message };

const alice = await identity('alice');

// ---- plain routes
let [a, b] = await both('/');
same('GET /: status, type, text', [a.status, a.type, a.text], [b.status, b.type, b.text]);
[a, b] = await both('/health');
same('GET /health: status, ok', [a.status, a.json?.ok], [b.status, b.json?.ok]);
[a, b] = await both('/info');
same('GET /info: the members', Object.keys(a.json).sort(), Object.keys(b.json).sort());
same('GET /info: sdkVersion, registrationRequirements, webSocketSupport',
  [a.json.sdkVersion, a.json.registrationRequirements, a.json.webSocketSupport],
  [b.json.sdkVersion, b.json.registrationRequirements, b.json.webSocketSupport]);
expect('GET /info: server names itself (documented difference)', a.json.server === 'anya' && b.json.server === '@web5/dwn-server', [a.json, b.json]);
[a, b] = await both('/', { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'dwn-request,content-type' } });
const pre = async (base) => {
  const r = await fetch(base + '/', { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'dwn-request,content-type' } });
  return [r.status, r.headers.get('access-control-allow-origin'), r.headers.get('access-control-allow-methods'), r.headers.get('access-control-allow-headers'), r.headers.get('access-control-expose-headers')];
};
same('OPTIONS preflight: status and CORS headers', await pre(ours), await pre(theirs));

// ---- JSON-RPC errors
[a, b] = await both('/', { method: 'POST' });
same('POST without dwn-request: status, error', [a.status, errorOf(a)], [b.status, errorOf(b)]);
[a, b] = await both('/', { method: 'POST', headers: { 'dwn-request': '{"jsonrpc":' } });
same('POST with unparsable dwn-request: status, code', [a.status, errorOf(a)?.code], [b.status, errorOf(b)?.code]);
const sub = await sdk.RecordsSubscribe.create({ filter: { schema: 'http://example.com/live' }, signer: alice.signer });
[a, b] = await send(alice.did, sub.message);
same('RecordsSubscribe over HTTP: status, error', [a.status, errorOf(a)], [b.status, errorOf(b)]);

// ---- records
const small = genData('parity-small', 100);
const smallW = await sdk.RecordsWrite.create({ data: small, dataFormat: 'text/plain', schema: 'http://example.com/note', signer: alice.signer });
[a, b] = await send(alice.did, smallW.message, small);
same('RecordsWrite 100 B: status, type, CORS, reply', [a.status, a.type, a.cors, replyOf(a)], [b.status, b.type, b.cors, replyOf(b)]);
const mid = genData('parity-mid', 1 << 20);
const midW = await sdk.RecordsWrite.create({ data: mid, dataFormat: 'application/octet-stream', schema: 'http://example.com/note', signer: alice.signer });
[a, b] = await send(alice.did, midW.message, mid);
same('RecordsWrite 1 MiB: reply', [a.status, replyOf(a)], [b.status, replyOf(b)]);
const lie = await sdk.RecordsWrite.create({ data: genData('lie', 5000), dataFormat: 'text/plain', signer: alice.signer });
[a, b] = await send(alice.did, lie.message, genData('other', 5000));
same('RecordsWrite with other data: reply', [a.status, replyOf(a)], [b.status, replyOf(b)]);
const noData = await sdk.RecordsWrite.create({ data: genData('later', 10), dataFormat: 'text/plain', signer: alice.signer });
[a, b] = await send(alice.did, noData.message);
same('RecordsWrite without data (204): reply', [a.status, replyOf(a)], [b.status, replyOf(b)]);
for (const [name, w] of [['100 B', smallW], ['1 MiB', midW]]) {
  const read = await sdk.RecordsRead.create({ filter: { recordId: w.message.recordId }, signer: alice.signer });
  [a, b] = await send(alice.did, read.message);
  same(`RecordsRead ${name}: status, type, CORS, dwn-response reply, bytes`, [a.status, a.type, a.cors, replyOf(a), a.sha], [b.status, b.type, b.cors, replyOf(b), b.sha]);
}
let q = await sdk.RecordsQuery.create({ filter: { schema: 'http://example.com/note' }, signer: alice.signer });
[a, b] = await send(alice.did, q.message);
same('RecordsQuery: reply', replyOf(a), replyOf(b));
q = await sdk.RecordsQuery.create({ filter: { schema: 'http://example.com/note' } });
[a, b] = await send(alice.did, q.message);
same('RecordsQuery anonymous: reply', replyOf(a), replyOf(b));
const PROTO = 'http://example.com/blog';
const definition = { protocol: PROTO, published: true, types: { post: { schema: 'http://example.com/post', dataFormats: ['text/plain'] } }, structure: { post: { $actions: [{ who: 'anyone', can: ['read'] }] } } };
const conf = await sdk.ProtocolsConfigure.create({ definition, signer: alice.signer });
[a, b] = await send(alice.did, conf.message);
same('ProtocolsConfigure: reply', replyOf(a), replyOf(b));
const pq = await sdk.ProtocolsQuery.create({ filter: { protocol: PROTO } });
[a, b] = await send(alice.did, pq.message);
same('ProtocolsQuery: reply', replyOf(a), replyOf(b));
const postData = Buffer.from('hello from both');
const post = await sdk.RecordsWrite.create({ data: postData, dataFormat: 'text/plain', protocol: PROTO, protocolPath: 'post', schema: 'http://example.com/post', published: true, signer: alice.signer });
[a, b] = await send(alice.did, post.message, postData);
same('published protocol record: reply', replyOf(a), replyOf(b));
const del = await sdk.RecordsDelete.create({ recordId: midW.message.recordId, signer: alice.signer });
[a, b] = await send(alice.did, del.message);
same('RecordsDelete: reply', replyOf(a), replyOf(b));
const gone = await sdk.RecordsRead.create({ filter: { recordId: midW.message.recordId }, signer: alice.signer });
[a, b] = await send(alice.did, gone.message);
same('RecordsRead after delete: status, type, reply', [a.status, a.type, replyOf(a)], [b.status, b.type, replyOf(b)]);

// ---- messages interface: MessagesQuery (the cursor's value is node-local), MessagesRead with data
const mq = await sdk.MessagesQuery.create({ filters: [{ interface: 'Records' }], signer: alice.signer });
[a, b] = await send(alice.did, mq.message);
same('MessagesQuery: status and entries', [replyOf(a)?.status, replyOf(a)?.entries], [replyOf(b)?.status, replyOf(b)?.entries]);
const smallCid = await sdk.Message.getCid(smallW.message);
const mr = await sdk.MessagesRead.create({ messageCid: smallCid, signer: alice.signer });
[a, b] = await send(alice.did, mr.message);
same('MessagesRead of a write with data: status, type, dwn-response reply, bytes', [a.status, a.type, replyOf(a), a.sha], [b.status, b.type, replyOf(b), b.sha]);
// the JSON-RPC id: echoed when given (a number stays a number), a UUID when not
{
  const body = (id) => JSON.stringify({ jsonrpc: '2.0', ...(id === undefined ? {} : { id }), method: 'dwn.processMessage', params: { target: alice.did, message: q.message } });
  for (const id of [7, 'x-1', undefined]) {
    const ra = await fetch(ours, { method: 'POST', headers: { 'dwn-request': body(id) } }).then((r) => r.json());
    const rb = await fetch(theirs, { method: 'POST', headers: { 'dwn-request': body(id) } }).then((r) => r.json());
    const norm = (v) => (id === undefined ? /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(v) : v);
    same(`JSON-RPC id ${JSON.stringify(id)}`, norm(ra.id), norm(rb.id));
  }
}
// a 40 KiB dwn-request header: within our 64 KiB, past Node's 16 KiB under dwn-server (documented)
{
  const tags = {};
  for (let i = 0; i < 10; i++) tags['t' + i] = Array.from({ length: 4 }, (_, k) => String(k).repeat(1000));
  const tw = await sdk.RecordsWrite.create({ data: Buffer.from('t'), dataFormat: 'text/plain', tags, signer: alice.signer });
  [a, b] = await send(alice.did, tw.message, Buffer.from('t'));
  expect('a 40 KiB dwn-request header: ours 202, dwn-server 431 (documented)', replyOf(a)?.status?.code === 202 && b.status === 431, [a.status, b.status]);
}

// ---- convenience reads
const enc = encodeURIComponent;
const b64 = Buffer.from(PROTO).toString('base64url');
const gets = [
  [`/${alice.did}/records/${post.message.recordId}`, 'published record'],
  [`/${alice.did}/read/records/${post.message.recordId}`, 'published record (read/records)'],
  [`/${alice.did}/records/${smallW.message.recordId}`, 'unpublished record'],
  [`/${alice.did}/records/bafyreinotthere`, 'unknown record'],
  [`/${alice.did}/read/protocols/${b64}`, 'protocol definition'],
  [`/${alice.did}/read/protocols/${b64}/post`, 'latest published record at a path'],
  [`/${alice.did}/read/protocols/${b64}/`, 'empty protocol path'],
  [`/${alice.did}/read/protocols/${Buffer.from('http://example.com/none').toString('base64url')}`, 'unknown protocol'],
  [`/${alice.did}/query/protocols`, 'published definitions'],
  [`/${alice.did}/query?filter.protocol=${enc(PROTO)}&filter.protocolPath=post`, 'records query by protocol'],
  [`/${alice.did}/query?filter.schema=${enc('http://example.com/note')}`, 'records query of unpublished records'],
  [`/${alice.did}/query`, 'records query without a filter'],
];
for (const [path, what] of gets) {
  [a, b] = await both(path);
  const strip = (v) => [v.status, v.type, v.text, v.json && (v.json.status ? { status: v.json.status, entries: v.json.entries } : v.json), v.dwnResponse?.status, v.dwnResponse?.entry?.recordsWrite, v.json ? undefined : v.sha];
  if (what === 'records query without a filter') same(`GET ${what}: status`, a.status, b.status);
  else same(`GET ${what}`, strip(a), strip(b));
}
[a, b] = await both(`/${alice.did}/query?filter.protocol=${enc(PROTO)}&pagination.limit=1`);
expect('GET /:did/query with pagination.limit: ours 200 (a number), dwn-server 400 (a string its schema refuses): documented',
  a.status === 200 && a.json?.entries?.length === 1 && b.status === 400, [a.status, b.status]);

// ---- JSON-RPC over WebSocket
async function socket(base) {
  const ws = new WebSocket(base.replace(/^http/, 'ws') + '/');
  await new Promise((ok, bad) => { ws.once('open', ok); ws.once('error', bad); });
  const inbox = [];
  ws.on('message', (m) => inbox.push(JSON.parse(m.toString())));
  const next = async (pred) => {
    for (let i = 0; i < 250; i++) {
      const k = inbox.findIndex(pred);
      if (k >= 0) return inbox.splice(k, 1)[0];
      await new Promise((ok) => setTimeout(ok, 20));
    }
    return undefined;
  };
  return { ws, next, send: (o) => ws.send(JSON.stringify(o)) };
}
const sa = await socket(ours), sb = await socket(theirs);
const live = await sdk.RecordsSubscribe.create({ filter: { schema: 'http://example.com/live' }, signer: alice.signer });
const subReq = { jsonrpc: '2.0', id: 'r1', method: 'rpc.subscribe.dwn.processMessage', params: { target: alice.did, message: live.message }, subscription: { id: 's1' } };
sa.send(subReq); sb.send(subReq);
let [ma, mb] = [await sa.next((x) => x.id === 'r1'), await sb.next((x) => x.id === 'r1')];
same('WebSocket subscribe: the reply', ma, mb);
const lw = await sdk.RecordsWrite.create({ data: Buffer.from('live'), dataFormat: 'text/plain', schema: 'http://example.com/live', signer: alice.signer });
await send(alice.did, lw.message, Buffer.from('live'));
[ma, mb] = [await sa.next((x) => x.id === 's1'), await sb.next((x) => x.id === 's1')];
same('WebSocket event: the whole message', ma, mb);
sa.send(subReq); sb.send(subReq);
[ma, mb] = [await sa.next((x) => x.id === 'r1'), await sb.next((x) => x.id === 'r1')];
same('WebSocket subscription id reuse: the error', ma, mb);
const plain = { jsonrpc: '2.0', id: 'r2', method: 'dwn.processMessage', params: { target: alice.did, message: live.message } };
sa.send(plain); sb.send(plain);
[ma, mb] = [await sa.next((x) => x.id === 'r2'), await sb.next((x) => x.id === 'r2')];
same('WebSocket Subscribe without a subscription: the error', ma, mb);
const rq = await sdk.RecordsQuery.create({ filter: { schema: 'http://example.com/live' }, signer: alice.signer });
const qreq = { jsonrpc: '2.0', id: 'r3', method: 'dwn.processMessage', params: { target: alice.did, message: rq.message } };
sa.send(qreq); sb.send(qreq);
[ma, mb] = [await sa.next((x) => x.id === 'r3'), await sb.next((x) => x.id === 'r3')];
same('WebSocket RecordsQuery: the reply', ma, mb);
// params {} as dwn-server's own client (JsonRpcSocket) sends it: without params dwn-server throws and never answers
const closeReq = { jsonrpc: '2.0', id: 'r4', method: 'rpc.subscribe.close', params: {}, subscription: { id: 's1' } };
sa.send(closeReq); sb.send(closeReq);
[ma, mb] = [await sa.next((x) => x.id === 'r4'), await sb.next((x) => x.id === 'r4')];
same('WebSocket rpc.subscribe.close: the reply', ma, mb);
sa.send(closeReq); sb.send(closeReq);
[ma, mb] = [await sa.next((x) => x.id === 'r4'), await sb.next((x) => x.id === 'r4')];
same('WebSocket close of an unknown subscription: the error', ma, mb);
const ww = await sdk.RecordsWrite.create({ data: Buffer.from('ws'), dataFormat: 'text/plain', signer: alice.signer });
const wreq = { jsonrpc: '2.0', id: 'r5', method: 'dwn.processMessage', params: { target: alice.did, message: ww.message, encodedData: Buffer.from('ws').toString('base64url') } };
sa.send(wreq); sb.send(wreq);
[ma, mb] = [await sa.next((x) => x.id === 'r5'), await sb.next((x) => x.id === 'r5')];
expect('WebSocket RecordsWrite: ours 202 (documented extension), dwn-server -32602',
  ma?.result?.reply?.status?.code === 202 && mb?.error?.code === -32602, [ma, mb]);
sa.ws.terminate(); sb.ws.terminate();
console.log(`dwn-http-parity: ${checks - failures} of ${checks} comparisons hold`);
process.exit(failures ? 1 : 0);
