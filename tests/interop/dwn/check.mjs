#!/usr/bin/env node
// Checks scenario documents written by gen.mjs (used by dwn-scenarios.sh).
//
// Usage: node check.mjs [--npm-dir DIR] RUN1.json RUN2.json
//   1. each document is well formed (format, unique names, every step has a
//      tenant, a message, its identifiers and a reply status);
//   2. every reply status is one dwn-reference §1 allows for the message's
//      interface+method (messages that are not a known pair: 400 only);
//   3. the generated data descriptions reproduce: {seed,size} data is
//      regenerated here from the documented rule and its sha256 compared,
//      inline data is decoded and compared;
//   4. coverage, computed from the messages and replies themselves (not from
//      scenario names): ≥ 100 scenarios, all ten interface.methods, all eight
//      status codes, and the feature list below; prints a table;
//   5. the two runs are identical except at the paths each step lists in
//      `nondeterministic`, where only presence and JSON type are compared;
//   6. with --npm-dir (the dwn_oracle install): the identifiers are
//      recomputed WITHOUT the SDK, from the rules of dwn-reference §3, with
//      @ipld/dag-cbor 9.0.3, multiformats 11.0.2 and ipfs-unixfs-importer
//      15.1.5: messageCid = CID(dag-cbor(message minus encodedData)),
//      descriptorCid, entryId = CID(descriptor + author), and for every
//      accepted write with data, dataCid = UnixFS CIDv1 (raw leaves, 256 KiB
//      chunks) of the regenerated data.
// Exit 0 when everything holds, 1 otherwise (each failure printed).
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ALLOWED = {
  RecordsWrite: [202, 204, 400, 401, 409],
  RecordsRead: [200, 400, 401, 404],
  RecordsQuery: [200, 400, 401],
  RecordsDelete: [202, 400, 401, 404, 409],
  RecordsSubscribe: [200, 400, 401, 501],
  ProtocolsConfigure: [202, 400, 401, 409],
  ProtocolsQuery: [200, 400, 401],
  MessagesQuery: [200, 400, 401],
  MessagesRead: [200, 400, 401, 404],
  MessagesSubscribe: [200, 400, 401, 501],
};
const PERMISSIONS = 'https://tbd.website/dwn/permissions';
const failures = [];
const fail = (m) => failures.push(m);

function genBytes(seed, size) {
  const out = Buffer.allocUnsafe(size);
  const s = Buffer.from(seed, 'utf8');
  const ctr = Buffer.alloc(4);
  for (let i = 0, off = 0; off < size; i++, off += 32) {
    ctr.writeUInt32BE(i);
    createHash('sha256').update(s).update(ctr).digest().copy(out, off, 0, Math.min(32, size - off));
  }
  return out;
}

