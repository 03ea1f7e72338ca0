// The DWN listener end to end (tests/interop/dwn-http.sh): messages signed
// by dwn-sdk-js 0.5.2, sent the way @web5/dwn-server 0.6.1's own client does
// (a JSON-RPC request object in the dwn-request header, record data as an
// application/octet-stream body; replies with data carry the JSON-RPC
// response in the dwn-response header), WebSocket subscriptions with ws 8.18.
// Usage: node dwn-http.mjs NPM_DIR WS_NPM_DIR URL SMALL_MAX_URL SMALL_MAX_BYTES
// Prints one line per check; exits 1 on the first failure.
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { loadSdk, identity, genData, ts, sdk } from './dwn/harness.mjs';

const [npmDir, wsDir, url, smallUrl, smallMaxText] = process.argv.slice(2);
const smallMax = Number(smallMaxText);
await loadSdk(npmDir);
// Every builder below takes "now" from here: increasing, deterministic.
let clock = 0;
sdk.Time.getCurrentTimestamp = () => ts(++clock);
const WebSocket = createRequire(join(wsDir, 'node_modules', 'x.js'))('ws');

const sha = (b) => createHash('sha256').update(b).digest('hex');
let checks = 0;
function check(ok, what, detail) {
  checks++;
  if (!ok) {
    console.log(`FAIL: ${what}${detail === undefined ? '' : ': ' + (typeof detail === 'string' ? detail : JSON.stringify(detail)).slice(0, 600)}`);
    process.exit(1);
  }
  console.log(`ok ${what}`);
}

// dwn-server's tests/utils.ts sendHttpMessage, with the raw response kept.
async function send(target, message, data, { base = url, stream = false, extra = {} } = {}) {
  const rpc = { jsonrpc: '2.0', id: randomUUID(), method: 'dwn.processMessage', params: { target, message }, ...extra };
  const opts = { method: 'POST', headers: { 'dwn-request': JSON.stringify(rpc) } };
  if (data !== undefined) {
    opts.headers['content-type'] = 'application/octet-stream';
    if (stream) {
      // chunked: no Content-Length, 1 MiB pieces
      opts.body = new ReadableStream({
        start(c) { for (let o = 0; o < data.length; o += 1 << 20) c.enqueue(data.subarray(o, o + (1 << 20))); c.close(); },
      });
      opts.duplex = 'half';
    } else {
      opts.body = data;
    }
  }
  const resp = await fetch(base, opts);
  let rpcResponse, bytes;
  if (resp.headers.has('dwn-response')) {
    rpcResponse = JSON.parse(resp.headers.get('dwn-response'));
    bytes = Buffer.from(await resp.arrayBuffer());
  } else {
    const text = await resp.text();
    try { rpcResponse = JSON.parse(text); } catch { rpcResponse = { text }; }
  }
  return { resp, status: resp.status, rpc: rpcResponse, reply: rpcResponse?.result?.reply, bytes, id: rpc.id };
}
const code = (r) => r.reply?.status?.code;

const alice = await identity('alice');
const bob = await identity('bob');

// ---- plain endpoints
{
  const r = await fetch(url + '/');
  const text = await r.text();
  check(r.status === 200 && r.headers.get('content-type').startsWith('text/plain') && text.includes('web5'), 'GET / plain-text hint', text);
  const info = await (await fetch(url + '/info')).json();
  check(info.server === 'anya' && info.sdkVersion === '0.5.2' && info.webSocketSupport === true &&
        Array.isArray(info.registrationRequirements) && info.registrationRequirements.length === 0 &&
        typeof info.maxFileSize === 'number' && typeof info.version === 'string' && info.url.startsWith('http://'),
        'GET /info', info);
  const small = await (await fetch(smallUrl + '/info')).json();
  check(small.maxFileSize === smallMax, 'GET /info reports dwn.max_record_data_size', small);
  const h = await fetch(url + '/health');
  check(h.status === 200 && (await h.json()).ok === true, 'GET /health');
  const pre = await fetch(url + '/', { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'dwn-request,content-type' } });
  check(pre.status === 204 && pre.headers.get('access-control-allow-origin') === '*' &&
        /POST/.test(pre.headers.get('access-control-allow-methods')) && pre.headers.get('access-control-allow-headers') === 'dwn-request,content-type',
        'OPTIONS preflight (CORS)', [...pre.headers]);
}

