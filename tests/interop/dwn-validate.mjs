// Vectors for tests/interop/check_dwn_validate.c from dwn-sdk-js 0.5.2 itself:
// valid messages of every interface/method built with the SDK's builders
// (a fixed Ed25519 did:key, fixed timestamps), deterministic mutants of them
// and of protocol definitions / permission data / signature payloads / keys,
// each run through the SDK's own checks (Dwn.validateMessageIntegrity = §1
// steps 2-3, validateJsonSchema for the other schemas); plus URL
// normalisation (utils/url.js) and timestamp validity (Time, Temporal).
// Usage: node dwn-validate.mjs NPM_DIR OUT.jsonl   (one JSON vector per line)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [npmDir, outFile] = process.argv.slice(2);
const sdkDir = path.join(npmDir, 'node_modules/@tbd54566975/dwn-sdk-js/dist/esm');
const imp = (p) => import(pathToFileURL(path.join(sdkDir, p)).href);
const sdk = await imp('src/index.js');
const { validateJsonSchema } = await imp('src/schema-validator.js');
const url = await imp('src/utils/url.js');
const { Temporal } = await import(pathToFileURL(
  path.join(npmDir, 'node_modules/@js-temporal/polyfill/dist/index.esm.js')).href);
const { base58btc } = await import(pathToFileURL(
  path.join(npmDir, 'node_modules/multiformats/src/bases/base58.js')).href);

const { Dwn, RecordsWrite, RecordsQuery, RecordsRead, RecordsSubscribe, RecordsDelete,
  ProtocolsConfigure, ProtocolsQuery, MessagesQuery, MessagesRead, MessagesSubscribe,
  PrivateKeySigner, PermissionsProtocol, Time, Encoder } = sdk;

// A fixed Ed25519 key: seed 0x01..0x20, did:key of its public key.
function fixedKey(seedByte) {
  const seed = Buffer.alloc(32, 0).map((_, i) => (i + seedByte) & 0xff);
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const jwk = crypto.createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  const pub = Buffer.from(jwk.x, 'base64url');
  const mb = base58btc.encode(Uint8Array.from([0xed, 0x01, ...pub]));
  const did = `did:key:${mb}`;
  const signer = new PrivateKeySigner({ privateJwk: jwk, keyId: `${did}#${mb}`, algorithm: 'EdDSA' });
  return { did, signer, jwk };
}
const alice = fixedKey(1);
const bob = fixedKey(101);
const T0 = '2024-01-02T03:04:05.123456Z';
const T1 = '2024-02-03T04:05:06.654321Z';
const T2 = '2030-01-01T00:00:00.000000Z';

const vectors = [];
const seen = new Set();
const clone = (x) => JSON.parse(JSON.stringify(x));

function addMessage(tag, message) {
  const key = JSON.stringify(message);
  if (seen.has(key)) return;
  seen.add(key);
  let code = 0; let detail = '';
  // Dwn.validateMessageIntegrity does not use `this`: the SDK's own §1 steps 2-3
  return Dwn.prototype.validateMessageIntegrity.call({}, message).then((reply) => {
    if (reply !== undefined) { code = reply.status.code; detail = reply.status.detail; }
    vectors.push({ kind: 'message', tag, value: message, code, detail });
  });
}

function addSchema(tag, schema, value) {
  const key = schema + JSON.stringify(value);
  if (seen.has(key)) return;
  seen.add(key);
  let code = 0; let detail = '';
  try { validateJsonSchema(schema, value); } catch (e) { code = 400; detail = e.message; /* DwnError: "<code>: <message>" */ }
  vectors.push({ kind: 'schema', tag, schema, value, code, detail });
}

