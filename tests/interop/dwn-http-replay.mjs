// The differential scenarios (docs/dwn-scenarios.md) replayed through the DWN
// listener over HTTP and WebSocket instead of the engine's C API
// (driven by tests/interop/dwn-http-replay.sh).  Each scenario gets a fresh repository
// and anyad serving only its DWN listener; every step's message goes out the way @web5/dwn-server
// 0.6.1's client sends it (JSON-RPC in the dwn-request header, record data as
// the body, chunked when it is empty so the server still sees a data stream),
// Subscribe messages as rpc.subscribe.dwn.processMessage over one WebSocket,
// and the answer is compared with what dwn-sdk-js 0.5.2 answered, by the same
// rules as check_dwn_replay.c: status code and detail code, entries, cursor
// (Messages.Query: messageCid only), entry, the returned data's sha256 and
// the events each subscription received during the step (a WebSocket round
// trip after each step flushes them: the listener queues events before it
// answers the write).  A step with cursorFrom gets the listener's own cursor
// and is re-signed by the identity that signed it.
// Not comparable: a Subscribe step of a scenario recorded WITHOUT an event
// stream (the SDK answered 501); the listener always has one, as dwn-server
// does, so such steps are counted as "n/a", not as matches.
// DWN_HTTP_REPLAY_JOBS (2): scenarios replayed at once, each on its own listener.
// Usage: node dwn-http-replay.mjs NPM_DIR WS_DIR SCENARIOS.json WORKDIR ANYA ANYAD PASSING.txt [NAME-SUBSTRING]
import { createHash } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { loadSdk, genData, jwsPayload, clone, sdk } from './dwn/harness.mjs';

const [npmDir, wsDir, scenariosPath, work, anya, anyad, passingPath, only] = process.argv.slice(2);
await loadSdk(npmDir);
const WebSocket = createRequire(join(wsDir, 'node_modules', 'x.js'))('ws');
const doc = JSON.parse(readFileSync(scenariosPath, 'utf8'));
const must = new Set(readFileSync(passingPath, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGTERM'); });

const sha = (b) => createHash('sha256').update(b).digest('hex');
const codeOf = (detail) => { const i = (detail ?? '').indexOf(':'); return i < 0 ? (detail ?? '') : detail.slice(0, i); };
function eq(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => eq(x, b[i]));
  const ka = Object.keys(a).filter((k) => a[k] !== undefined), kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && eq(a[k], b[k]));
}
const show = (x) => (x === undefined ? '(absent)' : JSON.stringify(x)).slice(0, 400);
// dwn-reference.md §13.1: header JSON must stay ASCII
const asciiJson = (x) => JSON.stringify(x).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));

async function startServer(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, '..'), { recursive: true });
  execFileSync(anya, ['--repo', dir, 'init'], { stdio: 'ignore' });
  const child = spawn(anyad, ['--repo', dir, '--mount', 'off', '--dwn', '127.0.0.1:0', '--gateway', 'off', '--rpc', 'off',
    '--p2p', 'off', '--foreground'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  const port = await new Promise((ok, bad) => {
    const timer = setTimeout(() => bad(new Error('the listener did not start in 10 s: ' + err)), 10000);
    child.stderr.on('data', (d) => {
      err += d;
      const m = /listening listener=dwn address=[0-9.]+:(\d+)/.exec(err);
      if (m) { clearTimeout(timer); ok(Number(m[1])); }
    });
    child.once('exit', (c) => { clearTimeout(timer); bad(new Error(`the listener exited ${c}: ${err}`)); });
  });
  return { child, url: `http://127.0.0.1:${port}`, stderr: () => err };
}

async function stopServer(s) {
  const done = new Promise((ok) => s.child.once('exit', ok));
  s.child.kill('SIGTERM');
  await Promise.race([done, new Promise((ok) => setTimeout(ok, 10000))]);
  children.delete(s.child);
}

async function post(url, target, message, data) {
  const rpc = { jsonrpc: '2.0', id: 1, method: 'dwn.processMessage', params: { target, message } };
  const opts = { method: 'POST', headers: { 'dwn-request': asciiJson(rpc) } };
  if (data && data.length === 0) return postEmptyChunked(url, opts.headers);
  if (data) {
    opts.headers['content-type'] = 'application/octet-stream';
    opts.body = data;
  }
  const resp = await fetch(url, opts);
  if (resp.headers.has('dwn-response')) {
    const rpcResponse = JSON.parse(resp.headers.get('dwn-response'));
    return { status: resp.status, rpc: rpcResponse, bytes: Buffer.from(await resp.arrayBuffer()) };
  }
  const text = await resp.text();
  let rpcResponse;
  try { rpcResponse = JSON.parse(text); } catch { rpcResponse = { text }; }
  return { status: resp.status, rpc: rpcResponse };
}

// Empty record data: a chunked body with no chunk (fetch would send
// Content-Length: 0, which dwn-server and the listener read as "no data").
function postEmptyChunked(url, headers) {
  return new Promise((ok, bad) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: '/', method: 'POST',
      headers: { ...headers, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        if (res.headers['dwn-response']) return ok({ status: res.statusCode, rpc: JSON.parse(res.headers['dwn-response']), bytes });
        let rpc;
        try { rpc = JSON.parse(bytes.toString()); } catch { rpc = { text: bytes.toString() }; }
        ok({ status: res.statusCode, rpc });
      });
    });
    req.on('error', bad);
    req.end();
  });
}