// ---- RecordsWrite with data, small (inline) and 50 MiB (block engine, chunked upload), read back
const smallData = genData('http-small', 100);
const smallWrite = await sdk.RecordsWrite.create({ data: smallData, dataFormat: 'text/plain', schema: 'http://example.com/note', signer: alice.signer });
let r = await send(alice.did, smallWrite.message, smallData);
check(r.status === 200 && code(r) === 202 && r.rpc.jsonrpc === '2.0' && r.rpc.id === r.id, 'RecordsWrite 100 B over HTTP: 202', r.rpc);
check(r.resp.headers.get('access-control-allow-origin') === '*' && /dwn-response/i.test(r.resp.headers.get('access-control-expose-headers') || ''), 'CORS headers on POST', [...r.resp.headers]);

const BIG = 50 * 1024 * 1024;
const bigData = genData('http-big', BIG);
const bigWrite = await sdk.RecordsWrite.create({ data: bigData, dataFormat: 'application/octet-stream', schema: 'http://example.com/note', signer: alice.signer });
let t0 = Date.now();
r = await send(alice.did, bigWrite.message, bigData, { stream: true });
check(r.status === 200 && code(r) === 202, `RecordsWrite 50 MiB streamed (chunked) over HTTP: 202 in ${Date.now() - t0} ms`, r.rpc);

for (const [name, write, data] of [['100 B', smallWrite, smallData], ['50 MiB', bigWrite, bigData]]) {
  const read = await sdk.RecordsRead.create({ filter: { recordId: write.message.recordId }, signer: alice.signer });
  t0 = Date.now();
  r = await send(alice.did, read.message);
  check(r.status === 200 && r.resp.headers.get('content-type') === 'application/octet-stream' && code(r) === 200 &&
        r.reply.entry.recordsWrite.recordId === write.message.recordId && r.reply.entry.data === undefined,
        `RecordsRead ${name}: 200, dwn-response header`, r.rpc);
  check(r.bytes.length === data.length && sha(r.bytes) === sha(data), `RecordsRead ${name}: identical bytes (${Date.now() - t0} ms)`);
}

// Content-Length upload of a 1 MiB record (not chunked)
const midData = genData('http-mid', 1 << 20);
const midWrite = await sdk.RecordsWrite.create({ data: midData, dataFormat: 'application/octet-stream', schema: 'http://example.com/mid', signer: alice.signer });
r = await send(alice.did, midWrite.message, midData);
check(code(r) === 202, 'RecordsWrite 1 MiB with Content-Length: 202', r.rpc);

// a data mismatch is a DWN 400 in a 200 response, nothing stored
const lie = await sdk.RecordsWrite.create({ data: genData('lie', 5000), dataFormat: 'text/plain', signer: alice.signer });
r = await send(alice.did, lie.message, genData('other', 5000));
check(r.status === 200 && code(r) === 400 && /RecordsWriteDataCidMismatch/.test(r.reply.status.detail), 'RecordsWrite with other data: reply 400 DataCidMismatch', r.rpc);

// ---- RecordsQuery, ProtocolsConfigure/Query, RecordsDelete
let q = await sdk.RecordsQuery.create({ filter: { schema: 'http://example.com/note' }, signer: alice.signer });
r = await send(alice.did, q.message);
check(code(r) === 200 && r.reply.entries.length === 2 && r.reply.entries.some((e) => e.encodedData === Buffer.from(smallData).toString('base64url')),
      'RecordsQuery: both records, inline data as encodedData', r.reply);