// ---------------------------------------------------------------- valid messages
const protocolDefinition = {
  protocol: 'https://example.com/chat',
  published: true,
  types: {
    thread: { schema: 'https://example.com/thread', dataFormats: ['application/json'] },
    message: { dataFormats: ['text/plain'] },
    participant: {},
  },
  structure: {
    thread: {
      $actions: [{ who: 'anyone', can: ['create', 'read'] }],
      $size: { min: 1, max: 1000 },
      $tags: { $requiredTags: ['topic'], $allowUndefinedTags: false, topic: { type: 'string', enum: ['a', 'b'] },
        count: { type: 'array', items: { type: 'number', minimum: 0 }, minItems: 1 } },
      participant: { $role: true, $actions: [{ who: 'author', of: 'thread', can: ['create'] }] },
      message: {
        $actions: [
          { role: 'thread/participant', can: ['create', 'read', 'query', 'subscribe'] },
          { who: 'recipient', of: 'thread', can: ['read'] },
        ],
      },
    },
  },
};

const data = Encoder.stringToBytes('hello');
const flat = await RecordsWrite.create({ data, dataFormat: 'text/plain', signer: alice.signer,
  dateCreated: T0, messageTimestamp: T0, published: true, datePublished: T0,
  tags: { kind: 'note', n: 3, ok: true, list: ['x', 'y'], nums: [1, 2] }, recipient: bob.did,
  schema: 'https://example.com/note' });
const proto = await RecordsWrite.create({ data, dataFormat: 'application/json', signer: alice.signer,
  dateCreated: T0, messageTimestamp: T0, protocol: 'https://example.com/chat', protocolPath: 'thread',
  schema: 'https://example.com/thread', tags: { topic: 'a' } });
const child = await RecordsWrite.create({ data, dataFormat: 'text/plain', signer: alice.signer,
  dateCreated: T1, messageTimestamp: T1, protocol: 'https://example.com/chat', protocolPath: 'thread/message',
  parentContextId: proto.message.contextId });
const unpublished = await RecordsWrite.create({ data, dataFormat: 'text/plain', signer: alice.signer,
  dateCreated: T0, messageTimestamp: T0, published: false });
const grant = await PermissionsProtocol.createGrant({ signer: alice.signer, grantedTo: bob.did,
  dateGranted: T0, dateExpires: T2, delegated: true,
  scope: { interface: 'Records', method: 'Write', protocol: 'https://example.com/chat' } });
const grantMessage = { ...grant.recordsWrite.message, encodedData: Encoder.bytesToBase64Url(grant.permissionGrantBytes) };
const delegated = await RecordsWrite.create({ data, dataFormat: 'text/plain', signer: bob.signer,
  dateCreated: T1, messageTimestamp: T1, protocol: 'https://example.com/chat', protocolPath: 'thread',
  delegatedGrant: grantMessage });
const encrypted = clone(flat.message);
encrypted.encryption = {
  algorithm: 'A256CTR', initializationVector: 'AAECAwQFBgcICQoLDA0ODw',
  keyEncryption: [{ rootKeyId: `${alice.did}#enc`, derivationScheme: 'protocolContext', algorithm: 'ECIES-ES256K',
    encryptedKey: 'a2V5', initializationVector: 'aXY', messageAuthenticationCode: 'bWFj',
    ephemeralPublicKey: { kty: 'EC', crv: 'secp256k1', x: 'eA', y: 'eQ' },
    derivedPublicKey: { kty: 'EC', crv: 'secp256k1', x: 'eA', y: 'eQ' } }],
};