/** Recomputes the identifiers of every step independently of the SDK (§3). */
async function checkIds(doc, npmDir) {
  const nm = join(npmDir, 'node_modules');
  const imp = (p) => import(pathToFileURL(join(nm, p)).href);
  const dagCbor = await imp('@ipld/dag-cbor/src/index.js');
  const { CID } = await imp('multiformats/src/cid.js');
  const { sha256 } = await imp('multiformats/src/hashes/sha2.js');
  const { importer } = await imp('ipfs-unixfs-importer/dist/src/index.js');
  const cidOf = async (x) => CID.createV1(0x71, await sha256.digest(dagCbor.encode(x))).toString();
  const dataCid = async (bytes) => {
    let last;
    for await (const e of importer([{ content: bytes }], { put: async (c) => c }, { cidVersion: 1 })) last = e;
    return last.cid.toString();
  };
  let n = 0, nd = 0;
  for (const sc of doc.scenarios) {
    for (const [i, st] of sc.steps.entries()) {
      const where = `${sc.name} step ${i}`;
      const nondet = new Set(st.nondeterministic ?? []);
      let m;
      try { m = { ...st.message }; delete m.encodedData; } catch { continue; }
      if (st.ids.messageCid && !nondet.has('ids.messageCid')) {
        let c;
        try { c = await cidOf(m); } catch (e) { fail(`${where}: message not dag-cbor encodable: ${e.message}`); continue; }
        if (c !== st.ids.messageCid) fail(`${where}: messageCid ${st.ids.messageCid}, recomputed ${c}`);
        n++;
      }
      if (st.ids.descriptorCid && !nondet.has('ids.descriptorCid') && (await cidOf(m.descriptor)) !== st.ids.descriptorCid) fail(`${where}: descriptorCid differs`);
      if (st.ids.entryId) {
        // logical author: signer of the author-delegated grant if any, else the signer (§4.1)
        const jws = m.authorization?.authorDelegatedGrant?.authorization?.signature ?? m.authorization?.signature;
        if (signerDid(jws) !== st.ids.author) fail(`${where}: author ${st.ids.author}, signature says ${signerDid(jws)}`);
        const e = await cidOf({ ...m.descriptor, author: st.ids.author });
        if (e !== st.ids.entryId) fail(`${where}: entryId ${st.ids.entryId}, recomputed ${e}`);
        if ((e === m.recordId) !== st.ids.initialWrite) fail(`${where}: initialWrite flag`);
      }
      if (st.data?.seed !== undefined && [202, 204].includes(st.reply.status.code)) {
        const c = await dataCid(genBytes(st.data.seed, st.data.size));
        if (c !== m.descriptor.dataCid) fail(`${where}: dataCid ${m.descriptor.dataCid}, importer gives ${c}`);
        nd++;
      }
    }
  }
  console.log(`identifiers recomputed without the SDK: ${n} messageCids, ${nd} dataCids`);
}