const PROTO = 'http://example.com/blog';
const definition = {
  protocol: PROTO, published: true,
  types: { post: { schema: 'http://example.com/post', dataFormats: ['text/plain'] } },
  structure: { post: { $actions: [{ who: 'anyone', can: ['read'] }] } },
};
const conf = await sdk.ProtocolsConfigure.create({ definition, signer: alice.signer });
r = await send(alice.did, conf.message);
check(code(r) === 202, 'ProtocolsConfigure: 202', r.rpc);
const pq = await sdk.ProtocolsQuery.create({ filter: { protocol: PROTO } });
r = await send(alice.did, pq.message);
check(code(r) === 200 && r.reply.entries.length === 1 && r.reply.entries[0].descriptor.definition.protocol === PROTO, 'ProtocolsQuery (anonymous, published): 1 entry', r.reply);

const del = await sdk.RecordsDelete.create({ recordId: midWrite.message.recordId, signer: alice.signer });
r = await send(alice.did, del.message);
check(code(r) === 202, 'RecordsDelete: 202', r.rpc);
const gone = await sdk.RecordsRead.create({ filter: { recordId: midWrite.message.recordId }, signer: alice.signer });
r = await send(alice.did, gone.message);
check(r.status === 200 && code(r) === 404 && r.reply.entry?.recordsDelete, 'RecordsRead after delete: 404 with recordsDelete', r.rpc);

// ---- published records under the protocol, for the convenience reads
const postData = Buffer.from('hello from anya');
const post = await sdk.RecordsWrite.create({ data: postData, dataFormat: 'text/plain', protocol: PROTO, protocolPath: 'post', schema: 'http://example.com/post', published: true, signer: alice.signer });
r = await send(alice.did, post.message, postData);
check(code(r) === 202, 'published protocol record: 202', r.rpc);
const secretData = Buffer.from('not for you');
const secret = await sdk.RecordsWrite.create({ data: secretData, dataFormat: 'text/plain', signer: alice.signer });
r = await send(alice.did, secret.message, secretData);
check(code(r) === 202, 'unpublished record: 202', r.rpc);

for (const route of ['records', 'read/records']) {
  const g = await fetch(`${url}/${alice.did}/${route}/${post.message.recordId}`);
  const body = Buffer.from(await g.arrayBuffer());
  const hdr = JSON.parse(g.headers.get('dwn-response') || 'null');
  check(g.status === 200 && g.headers.get('content-type').startsWith('text/plain') && body.equals(postData) &&
        hdr?.status?.code === 200 && hdr.entry.recordsWrite.recordId === post.message.recordId,
        `GET /:did/${route}/:id of a published record`, { status: g.status, hdr });
  const s = await fetch(`${url}/${alice.did}/${route}/${secret.message.recordId}`);
  check(s.status === 404 && (await s.text()) === 'Not Found', `GET /:did/${route}/:id of an unpublished record: 404 (DWN 401)`);
}
{
  const g2 = await fetch(`${url}/${encodeURIComponent(alice.did)}/RECORDS/${post.message.recordId}/`);
  check(g2.status === 200 && Buffer.from(await g2.arrayBuffer()).equals(postData), 'Express routing: an escaped DID, any case, a trailing slash');
  const i2 = await fetch(`${url}/Info/`);
  check(i2.status === 200 && (await i2.json()).server === 'anya', 'GET /Info/');
}
const b64proto = Buffer.from(PROTO).toString('base64url');
let g = await fetch(`${url}/${alice.did}/read/protocols/${b64proto}`);
let j = await g.json();
check(g.status === 200 && j.descriptor?.definition?.protocol === PROTO, 'GET /:did/read/protocols/:b64u: the definition', j);
g = await fetch(`${url}/${alice.did}/read/protocols/${b64proto}/post`);
let body = Buffer.from(await g.arrayBuffer());
check(g.status === 200 && body.equals(postData) && g.headers.get('dwn-response'), 'GET /:did/read/protocols/:b64u/post: the latest published record', { status: g.status, body: body.toString() });
g = await fetch(`${url}/${alice.did}/read/protocols/${Buffer.from('http://example.com/none').toString('base64url')}/post`);
check(g.status === 404, 'GET /:did/read/protocols/<unknown>/post: 404', g.status);
g = await fetch(`${url}/${alice.did}/query/protocols`);
j = await g.json();
check(g.status === 200 && Array.isArray(j) && j.length === 1, 'GET /:did/query/protocols', j);
g = await fetch(`${url}/${alice.did}/query?filter.protocol=${encodeURIComponent(PROTO)}&filter.protocolPath=post&pagination.limit=1`);
j = await g.json();
check(g.status === 200 && j.status.code === 200 && j.entries.length === 1 && j.entries[0].recordId === post.message.recordId, 'GET /:did/query?filter.protocol=..&pagination.limit=1', j);
g = await fetch(`${url}/${alice.did}/query?filter.schema=${encodeURIComponent('http://example.com/note')}`);
j = await g.json();
check(g.status === 200 && j.status.code === 200 && j.entries.length === 0, 'GET /:did/query: unpublished records stay hidden', j);