const messages = {
  RecordsWriteFlat: flat.message,
  RecordsWriteProtocol: proto.message,
  RecordsWriteChild: child.message,
  RecordsWriteUnpublished: unpublished.message,
  RecordsWriteDelegated: delegated.message,
  RecordsWriteEncrypted: encrypted,
  RecordsQuery: (await RecordsQuery.create({ signer: alice.signer, messageTimestamp: T1,
    filter: { protocol: 'https://example.com/chat', protocolPath: 'thread', author: [alice.did, bob.did],
      recipient: bob.did, dateCreated: { from: T0, to: T2 }, dataSize: { gte: 1, lt: 100 },
      tags: { topic: 'a', n: { gt: 1, lte: 5 }, s: { startsWith: 'x' }, r: { gte: 'a', lt: 'b' } } },
    dateSort: 'createdDescending', pagination: { limit: 10, cursor: { messageCid: 'bafyrei', value: 5 } } })).message,
  RecordsQueryAnon: (await RecordsQuery.create({ messageTimestamp: T1,
    filter: { datePublished: { from: T0 }, published: true } })).message,
  RecordsRead: (await RecordsRead.create({ signer: alice.signer, messageTimestamp: T1,
    filter: { recordId: flat.message.recordId } })).message,
  RecordsSubscribe: (await RecordsSubscribe.create({ signer: alice.signer, messageTimestamp: T1,
    filter: { schema: 'https://example.com/note', published: false } })).message,
  RecordsDelete: (await RecordsDelete.create({ signer: alice.signer, messageTimestamp: T1,
    recordId: flat.message.recordId, prune: true })).message,
  ProtocolsConfigure: (await ProtocolsConfigure.create({ signer: alice.signer, messageTimestamp: T0,
    definition: protocolDefinition })).message,
  ProtocolsQuery: (await ProtocolsQuery.create({ signer: alice.signer, messageTimestamp: T1,
    filter: { protocol: 'https://example.com/chat' } })).message,
  MessagesQuery: (await MessagesQuery.create({ signer: alice.signer, messageTimestamp: T1,
    filters: [{ interface: 'Records', method: 'Write', protocol: 'https://example.com/chat',
      messageTimestamp: { from: T0, to: T2 } }], cursor: { messageCid: 'bafyrei', value: '01HX' } })).message,
  MessagesRead: (await MessagesRead.create({ signer: alice.signer, messageTimestamp: T1,
    messageCid: await sdk.Message.getCid(flat.message) })).message,
  MessagesSubscribe: (await MessagesSubscribe.create({ signer: alice.signer, messageTimestamp: T1,
    filters: [{ protocol: 'https://example.com/chat' }] })).message,
};
const pq = clone(messages.ProtocolsQuery); delete pq.authorization; messages.ProtocolsQueryAnon = pq;

// ---------------------------------------------------------------- mutants
const WRONG = [123, 1.5, 'text', true, null, [], {}, ['x'], { a: 1 }];
const BAD_STRINGS = ['', ' ', 'a=b', '2024-01-02T03:04:05.123Z', '2024-13-02T03:04:05.123456Z',
  '2024-01-02T23:59:60.000000Z', '2024-01-02 03:04:05.123456Z', '2024-01-02T03:04:05.1234567Z',
  'did:key:', 'did:Key:abc', 'did:key:abc', 'did:web:example.com%3A8080', 'did:ex:a:', 'did:ex:a%zz',
  'did:ex:a;p=1/path?q#frag', 'did:ex:a#f\nx', 'a/b', 'a//b', '/a', 'a/1', 'Ab/Cd', 'ab$'];

function* walk(value, p = []) {
  yield [p, value];
  if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) yield* walk(value[k], [...p, k]);
  }
}
function setAt(obj, p, v) {
  const out = clone(obj);
  if (p.length === 0) return v;
  let o = out;
  for (const k of p.slice(0, -1)) o = o[k];
  if (v === undefined) { if (Array.isArray(o)) o.splice(Number(p.at(-1)), 1); else delete o[p.at(-1)]; } else o[p.at(-1)] = v;
  return out;
}