function stepData(step) {
  const d = step.data;
  if (!d) return undefined;
  if (d.seed !== undefined) return Buffer.from(genData(d.seed, d.size));
  return Buffer.from(d.base64url ?? '', 'base64url');
}

async function resign(scenario, step, cursors) {
  const cursor = cursors[step.cursorFrom];
  if (!cursor) throw new Error(`cursorFrom ${step.cursorFrom}: that step's reply has no cursor`);
  const m = clone(step.message);
  m.descriptor.cursor = cursor;
  const header = JSON.parse(Buffer.from(m.authorization.signature.signatures[0].protected, 'base64url').toString());
  const who = Object.values(scenario.identities).find((i) => i.kid === header.kid);
  if (!who) throw new Error(`cursorFrom: no identity with kid ${header.kid}`);
  const signer = new sdk.PrivateKeySigner({ privateJwk: who.privateJwk, keyId: who.kid, algorithm: header.alg });
  const payload = jwsPayload(m.authorization.signature);
  m.authorization = await sdk.Message.createAuthorization({
    descriptor: m.descriptor, signer,
    ...(payload.permissionGrantId ? { permissionGrantId: payload.permissionGrantId } : {}),
    ...(payload.protocolRole ? { protocolRole: payload.protocolRole } : {}),
  });
  return m;
}

// Compares one reply (check_dwn_replay.c's compare); a string says why not.
function compare(step, reply, bytes) {
  const want = step.reply;
  if (!reply) return 'no reply';
  const wd = want.status.detail ?? '', gd = reply.status?.detail ?? '';
  if (want.status.code !== reply.status?.code || codeOf(wd) !== codeOf(gd))
    return `status: want ${want.status.code} "${wd.slice(0, 200)}", got ${reply.status?.code} "${gd.slice(0, 200)}"`;
  if (!eq(want.entries, reply.entries)) return `entries differ:\n      want ${show(want.entries)}\n      got  ${show(reply.entries)}`;
  const nondet = step.nondeterministic ?? [];
  if (nondet.includes('reply.cursor.value') || nondet.includes('reply.cursor')) {
    if (!want.cursor !== !reply.cursor) return `cursor presence differs: want ${show(want.cursor)}, got ${show(reply.cursor)}`;
    if (want.cursor && want.cursor.messageCid !== reply.cursor.messageCid) return `cursor.messageCid differs: want ${want.cursor.messageCid}, got ${reply.cursor.messageCid}`;
  } else if (!eq(want.cursor, reply.cursor)) {
    return `cursor differs: want ${show(want.cursor)}, got ${show(reply.cursor)}`;
  }
  if (want.entry || reply.entry) {
    const w = clone(want.entry) ?? {};
    const wantData = w.data;
    delete w.data;
    if (!eq(want.entry ? w : undefined, reply.entry)) return `entry differs:\n      want ${show(w)}\n      got  ${show(reply.entry)}`;
    if (wantData && (!bytes || sha(bytes) !== wantData.sha256)) return `data: want sha256 ${wantData.sha256}, got ${bytes ? sha(bytes) + ` (${bytes.length} bytes)` : 'none'}`;
    if (!wantData && bytes) return 'data: the reference returned none, the listener some';
  }
  return null;
}