// ---- JSON-RPC errors
let resp = await fetch(url, { method: 'POST' });
j = await resp.json();
check(resp.status === 400 && j.error.code === -50400 && j.error.message === 'request payload required.', 'no dwn-request header: 400 -50400', j);
resp = await fetch(url, { method: 'POST', headers: { 'dwn-request': '{"jsonrpc":' } });
j = await resp.json();
check(resp.status === 400 && j.error.code === -50400 && typeof j.id === 'string', 'unparsable dwn-request: 400 -50400', j);
const sub = await sdk.RecordsSubscribe.create({ filter: { schema: 'http://example.com/live' }, signer: alice.signer });
r = await send(alice.did, sub.message);
check(r.status === 500 && r.rpc.error.code === -32600, 'RecordsSubscribe over HTTP: 500 -32600', r.rpc);
resp = await fetch(url, { method: 'POST', headers: { 'dwn-request': JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'dwn.nope', params: {} }) } });
j = await resp.json();
check(resp.status === 500 && j.error.code === -32601 && j.id === 7, 'unknown method: -32601 (dwn-server hangs)', j);

resp = await fetch(url, { method: 'POST', headers: { 'dwn-request': JSON.stringify({ jsonrpc: '2.0', id: 'p', method: 'dwn.processMessage', params: { target: alice.did } }) } });
j = await resp.json();
check(resp.status === 500 && j.error.code === -32602 && j.id === 'p', 'no params.message: -32602', j);
resp = await fetch(url, { method: 'POST', headers: { 'dwn-request': '[1,2]' } });
j = await resp.json();
check(resp.status === 400 && j.error.code === -50400, 'a dwn-request that is not an object: 400 -50400', j);

// a client that goes away in the middle of a 20 MiB upload: nothing stored, the listener carries on
{
  const cut = genData('http-cut', 20 << 20);
  const cutWrite = await sdk.RecordsWrite.create({ data: cut, dataFormat: 'application/octet-stream', signer: alice.signer });
  const abort = new AbortController();
  let sent = 0;
  const body = new ReadableStream({
    pull(c) {
      if (sent >= (4 << 20)) { setTimeout(() => abort.abort(), 200); return new Promise(() => {}); }
      c.enqueue(cut.subarray(sent, sent + (1 << 20)));
      sent += 1 << 20;
    },
  });
  const rpc = { jsonrpc: '2.0', id: 'cut', method: 'dwn.processMessage', params: { target: alice.did, message: cutWrite.message } };
  let aborted = false;
  try {
    await fetch(url, { method: 'POST', headers: { 'dwn-request': JSON.stringify(rpc), 'content-type': 'application/octet-stream' }, body, duplex: 'half', signal: abort.signal });
  } catch { aborted = true; }
  check(aborted, 'an upload aborted after 4 of 20 MiB');
  await new Promise((ok) => setTimeout(ok, 300));
  const h = await fetch(url + '/health');
  check(h.status === 200, 'the listener still answers after the abort');
  const rd = await sdk.RecordsRead.create({ filter: { recordId: cutWrite.message.recordId }, signer: alice.signer });
  r = await send(alice.did, rd.message);
  check(code(r) === 404, 'the aborted record was not stored', r.rpc);
}