const pending = [];
function mutate(tag, base, add) {
  add(`${tag}`, base);
  for (const [p, v] of walk(base)) {
    const where = `${tag}:/${p.join('/')}`;
    // signatures are long and uninteresting beyond the first level
    if (p.includes('signatures') && p.length > 4) continue;
    if (p.length > 0) add(`${where} dropped`, setAt(base, p, undefined));
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      add(`${where} +unknown`, setAt(base, [...p, 'unknownProperty'], 1));
      add(`${where} +index key`, setAt(base, [...p, '7'], 'x'));
      add(`${where} +$key`, setAt(base, [...p, '$unknown'], {}));
      add(`${where} emptied`, setAt(base, p, {}));
    }
    if (Array.isArray(v)) {
      add(`${where} emptied`, setAt(base, p, []));
      add(`${where} +item`, setAt(base, p, [...v, v[0] ?? 'x']));
    }
    if (p.length > 0) for (const w of WRONG) add(`${where} = ${JSON.stringify(w)}`, setAt(base, p, w));
    if (typeof v === 'string') for (const s of BAD_STRINGS) add(`${where} = ${JSON.stringify(s)}`, setAt(base, p, s));
    if (typeof v === 'number') for (const n of [0, -1, 0.5, 1e21]) add(`${where} = ${n}`, setAt(base, p, n));
  }
}

const addM = (t, m) => pending.push(addMessage(t, m));
for (const [name, m] of Object.entries(messages)) mutate(name, m, addM);

// §1 step 2 and the schema lookup by String(interface) + String(method)
const NONE = Symbol('none');
for (const [i, m] of [[NONE, 'Write'], ['Records', NONE], [NONE, NONE], [null, 'Write'],
  [1.5, NONE], [1e21, NONE], [1e-7, NONE], [-0.000123, NONE], [123456789.125, NONE], [['Records', 2], NONE],
  [['Records'], 'Write'], [[], 'RecordsWrite'], [{}, 'Write'], [[null, 'a', ['b', 'c']], NONE],
  ['Records', 'Filter'], ['General', 'Jws'], ['Records', 'Count'], ['Events', 'Get'], ['Protocols', 'Delete'],
  [true, false], ['Records', ['Write', null]], ['Records', 'write'], ['RecordsW', 'rite'],
  ['Records', 'WriteSignaturePayload'], ['Permission', 'GrantData'], ['Public', 'Jwk'],
  ['R'.repeat(600), NONE], [NONE, ['x'.repeat(300), 'y'.repeat(300)]], ['Records', 'W'.repeat(700)]]) {
  const m1 = clone(messages.RecordsWriteFlat);
  if (i === NONE) delete m1.descriptor.interface; else m1.descriptor.interface = i;
  if (m === NONE) delete m1.descriptor.method; else m1.descriptor.method = m;
  addM(`interface ${JSON.stringify(i)} method ${JSON.stringify(m)}`, m1);
}
for (const v of ['text', 1, null, [], { descriptor: 'x' }, { descriptor: [] }, { descriptor: null }, {}])
  addM(`not a message ${JSON.stringify(v)}`, v);

// Records.Write rules: published/datePublished, contextId/protocol, tags limits
const rw = messages.RecordsWriteFlat;
const withDesc = (base, patch) => { const m = clone(base); Object.assign(m.descriptor, patch);
  for (const k of Object.keys(patch)) if (patch[k] === undefined) delete m.descriptor[k]; return m; };
for (const [pub, dp] of [[true, T0], [true, undefined], [false, T0], [false, undefined], [undefined, T0], [undefined, undefined]])
  addM(`published ${pub} datePublished ${dp}`, withDesc(rw, { published: pub, datePublished: dp }));
const pr = messages.RecordsWriteProtocol;
addM('contextId without protocol', withDesc(pr, { protocol: undefined }));
addM('contextId without protocolPath', withDesc(pr, { protocolPath: undefined }));
addM('protocol without contextId', (() => { const m = clone(pr); delete m.contextId; return m; })());
addM('contextId on flat', { ...clone(rw), contextId: 'abc' });
addM('parentId without protocol', withDesc(rw, { parentId: 'abc' }));
addM('encodedData on a write', { ...clone(rw), encodedData: 'aGk' });
for (let n = 0; n <= 11; n++) {
  const tags = {}; for (let k = 0; k < n; k++) tags[`t${k}`] = k;
  addM(`tags with ${n} keys`, withDesc(rw, { tags }));
  const list = Array.from({ length: n }, (_, k) => `v${k}`);
  addM(`tag array of ${n}`, withDesc(rw, { tags: { a: list } }));
  addM(`tag number array of ${n}`, withDesc(rw, { tags: { a: list.map((_, k) => k) } }));
}
for (const t of [[1, 'a'], [true], [null], [{}], [[1]], { a: 1 }, null])
  addM(`tag value ${JSON.stringify(t)}`, withDesc(rw, { tags: { a: t } }));