let passed = 0, total = 0, stepsOk = 0, steps = 0, stepsNa = 0, requiredFailed = 0, naScenarios = 0;
async function runScenario(index, scenario) {
  const dir = join(work, String(index));
  let why = null, na = 0;
  let srv;
  try {
    srv = await startServer(dir);
  } catch (e) {
    why = String(e.message);
  }
  let ws = null;
  const inbox = [];
  let waiter = null;
  const subSteps = new Map(); // JSON-RPC subscription id -> step
  let seq = 0;
  const cursors = [];
  const wsRequest = async (obj) => {
    const id = `r${++seq}`;
    ws.send(asciiJson({ ...obj, id, jsonrpc: '2.0' }));
    const deadline = Date.now() + 10000;
    for (;;) {
      const i = inbox.findIndex((x) => x.id === id);
      if (i >= 0) return inbox.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`no WebSocket reply to ${obj.method} in 10 s`);
      await new Promise((ok) => { waiter = ok; setTimeout(ok, 20); });
    }
  };
  for (const [i, step] of (why ? [] : scenario.steps.entries())) {
    steps++;
    let stepWhy = null;
    try {
      const message = step.cursorFrom !== undefined ? await resign(scenario, step, cursors) : step.message;
      const isSubscribe = message?.descriptor?.method === 'Subscribe';
      let reply, bytes;
      if (isSubscribe && !scenario.eventStream) {
        na++;
        stepsNa++;
        cursors.push(null);
        continue;
      }
      if (isSubscribe) {
        if (!ws) {
          ws = new WebSocket(srv.url.replace(/^http/, 'ws'));
          await new Promise((ok, bad) => { ws.once('open', ok); ws.once('error', bad); });
          ws.on('message', (m) => { inbox.push(JSON.parse(m.toString())); if (waiter) waiter(); });
        }
        subSteps.set(`s${i}`, i);
        const m = await wsRequest({ method: 'rpc.subscribe.dwn.processMessage', params: { target: step.tenant, message }, subscription: { id: `s${i}` } });
        if (m.error) stepWhy = `JSON-RPC error ${m.error.code} ${m.error.message}`;
        reply = m.result?.reply;
      } else {
        const r = await post(srv.url, step.tenant, message, stepData(step));
        if (r.rpc?.error || r.status !== 200) stepWhy = `HTTP ${r.status}: ${show(r.rpc)}`;
        reply = r.rpc?.result?.reply;
        bytes = r.bytes;
      }
      cursors.push(reply?.cursor ?? null);
      if (!stepWhy) stepWhy = compare(step, reply, bytes);
      if (!stepWhy && scenario.eventStream) {
        // flush: a round trip on the socket that carries the events
        const got = [];
        if (ws) {
          await wsRequest({ method: 'rpc.barrier' });
          for (let k = 0; k < inbox.length;) {
            const ev = inbox[k];
            if (subSteps.has(ev.id) && ev.result?.event) {
              inbox.splice(k, 1);
              const e = { subscriptionStep: subSteps.get(ev.id), messageCid: await sdk.Message.getCid(ev.result.event.message) };
              if (ev.result.event.initialWrite) e.initialWriteCid = await sdk.Message.getCid(ev.result.event.initialWrite);
              got.push(e);
            } else {
              k++;
            }
          }
        }
        if (!eq(step.events ?? [], got)) stepWhy = `events differ:\n      want ${show(step.events ?? [])}\n      got  ${show(got)}`;
      }
    } catch (e) {
      stepWhy = `error: ${e.message}`;
      cursors.push(null);
    }
    if (stepWhy) {
      if (process.env.DWN_REPLAY_VERBOSE) console.error(`  step ${i}: ${stepWhy}`);
      if (!why) why = `step ${i}${step.note ? ' ' + step.note : ''}: ${stepWhy}`;
    } else {
      stepsOk++;
    }
  }
  if (ws) ws.terminate();
  if (srv) {
    if (why && /error:|HTTP 5/.test(why)) why += `\n    listener stderr: ${srv.stderr().slice(-400)}`;
    await stopServer(srv);
    // a sanitizer build (make asan) reports at exit
    const report = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.exec(srv.stderr());
    if (report) why = (why ? why + '\n    ' : '') + 'sanitizer report: ' + srv.stderr().slice(report.index, report.index + 1500);
  }
  rmSync(dir, { recursive: true, force: true });
  return { name: scenario.name, why, na };
}

// DWN_HTTP_REPLAY_JOBS scenarios at a time (default 2: most of a step is
// waiting for an fsync or a process start); results printed in corpus order.
const chosen = [...doc.scenarios.entries()].filter(([, sc]) => !only || sc.name.includes(only));
const jobs = Math.max(1, Number(process.env.DWN_HTTP_REPLAY_JOBS ?? 2));
const results = new Array(chosen.length);
let nextJob = 0, printed = 0;
function report() {
  for (; printed < chosen.length && results[printed]; printed++) {
    const { name, why, na } = results[printed];
    total++;
    const required = must.has(name);
    if (!why && na) {
      naScenarios++;
      console.log(`N/A  ${name}   (${na} Subscribe step(s) recorded without an event stream; the rest match)`);
    } else if (!why) {
      passed++;
      console.log(`PASS ${name}`);
    } else {
      console.log(`FAIL ${name}${required ? '   (REQUIRED)' : ''}\n    ${why}`);
      if (required) requiredFailed++;
    }
  }
}
await Promise.all(Array.from({ length: jobs }, async () => {
  while (nextJob < chosen.length) {
    const k = nextJob++;
    const [index, scenario] = chosen[k];
    results[k] = await runScenario(index, scenario);
    report();
  }
}));
console.log(`replay over HTTP: ${passed} of ${total} scenarios match, ${naScenarios} match apart from n/a steps (${stepsOk} of ${steps} steps match, ${stepsNa} n/a)`);
process.exit(requiredFailed ? 1 : 0);