// 413: the small-max server, by Content-Length before reading, and while streaming a chunked body
const over = genData('http-over', smallMax + 1);
const overWrite = await sdk.RecordsWrite.create({ data: over, dataFormat: 'application/octet-stream', signer: alice.signer });
r = await send(alice.did, overWrite.message, over, { base: smallUrl });
check(r.status === 413 && r.rpc.error.code === -50413 && r.rpc.id === r.id, 'record data above the maximum (Content-Length): 413 JSON-RPC error', r.rpc);
r = await send(alice.did, overWrite.message, over, { base: smallUrl, stream: true });
check(r.status === 413 && r.rpc.error.code === -50413, 'record data above the maximum (chunked): 413 JSON-RPC error', r.rpc);
const okData = genData('http-fits', smallMax);
const okWrite = await sdk.RecordsWrite.create({ data: okData, dataFormat: 'application/octet-stream', signer: alice.signer });
r = await send(alice.did, okWrite.message, okData, { base: smallUrl, stream: true });
check(code(r) === 202, 'record data of exactly the maximum: 202', r.rpc);
const rq = await sdk.RecordsRead.create({ filter: { recordId: overWrite.message.recordId }, signer: alice.signer });
r = await send(alice.did, rq.message, undefined, { base: smallUrl });
check(code(r) === 404, 'the refused record was not stored', r.rpc);

// record data sent as application/json with the dwn-request header is still the data
// (dwn-server's JSON body parser would swallow it: a DataCidMismatch there)
{
  const jd = Buffer.from(JSON.stringify({ hello: 'world' }));
  const jw = await sdk.RecordsWrite.create({ data: jd, dataFormat: 'application/json', signer: alice.signer });
  const rpc = { jsonrpc: '2.0', id: 'jd', method: 'dwn.processMessage', params: { target: alice.did, message: jw.message } };
  resp = await fetch(url, { method: 'POST', headers: { 'dwn-request': JSON.stringify(rpc), 'content-type': 'application/json' }, body: jd });
  j = await resp.json();
  check(resp.status === 200 && j.result.reply.status.code === 202, 'JSON record data with Content-Type application/json: 202', j);
}

// ---- extension: the JSON-RPC request as an application/json body
q = await sdk.RecordsQuery.create({ filter: { schema: 'http://example.com/note' }, signer: alice.signer });
resp = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 'b1', method: 'dwn.processMessage', params: { target: alice.did, message: q.message } }) });
j = await resp.json();
check(resp.status === 200 && j.id === 'b1' && j.result.reply.status.code === 200 && j.result.reply.entries.length === 2, 'JSON-RPC request in the body (no dwn-request header)', j);
const encData = genData('http-encoded', 2000);
const encWrite = await sdk.RecordsWrite.create({ data: encData, dataFormat: 'text/plain', signer: alice.signer });
resp = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'dwn.processMessage', params: { target: alice.did, message: encWrite.message, encodedData: Buffer.from(encData).toString('base64url') } }) });
j = await resp.json();
check(resp.status === 200 && j.id === 2 && j.result.reply.status.code === 202, 'RecordsWrite in the body with params.encodedData: 202', j);