addM('tags 10 keys one bad', withDesc(rw, { tags: Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`k${k}`, k === 9 ? {} : k])) }));
addM('key order: index keys first', withDesc(rw, { zz: 1, 5: 2, 10: 3 }));
addM('key order: unknown then bad known', withDesc(rw, { aaa: 1, dataSize: 'x' }));

// Records filters, pagination, dateSort
const rq = messages.RecordsQuery;
const withFilter = (filter, extra = {}) => { const m = clone(rq); m.descriptor.filter = filter; Object.assign(m.descriptor, extra); return m; };
for (const f of [{}, { published: false, datePublished: { from: T0 } }, { published: true, datePublished: { to: T2 } },
  { datePublished: {} }, { dateCreated: { from: T0, x: 1 } }, { dataSize: {} }, { dataSize: { gt: 1, gte: 2 } },
  { dataSize: { lt: 1, lte: 2 } }, { dataSize: { gt: '1' } }, { tags: {} }, { tags: { a: { gt: 'a', gte: 'b' } } },
  { tags: { a: { startsWith: 1 } } }, { tags: { a: { startsWith: 'x', y: 1 } } }, { tags: { a: { gt: 1, lt: 'b' } } },
  { tags: { a: [] } }, { tags: { a: null } }, { author: [] }, { author: ['did:ex:1', 'bad'] }, { author: 'bad' },
  { recipient: 'did:ex:1' }, { attester: 'x' }, { contextId: 5 }, { unknown: 1 }, { protocol: 'x', unknown: 1 }])
  addM(`filter ${JSON.stringify(f)}`, withFilter(f));
for (const p of [{}, { limit: 0 }, { limit: 1 }, { limit: 0.5 }, { limit: -1 }, { limit: '1' }, { cursor: {} },
  { cursor: { messageCid: 'a' } }, { cursor: { messageCid: 'a', value: true } }, { cursor: { messageCid: 'a', value: 1, x: 2 } },
  { limit: 1, extra: 2 }])
  addM(`pagination ${JSON.stringify(p)}`, withFilter({ published: true }, { pagination: p }));
for (const d of ['createdAscending', 'createdDescending', 'publishedAscending', 'publishedDescending', 'created', '', 1])
  addM(`dateSort ${JSON.stringify(d)}`, withFilter({ published: true }, { dateSort: d }));
for (const f of [[], [{}], [{ interface: 'Messages' }], [{ method: 'Read' }], [{ messageTimestamp: {} }],
  [{ protocol: 'x' }, { interface: 'Records', extra: 1 }]]) {
  const m = clone(messages.MessagesQuery); m.descriptor.filters = f; addM(`messages filters ${JSON.stringify(f)}`, m);
}