function genSha256(seed, size) {
  const h = createHash('sha256');
  const s = Buffer.from(seed, 'utf8');
  const ctr = Buffer.alloc(4);
  let left = size;
  for (let i = 0; left > 0; i++) {
    ctr.writeUInt32BE(i);
    const c = createHash('sha256').update(s).update(ctr).digest();
    h.update(left >= 32 ? c : c.subarray(0, left));
    left -= 32;
  }
  return h.digest('hex');
}
const payloadOf = (jws) => { try { return JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8')); } catch { return {}; } };
const signerDid = (jws) => { try { return JSON.parse(Buffer.from(jws.signatures[0].protected, 'base64url').toString('utf8')).kid.split('#')[0]; } catch { return undefined; } };

function validate(doc, label) {
  if (doc.format !== 'anya-dwn-scenarios/1') fail(`${label}: format is ${doc.format}`);
  if (!Array.isArray(doc.scenarios)) { fail(`${label}: no scenarios`); return; }
  const names = new Set();
  for (const sc of doc.scenarios) {
    if (names.has(sc.name)) fail(`${label}: duplicate scenario ${sc.name}`);
    names.add(sc.name);
    if (!sc.group || !sc.identities || !Array.isArray(sc.steps) || sc.steps.length === 0) fail(`${label}: ${sc.name}: incomplete scenario`);
    for (const [l, id] of Object.entries(sc.identities ?? {})) {
      if (!id.did || !id.kid || !id.publicJwk || !id.privateJwk?.d) fail(`${label}: ${sc.name}: identity ${l} incomplete`);
    }
    sc.steps.forEach((st, i) => {
      const where = `${label}: ${sc.name} step ${i}`;
      if (typeof st.tenant !== 'string' || !st.tenant.startsWith('did:')) fail(`${where}: tenant`);
      if (!st.message || typeof st.message !== 'object') fail(`${where}: message`);
      if (!st.ids || (!st.ids.messageCid && !st.ids.messageCidError)) fail(`${where}: ids.messageCid`);
      if (!Number.isInteger(st.reply?.status?.code) || typeof st.reply.status.detail !== 'string') fail(`${where}: reply.status`);
      const d = st.message?.descriptor ?? {};
      const key = `${d.interface}${d.method}`;
      const allowed = ALLOWED[key] ?? [400];
      if (!allowed.includes(st.reply?.status?.code)) fail(`${where}: status ${st.reply?.status?.code} not allowed for ${key}`);
      if (st.data) {
        if (st.data.seed !== undefined) {
          if (genSha256(st.data.seed, st.data.size) !== st.data.sha256) fail(`${where}: data {seed ${st.data.seed}, size ${st.data.size}} does not reproduce`);
        } else if (st.data.base64url !== undefined) {
          const b = Buffer.from(st.data.base64url, 'base64url');
          if (b.length !== st.data.size || createHash('sha256').update(b).digest('hex') !== st.data.sha256) fail(`${where}: inline data`);
        } else fail(`${where}: data has neither seed nor base64url`);
      }
      if (st.cursorFrom !== undefined && !(st.cursorFrom >= 0 && st.cursorFrom < i)) fail(`${where}: cursorFrom`);
    });
  }
}

function coverage(doc) {
  const sc = doc.scenarios;
  const feat = new Map();
  // hit(f) counts feature f; hit(f, cond) counts it when cond is truthy
  // (an undefined cond is false, not a missing argument).
  const hit = (f, ...cond) => { if (!feat.has(f)) feat.set(f, 0); if (cond.length === 0 || cond[0]) feat.set(f, feat.get(f) + 1); };
  const methods = new Map();
  const codes = new Set();
  const groups = new Map();
  const curves = new Set(), didMethods = new Set();
  for (const s of sc) {
    groups.set(s.group, (groups.get(s.group) ?? 0) + 1);
    for (const id of Object.values(s.identities)) { curves.add(id.curve); didMethods.add(id.did.split(':')[1]); }
    const acceptedCids = new Map(); // messageCid -> set of tenants
    const childParents = new Set();
    s.steps.forEach((st) => { if (st.message?.descriptor?.parentId && st.reply.status.code === 202) childParents.add(st.message.descriptor.parentId); });
    s.steps.forEach((st, i) => {
      const m = st.message, d = m.descriptor ?? {}, code = st.reply.status.code, detail = st.reply.status.detail;
      const key = `${d.interface}.${d.method}`;
      codes.add(code);
      if (ALLOWED[`${d.interface}${d.method}`]) {
        const e = methods.get(key) ?? new Set();
        e.add(code);
        methods.set(key, e);
      }
      const sig = m.authorization?.signature;
      const pl = sig ? payloadOf(sig) : {};
      const author = m.authorization?.authorDelegatedGrant ? signerDid(m.authorization.authorDelegatedGrant.authorization.signature) : (sig ? signerDid(sig) : undefined);
      const prefix = (p) => detail.startsWith(p);
      if ([202, 204].includes(code) && st.ids.messageCid) {
        const t = acceptedCids.get(st.ids.messageCid) ?? new Set();
        t.add(st.tenant);
        acceptedCids.set(st.ids.messageCid, t);
      }
      if (key === 'Records.Write') {
        hit('write: initial 202', code === 202 && st.ids.initialWrite === true);
        hit('write: update 202', code === 202 && st.ids.initialWrite === false);
        hit('write: 204 data-less initial', code === 204);
        hit('write: 409 conflict', code === 409);
        hit('write: data <= 30000 accepted', code === 202 && st.data && st.data.size <= 30000);
        hit('write: data > 30000 accepted', code === 202 && st.data && st.data.size > 30000);
        hit('write: data > 40 MiB accepted', code === 202 && st.data && st.data.size > 40 * 1048576);
        for (const p of ['RecordsWriteDataCidMismatch', 'RecordsWriteDataSizeMismatch', 'RecordsWriteImmutablePropertyChanged', 'RecordsWriteNotAllowedAfterDelete', 'RecordsWriteOwnerAndTenantMismatch']) hit(`write: 400/401 ${p}`, prefix(p));
        hit('write: published with datePublished', code === 202 && d.published === true && !!d.datePublished);
        hit('write: tags', code === 202 && !!d.tags);
        hit('write: same-timestamp tie', i > 0 && st.ids.initialWrite === false && s.steps.some((o, j) => j !== i && o.ids.recordId === st.ids.recordId && o.ids.initialWrite === false && o.message.descriptor.messageTimestamp === d.messageTimestamp && o.ids.messageCid !== st.ids.messageCid));
        hit('write: protocol child with parentId', code === 202 && !!d.parentId);
        hit('roles: write invoking protocolRole', code === 202 && !!pl.protocolRole);
        hit('permissions: request written', code === 202 && d.protocol === PERMISSIONS && d.protocolPath === 'request');
        hit('permissions: grant written', code === 202 && d.protocol === PERMISSIONS && d.protocolPath === 'grant');
        hit('permissions: revocation written', code === 202 && d.protocol === PERMISSIONS && d.protocolPath === 'grant/revocation');
        if (code === 202 && d.protocolPath === 'grant' && st.data?.base64url) {
          const g = JSON.parse(Buffer.from(st.data.base64url, 'base64url').toString('utf8'));
          hit('permissions: grant with conditions', !!g.conditions);
          hit('permissions: delegated grant', g.delegated === true);
          hit('permissions: grant with contextId/protocolPath scope', !!(g.scope.contextId || g.scope.protocolPath));
        }
        hit('permissions: write via permissionGrantId', code === 202 && !!pl.permissionGrantId);
        hit('permissions: write via authorDelegatedGrant', code === 202 && !!m.authorization.authorDelegatedGrant);
        hit('permissions: owner signature', code === 202 && !!m.authorization.ownerSignature && !m.authorization.ownerDelegatedGrant);
        hit('permissions: owner-delegated write', code === 202 && !!m.authorization.ownerDelegatedGrant);
        hit('write: secp256k1 author accepted', code === 202 && !!sig && JSON.parse(Buffer.from(sig.signatures[0].protected, 'base64url')).alg === 'ES256K');
      }
      if (key === 'Records.Read') {
        hit('read: by recordId 200', code === 200 && !!d.filter.recordId);
        hit('read: by other filter 200', code === 200 && !d.filter.recordId);
        hit('read: 400 RecordsReadReturnedMultiple', prefix('RecordsReadReturnedMultiple'));
        hit('read: 404 deleted with entry', code === 404 && !!st.reply.entry?.recordsDelete);
        hit('read: 404 not found', code === 404 && !st.reply.entry);
        hit('read: 401 unauthorised', code === 401);
        hit('read: data >= 40 MiB returned with sha256', code === 200 && st.reply.entry?.data?.size > 40 * 1048576 && s.steps.some((o) => o.data?.size === st.reply.entry.data.size && o.data.sha256 === st.reply.entry.data.sha256));
      }
      if (key === 'Records.Query') {
        if (code === 200) for (const k of Object.keys(d.filter)) hit(`query filter: ${k}`);
        if (code === 200 && d.filter.tags) {
          for (const v of Object.values(d.filter.tags)) hit(typeof v === 'object' ? (v.startsWith !== undefined ? 'query filter: tags startsWith' : 'query filter: tags range') : 'query filter: tags equal');
        }
        if (code === 200) hit(`query dateSort: ${d.dateSort ?? '(default)'}`);
        hit('query: cursor returned', code === 200 && !!st.reply.cursor);
        hit('query: cursor followed', code === 200 && !!d.pagination?.cursor);
        hit('query: anonymous 200', code === 200 && !m.authorization);
        hit('query: signed non-owner 200', code === 200 && !!author && author !== st.tenant);
        hit('query: anonymous unpublished 401', code === 401 && !m.authorization);
        hit('roles: query invoking protocolRole', code === 200 && !!pl.protocolRole);
      }
      if (key === 'Records.Delete') {
        hit('delete: 202 plain', code === 202 && d.prune === false);
        hit('delete: 202 prune with descendants', code === 202 && d.prune === true && childParents.has(d.recordId));
        hit('delete: 404', code === 404);
        hit('delete: 409', code === 409);
        hit('delete: 401', code === 401);
        hit('roles: delete invoking protocolRole', code === 202 && !!pl.protocolRole);
      }
      if (key === 'Records.Subscribe') { hit('records subscribe: 501', code === 501); hit('records subscribe: 200', code === 200); }
      if (key === 'Protocols.Configure') {
        for (const c of [202, 400, 401, 409]) hit(`configure: ${c}`, code === c);
        hit('configure: published 202', code === 202 && d.definition?.published === true);
        hit('configure: unpublished 202', code === 202 && d.definition?.published === false);
        hit('configure: via grant 202', code === 202 && (!!pl.permissionGrantId || !!m.authorization.authorDelegatedGrant));
        if (code === 202) {
          const walk = (rs) => {
            for (const [k, v] of Object.entries(rs)) {
              if (k === '$role' && v) hit('rules: $role');
              else if (k === '$size') hit('rules: $size');
              else if (k === '$tags') hit('rules: $tags');
              else if (k === '$actions') for (const a of v) { for (const c of a.can) hit(`rules: can ${c}`); if (a.who) hit(`rules: who ${a.who}${a.of ? ' of' : ''}`); if (a.role) hit('rules: role rule'); }
              else if (!k.startsWith('$')) walk(v);
            }
          };
          walk(d.definition.structure);
        }
      }
      if (key === 'Protocols.Query') {
        hit('protocols query: owner 200', code === 200 && author === st.tenant);
        hit('protocols query: anonymous 200', code === 200 && !m.authorization);
        hit('protocols query: grant 200', code === 200 && !!pl.permissionGrantId);
      }
      if (d.interface === 'Messages') {
        hit(`${key}: 200`, code === 200);
        hit(`${key}: 401`, code === 401);
        hit(`${key}: via grant 200`, code === 200 && !!pl.permissionGrantId);
      }
      hit('messages: subscription events delivered', Array.isArray(st.events) && st.events.length > 0);
      hit('messages: query cursor followed', key === 'Messages.Query' && code === 200 && st.cursorFrom !== undefined);
      hit('schema: SchemaValidator* 400', code === 400 && prefix('SchemaValidator'));
      hit('schema: missing interface/method 400', code === 400 && prefix('Both interface and method must be present'));
      for (const p of ['GeneralJwsVerifierInvalidSignature', 'GeneralJwsVerifierGetPublicKeyNotFound', 'AuthenticateDescriptorCidMismatch',
        'ProtocolAuthorizationActionNotAllowed', 'ProtocolAuthorizationIncorrectProtocolPath', 'ProtocolAuthorizationIncorrectContextId',
        'ProtocolAuthorizationMatchingRoleRecordNotFound', 'ProtocolAuthorizationMaxSizeInvalid', 'ProtocolAuthorizationTagsInvalidSchema',
        'GrantAuthorizationGrantExpired', 'GrantAuthorizationGrantNotYetActive', 'GrantAuthorizationGrantRevoked', 'GrantAuthorizationNotGrantedToAuthor',
        'ProtocolsConfigureInvalid']) hit(`detail: ${p}`, prefix(p));
    });
    for (const tenants of acceptedCids.values()) hit('tenant-independent: one message accepted by two tenants', tenants.size >= 2);
  }
  return { feat, methods, codes, groups, curves, didMethods };
}

function stripNondet(doc) {
  const out = JSON.parse(JSON.stringify(doc));
  for (const sc of out.scenarios) {
    for (const st of sc.steps) {
      for (const path of st.nondeterministic ?? []) {
        const keys = path.split('.');
        let o = st;
        for (const k of keys.slice(0, -1)) o = o?.[k];
        const last = keys[keys.length - 1];
        if (!o || !(last in o)) { fail(`${sc.name}: nondeterministic path ${path} absent`); continue; }
        const v = o[last];
        o[last] = `<${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}>`;
      }
    }
  }
  return out;
}

function firstDiff(a, b, path = '') {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || a === null || b === null || typeof a !== 'object') {
    return JSON.stringify(a) === JSON.stringify(b) ? null : path || '(root)';
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDiff(a[k], b[k], `${path}/${k}`);
    if (d) return d;
  }
  return null;
}

const argv = process.argv.slice(2);
let npmDir;
if (argv[0] === '--npm-dir') { npmDir = argv[1]; argv.splice(0, 2); }
const [f1, f2] = argv;
if (!f1 || !f2) { console.error('usage: check.mjs [--npm-dir DIR] RUN1.json RUN2.json'); process.exit(2); }
const A = JSON.parse(readFileSync(f1, 'utf8'));
const B = JSON.parse(readFileSync(f2, 'utf8'));
validate(A, 'run1');
validate(B, 'run2');

const { feat, methods, codes, groups, curves, didMethods } = coverage(A);
const n = A.scenarios.length;
const steps = A.scenarios.reduce((x, s) => x + s.steps.length, 0);
console.log(`scenarios: ${n}, steps: ${steps}`);
if (n < 100) fail(`only ${n} scenarios (need >= 100)`);
console.log('groups:');
for (const [g, c] of [...groups].sort()) console.log(`  ${g.padEnd(32)} ${c}`);
console.log('interface.method -> status codes seen:');
for (const k of Object.keys(ALLOWED)) {
  const key = k.replace(/^(Records|Protocols|Messages)/, '$1.');
  const seen = methods.get(key);
  console.log(`  ${key.padEnd(22)} ${seen ? [...seen].sort().join(' ') : '-'}`);
  if (!seen) fail(`${key} never exercised`);
  else if (![...seen].some((c) => c < 300)) fail(`${key} never succeeded`);
}
for (const c of [200, 202, 204, 400, 401, 404, 409, 501]) if (!codes.has(c)) fail(`status ${c} never seen`);
for (const c of ['Ed25519', 'secp256k1']) if (!curves.has(c)) fail(`no ${c} identity`);
for (const m of ['key', 'jwk']) if (!didMethods.has(m)) fail(`no did:${m} identity`);
const required = [
  ...['recordId', 'protocol', 'protocolPath', 'schema', 'contextId', 'parentId', 'dataFormat', 'dataCid', 'author', 'recipient', 'attester', 'published', 'dataSize', 'dateCreated', 'datePublished', 'dateUpdated', 'tags'].map((k) => `query filter: ${k}`),
  'query filter: tags equal', 'query filter: tags startsWith', 'query filter: tags range',
  ...['(default)', 'createdAscending', 'createdDescending', 'publishedAscending', 'publishedDescending'].map((k) => `query dateSort: ${k}`),
  ...['create', 'read', 'update', 'delete', 'prune', 'co-update', 'co-delete', 'query'].map((c) => `rules: can ${c}`),
  'rules: who anyone', 'rules: who author of', 'rules: who recipient of', 'rules: who recipient', 'rules: role rule',
  ...['Messages.Query', 'Messages.Read', 'Messages.Subscribe'].flatMap((k) => [`${k}: 200`, `${k}: 401`, `${k}: via grant 200`]),
];
console.log('features:');
const all = new Set([...feat.keys(), ...required]);
for (const f of [...all].sort()) {
  const c = feat.get(f) ?? 0;
  console.log(`  ${String(c).padStart(4)}  ${f}`);
  if (c === 0) fail(`feature not covered: ${f}`);
}

if (npmDir) await checkIds(A, npmDir);

const sa = stripNondet(A), sb = stripNondet(B);
const da = JSON.stringify(sa), db = JSON.stringify(sb);
if (da !== db) fail(`the two runs differ (beyond nondeterministic fields) at ${firstDiff(sa, sb)}`);
else console.log(`runs identical apart from ${A.scenarios.reduce((x, s) => x + s.steps.reduce((y, st) => y + (st.nondeterministic?.length ?? 0), 0), 0)} nondeterministic fields`);

if (failures.length) {
  for (const f of failures) console.log(`FAIL: ${f}`);
  process.exit(1);
}
console.log('check: all good');