// ---- a 40 KiB dwn-request header (Node's default limit is 16 KiB)
const tags = {};
// (each value under the message store's 1024-byte index value limit)
for (let i = 0; i < 10; i++) tags['t' + i] = Array.from({ length: 4 }, (_, k) => String(k).repeat(1000));
const bigData2 = Buffer.from('tagged');
const tagged = await sdk.RecordsWrite.create({ data: bigData2, dataFormat: 'text/plain', tags, signer: alice.signer });
const headerLen = JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'dwn.processMessage', params: { target: alice.did, message: tagged.message } }).length;
r = await send(alice.did, tagged.message, bigData2);
check(headerLen > 40000 && code(r) === 202, `a ${headerLen}-byte dwn-request header: 202`, r.rpc);

// ---- WebSocket: subscribe, events, close, reuse
const wsUrl = url.replace(/^http/, 'ws');
const ws = new WebSocket(wsUrl + '/');
await new Promise((ok, bad) => { ws.once('open', ok); ws.once('error', bad); });
const inbox = [];
let waiter = null;
ws.on('message', (m) => { inbox.push(JSON.parse(m.toString())); if (waiter) waiter(); });
async function next(pred, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const i = inbox.findIndex(pred);
    if (i >= 0) return inbox.splice(i, 1)[0];
    if (Date.now() > deadline) check(false, what, `timed out; inbox ${JSON.stringify(inbox).slice(0, 400)}`);
    await new Promise((ok) => { waiter = ok; setTimeout(ok, 50); });
  }
}
const rpcWs = (obj) => ws.send(JSON.stringify(obj));
const live = await sdk.RecordsSubscribe.create({ filter: { schema: 'http://example.com/live' }, signer: alice.signer });
rpcWs({ jsonrpc: '2.0', id: 'req-1', method: 'rpc.subscribe.dwn.processMessage', params: { target: alice.did, message: live.message }, subscription: { id: 'sub-1' } });
let m = await next((x) => x.id === 'req-1', 'subscribe reply');
check(m.result?.reply?.status?.code === 200 && typeof m.result.reply.subscription?.id === 'string', 'RecordsSubscribe over WebSocket: 200 with subscription.id', m);
const liveWrites = [];
for (let i = 0; i < 2; i++) {
  const d = Buffer.from('live ' + i);
  const w = await sdk.RecordsWrite.create({ data: d, dataFormat: 'text/plain', schema: 'http://example.com/live', signer: alice.signer });
  liveWrites.push(w);
  r = await send(alice.did, w.message, d);
  check(code(r) === 202, `live write ${i} over HTTP: 202`, r.rpc);
}
for (let i = 0; i < 2; i++) {
  m = await next((x) => x.id === 'sub-1', `event ${i}`);
  check(m.result?.event?.message?.recordId === liveWrites[i].message.recordId, `event ${i} for sub-1, in order`, m);
}
rpcWs({ jsonrpc: '2.0', id: 'req-2', method: 'rpc.subscribe.dwn.processMessage', params: { target: alice.did, message: live.message }, subscription: { id: 'sub-1' } });
m = await next((x) => x.id === 'req-2', 'reuse reply');
check(m.error?.code === -32602, 'reuse of an active subscription id: -32602', m);
rpcWs({ jsonrpc: '2.0', id: 'req-3', method: 'dwn.processMessage', params: { target: alice.did, message: live.message } });
m = await next((x) => x.id === 'req-3', 'subscribe without subscription');
check(m.error?.code === -32600, 'dwn.processMessage of a Subscribe over WebSocket: -32600', m);
rpcWs({ jsonrpc: '2.0', id: 'req-4', method: 'rpc.subscribe.close', subscription: { id: 'sub-1' } });
m = await next((x) => x.id === 'req-4', 'close reply');
check(m.result?.reply?.status === 200 && m.result.reply.detail === 'Accepted', 'rpc.subscribe.close: {status:200, detail:"Accepted"}', m);
const after = await sdk.RecordsWrite.create({ data: Buffer.from('after'), dataFormat: 'text/plain', schema: 'http://example.com/live', signer: alice.signer });
r = await send(alice.did, after.message, Buffer.from('after'));
rpcWs({ jsonrpc: '2.0', id: 'req-5', method: 'rpc.nothing' });
m = await next((x) => x.id === 'req-5', 'barrier');
check(m.error?.code === -32601 && !inbox.some((x) => x.id === 'sub-1'), 'no event after the subscription closed', inbox);
rpcWs({ jsonrpc: '2.0', id: 'req-6', method: 'rpc.subscribe.close', subscription: { id: 'sub-1' } });
m = await next((x) => x.id === 'req-6', 'close again');
check(m.error?.code === -32602, 'closing an unknown subscription: -32602', m);
ws.send('{nope');
m = await next((x) => x.error?.code === -50400, 'bad JSON over WebSocket');
check(true, 'unparsable request over WebSocket: -50400');