// ---------------------------------------------------------------- protocol definitions
const addPD = (t, d) => addSchema(t, 'ProtocolDefinition', d);
const pdm = (t, d) => { addPD(t, d); const m = clone(messages.ProtocolsConfigure); m.descriptor.definition = d; addM(`configure ${t}`, m); };
mutate('definition', protocolDefinition, pdm);
const ruleSets = [
  { $actions: [] }, { $actions: [{}] }, { $actions: [{ who: 'anyone' }] }, { $actions: [{ who: 'someone', can: ['read'] }] },
  { $actions: [{ who: 'anyone', can: [] }] }, { $actions: [{ who: 'anyone', can: ['query'] }] },
  { $actions: [{ who: 'anyone', can: ['read'], extra: 1 }] }, { $actions: [{ role: 'a', can: ['prune'] }] },
  { $actions: [{ role: 'a', can: ['read'], extra: 1 }] }, { $actions: [{ role: 1, can: ['read'] }] },
  { $actions: [{ who: 'anyone', role: 'a', can: ['read'] }] }, { $actions: ['anyone'] },
  { $role: 'yes' }, { $size: { min: -1 } }, { $size: { max: 0 } }, { $size: { min: 1, other: 2 } }, { $size: { max: '1' } },
  { $tags: {} }, { $tags: { $requiredTags: 'a' } }, { $tags: { $requiredTags: [1] } }, { $tags: { $allowUndefinedTags: 1 } },
  { $tags: { a: { type: 'object' } } }, { $tags: { a: { type: 'string', pattern: 'x' } } }, { $tags: { a: 'string' } },
  { $tags: { a: { type: 'array', items: { type: 'boolean' } } } }, { $tags: { a: { type: 'array', contains: { type: 'string', foo: 1 } } } },
  { $tags: { a: { minimum: 1, maxContains: 2, uniqueItems: true } } },
  { $encryption: { rootKeyId: 'k' } }, { $encryption: { rootKeyId: 'k', publicKeyJwk: { kty: 'EC', crv: 'secp256k1', x: 'x' } } },
  { $encryption: { rootKeyId: 'k', publicKeyJwk: { kty: 'EC', crv: 'secp256k1', x: 'x', d: 'd' } } },
  { $encryption: { rootKeyId: 'k', publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: 'x' }, extra: 1 } },
  { $other: true }, { '': {} }, { child: 'x' }, { child: { $actions: [{ who: 'anyone', can: ['read'] }], grandchild: { $x: 1 } } },
  { '\n': {} }, { 'a\nb': {} }, { 'a\u2028': {} },
];
ruleSets.forEach((rs, i) => pdm(`rule set ${i} ${JSON.stringify(rs)}`,
  { ...clone(protocolDefinition), structure: { thread: rs } }));
let deep = {}; for (let d = 0; d < 15; d++) deep = { level: deep };
pdm('deep structure', { ...clone(protocolDefinition), structure: { thread: deep } });
deep = { $bad: 1 }; for (let d = 0; d < 12; d++) deep = { level: deep };
pdm('deep bad structure', { ...clone(protocolDefinition), structure: { thread: deep } });
for (const t of [{ a: { schema: 1 } }, { a: { dataFormats: [] } }, { a: { dataFormats: [1] } }, { a: { x: 1 } }, { a: 'x' }, { 1: {}, a: 2 }])
  pdm(`types ${JSON.stringify(t)}`, { ...clone(protocolDefinition), types: t });

// ---------------------------------------------------------------- other schemas
const grantData = JSON.parse(Encoder.bytesToString(grant.permissionGrantBytes));
mutate('grant data', grantData, (t, v) => addSchema(t, 'PermissionGrantData', v));
for (const scope of [{ interface: 'Records', method: 'Read' }, { interface: 'Records', method: 'Write', protocol: 'p', contextId: 'c' },
  { interface: 'Messages', method: 'Query', contextId: 'c' }, { interface: 'Messages', method: 'Delete' }, { interface: 'Protocols' },
  { interface: 'Protocols', method: 'Configure', protocol: 'p' }, {}, 'x'])
  addSchema(`grant scope ${JSON.stringify(scope)}`, 'PermissionGrantData', { dateExpires: T2, scope });
for (const c of [{}, { publication: 'Required' }, { publication: 'Maybe' }, { publication: 'Required', x: 1 }])
  addSchema(`grant conditions ${JSON.stringify(c)}`, 'PermissionGrantData', { dateExpires: T2, scope: { interface: 'Records', method: 'Read', protocol: 'p' }, conditions: c });
const request = await PermissionsProtocol.createRequest({ signer: bob.signer, delegated: false, description: 'd',
  scope: { interface: 'Protocols', method: 'Query' } });
mutate('request data', JSON.parse(Encoder.bytesToString(request.permissionRequestBytes)), (t, v) => addSchema(t, 'PermissionRequestData', v));
for (const v of [{}, { description: 'x' }, { description: 1 }, { x: 1 }, []])
  addSchema(`revocation ${JSON.stringify(v)}`, 'PermissionRevocationData', v);