// extension: RecordsWrite over WebSocket with params.encodedData, read back over HTTP
const wsData = genData('ws-write', 40000);
const wsWrite = await sdk.RecordsWrite.create({ data: wsData, dataFormat: 'application/octet-stream', signer: alice.signer });
rpcWs({ jsonrpc: '2.0', id: 'w1', method: 'dwn.processMessage', params: { target: alice.did, message: wsWrite.message, encodedData: Buffer.from(wsData).toString('base64url') } });
m = await next((x) => x.id === 'w1', 'ws write');
check(m.result?.reply?.status?.code === 202, 'RecordsWrite over WebSocket with params.encodedData: 202', m);
const wsRead = await sdk.RecordsRead.create({ filter: { recordId: wsWrite.message.recordId }, signer: alice.signer });
r = await send(alice.did, wsRead.message);
check(code(r) === 200 && sha(r.bytes) === sha(wsData), 'the WebSocket-written record reads back over HTTP', r.rpc);
// a second subscription on another socket that then closes: the server unsubscribes it
const ws2 = new WebSocket(wsUrl + '/any/path');
await new Promise((ok, bad) => { ws2.once('open', ok); ws2.once('error', bad); });
const got2 = [];
ws2.on('message', (x) => got2.push(JSON.parse(x.toString())));
ws2.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'rpc.subscribe.dwn.processMessage', params: { target: alice.did, message: live.message }, subscription: { id: 2 } }));
for (let i = 0; i < 100 && !got2.length; i++) await new Promise((ok) => setTimeout(ok, 20));
check(got2[0]?.id === 1 && got2[0]?.result?.reply?.status?.code === 200, 'subscription with numeric ids on another path', got2);
// the same subscribe message again on the first socket: two registrations of one message
rpcWs({ jsonrpc: '2.0', id: 'req-7', method: 'rpc.subscribe.dwn.processMessage', params: { target: alice.did, message: live.message }, subscription: { id: 'sub-again' } });
m = await next((x) => x.id === 'req-7', 'second subscription of the same message');
check(m.result?.reply?.status?.code === 200, 'the same subscribe message on a second socket: 200', m);
ws2.close();
await new Promise((ok) => ws2.once('close', ok));
await new Promise((ok) => setTimeout(ok, 200)); // the server's on_close of ws2
const last = await sdk.RecordsWrite.create({ data: Buffer.from('last'), dataFormat: 'text/plain', schema: 'http://example.com/live', signer: alice.signer });
r = await send(alice.did, last.message, Buffer.from('last'));
check(code(r) === 202, 'a write after a subscriber socket closed: 202');
m = await next((x) => x.id === 'sub-again', 'event after the other socket closed');
check(m.result?.event?.message?.recordId === last.message.recordId, "closing one socket leaves the other's identical subscription alive", m);
ws.close();
console.log(`dwn-http: all ${checks} checks passed`);
process.exit(0);