const payload = (m) => JSON.parse(Buffer.from(m.authorization.signature.payload, 'base64url').toString());
mutate('generic payload', { ...payload(messages.RecordsQuery), permissionGrantId: 'g', protocolRole: 'r', delegatedGrantId: 'd' },
  (t, v) => addSchema(t, 'GenericSignaturePayload', v));
mutate('write payload', { ...payload(messages.RecordsWriteProtocol), attestationCid: 'a', encryptionCid: 'e', protocolRole: 'r' },
  (t, v) => addSchema(t, 'RecordsWriteSignaturePayload', v));
const vm = { id: `${alice.did}#key`, type: 'JsonWebKey2020', controller: alice.did,
  publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: alice.jwk.x, kid: 'k' } };
mutate('verification method', vm, (t, v) => addSchema(t, 'JwkVerificationMethod', v));
for (const jwk of [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }, { kty: 'RSA', n: 'n', e: 'e' }, { kty: 'RSA', n: 'n', e: 'e', p: 'p' },
  { kty: 'oct', k: 'k' }, { kty: 'OKP', crv: 'X25519' }, { kty: 'XX' }, { crv: 'x' }, { kty: 'EC', crv: 'P-256', x: 'x', d: 'd' }])
  addSchema(`jwk ${JSON.stringify(jwk)}`, 'JwkVerificationMethod', { ...vm, publicKeyJwk: jwk });
mutate('delegated grant', grantMessage, (t, v) => addSchema(t, 'RecordsWriteDataEncoded', v));
addSchema('unknown schema', 'NoSuchSchema', {});

// ---------------------------------------------------------------- URLs
const urls = ['example.com', 'example.com/', 'example.com/a/', 'http://example.com', 'http://example.com/',
  'https://Example.COM/x?y#z', 'HTTP://EXAMPLE.com:80/a', 'https://example.com:443', 'https://example.com:8443/',
  'http://example.com:080', 'http://example.com:65535', 'http://example.com:65536', 'ws://h:80/x', 'wss://h:443/x',
  'ftp://h:21/x', 'http://a/b/../c', 'http://a/b/./c/.', 'http://a/%2e/b', 'http://a/b/%2E%2E/c', 'http://a/b c',
  'http://a/b"c<d>e`f{g}h', 'http://a/%41', 'http://a/é', 'http://a/b\\c', 'http:example.com', 'http:/example.com',
  'http:///example.com', 'http://user:pass@host/p', 'http://@host', 'http://host:/p', 'http://h/p//', 'http://h//',
  'did:example:123', 'did:example:123/', 'urn:isbn:123', 'mailto:a@b.c', 'localhost:3000/x', 'foo://Host/Path/',
  'foo://host:80/a', 'foo:/a/b/../c', 'a:b c', '1abc:foo', 'a', '', '/', '//', '///x', 'http://', 'http://a b',
  'http://[::1]/x', 'http://[0:0:0:0:0:0:0:1]:8080/', 'http://127.0.0.1/', 'http://0x7f.1/', 'http://2130706433/',
  'http://1.2.3/', 'http://1.2.3.4.5/', 'http://256.0.0.1/', 'http://a%41/', 'http://a%2/', 'http://a^b/',
  ' http://a/ ', 'http://a/\tb', 'https://example.com/chat', 'https://example.com/chat/', 'https://tbd.website/dwn/permissions',
  'example.com?x', 'example.com#x', 'http://a/?', 'http://a/#', 'http://a.b.c./', 'http://A.B/C/D/', 'file:///tmp/x',
  'https://example.com/%7Euser', 'https://example.com/~user', 'https://example.com/a%2fb', 'http://h/a;b=c', 'http://h/:@!$&\'()*+,;=',
  'a:', 'a:/', 'a://', 'a:///b', 'scheme+x.y-z:opaque', 'sc heme:x', 'http://h/p?q/', 'http://h/p/#f/'];
// combinations of the parts the normaliser sees
for (const scheme of ['', 'http://', 'HTTPS://', 'wss:', 'ftp:/', 'foo://', 'foo:', 'did:', 'file://'])
  for (const host of ['Example.com', 'a.b.', '[::ffff:1.2.3.4]', '[1:0:0:2:0:0:0:3]', '[::]', '0x7F.0.0.1', '1.2.3.256',
    '09.1.1.1', '0.0.0.0x', 'user@h', 'u:p@h', 'h:8080', 'h:0', 'h:21', 'h:443', 'h:00080', 'h:1:2', 'xn--', '-a-.b', 'a..b', '%7e'])
    for (const rest of ['', '/', '/a/../../b', '/./x/.', '/%2e%2E/y', '/A%2f%zz', '/a\\b/', '//', '?q=1#f', '#/x/', '/ a ', '/\u00e9'])
      urls.push(scheme + host + rest);
for (let c = 0x21; c < 0x7f; c++) {
  const ch = String.fromCharCode(c);
  urls.push(`http://h/a${ch}b`, `foo:a${ch}b`, `foo://h/a${ch}b`, `http://a${ch}b/`, `foo://a${ch}b/`, `http://u${ch}v@h/`);
}
for (const c of ['%C2%80', '%C3%A9', '%e2%80%a8', '\u0001', '\u007f', '\u0080', '\u00a0', '\t', '\n', '\r', ' ', '\u2028'])
  urls.push(`http://h/a${c}b`, `foo:a${c}b`, `${c}http://h/${c}`, `http://h${c}x/`, `foo:x${c}?y`);
for (const u of urls) {
  let normalized = null;
  try { normalized = url.normalizeProtocolUrl(u); } catch { normalized = null; }
  let ok = true; try { url.validateProtocolUrlNormalized(u); } catch { ok = false; }
  vectors.push({ kind: 'url', value: u, normalized, isNormalized: ok });
}

// ---------------------------------------------------------------- timestamps
const times = [T0, T1, T2, '1970-01-01T00:00:00.000000Z', '0000-01-01T00:00:00.000000Z', '9999-12-31T23:59:59.999999Z',
  '2024-02-29T12:00:00.000000Z', '2023-02-29T12:00:00.000000Z', '2000-02-29T00:00:00.000000Z', '1900-02-29T00:00:00.000000Z',
  '2024-04-31T00:00:00.000000Z', '2024-00-10T00:00:00.000000Z', '2024-01-00T00:00:00.000000Z', '2024-19-01T00:00:00.000000Z',
  '2024-01-39T00:00:00.000000Z', '2024-01-01T24:00:00.000000Z', '2024-01-01T29:59:59.000000Z', '2024-12-31T23:59:60.000000Z',
  '2024-06-30T23:59:60.999999Z', '1969-12-31T23:59:59.999999Z', '2024-01-01T00:00:00.000000z', '2024-01-01T00:00:00Z',
  '2024-01-01T00:00:00.000000+00:00', '2024-1-01T00:00:00.000000Z', '1600-03-01T00:00:00.000001Z'];
for (const t of times) {
  let wellFormed = true;
  try { validateJsonSchema('MessagesFilter', { messageTimestamp: { from: t } }); } catch { wellFormed = false; }
  let valid = true; try { Time.validateTimestamp(t); } catch { valid = false; }
  let micros = null;
  if (wellFormed && valid) micros = Temporal.Instant.from(t).epochMicroseconds.toString();
  vectors.push({ kind: 'time', value: t, wellFormed, valid: wellFormed && valid, micros });
}

await Promise.all(pending);
fs.writeFileSync(outFile, vectors.map((v) => JSON.stringify(v)).join('\n') + '\n');
const counts = {}; for (const v of vectors) counts[v.kind] = (counts[v.kind] ?? 0) + 1;
console.log(`vectors: ${JSON.stringify(counts)}`);
