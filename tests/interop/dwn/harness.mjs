// Harness of the DWN scenario generator (see gen.mjs for the output format).
//
// What lives here:
//   - loadSdk(npmDir): imports dwn-sdk-js 0.5.2 and @web5/dids 1.2.0 from an
//     npm install directory (tests/interop/dwn-lib.bash `dwn_oracle`), and
//     pins the SDK's clock so that a builder that silently falls back to "now"
//     still produces a fixed value.
//   - identity(label): deterministic Ed25519 / secp256k1 keys (private key =
//     SHA-256("anya-dwn-scenarios/key/" + label)) turned into did:key or
//     did:jwk identities with a PrivateKeySigner.
//   - genData(seed, size): the documented data generator,
//     chunk i = SHA-256(UTF-8(seed) || uint32be(i)), data = the first `size`
//     bytes of chunk 0 || chunk 1 || ...
//   - ts(i): fixed timestamps, 2024-01-01T00:00:00.000000Z + i seconds.
//   - Scenario: one empty DWN (fresh LevelDB stores in its own directory),
//     `send` processes one message and records the step.
import { createHash, createPrivateKey, createPublicKey, createECDH } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export let sdk; // the dwn-sdk-js module namespace
export let dids; // the @web5/dids module namespace

/** Imports the oracle packages from `npmDir/node_modules`. */
export async function loadSdk(npmDir) {
  const nm = join(npmDir, 'node_modules');
  sdk = await import(pathToFileURL(join(nm, '@tbd54566975/dwn-sdk-js/dist/esm/src/index.js')).href);
  dids = await import(pathToFileURL(join(nm, '@web5/dids/dist/esm/index.js')).href);
  // Builders call Time.getCurrentTimestamp() even when a time is supplied;
  // every message here supplies its times, this makes any omission visible
  // (and still deterministic).
  sdk.Time.getCurrentTimestamp = () => '1999-12-31T23:59:59.999999Z';
}

// ----------------------------------------------------------------- encodings
export const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
export const sha256hex = (bytes) => createHash('sha256').update(bytes).digest('hex');
const sha256 = (...parts) => { const h = createHash('sha256'); for (const p of parts) h.update(p); return h.digest(); };

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function base58btc(bytes) {
  let n = BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
  let out = '';
  while (n > 0n) { out = B58[Number(n % 58n)] + out; n /= 58n; }
  for (const b of bytes) { if (b !== 0) break; out = '1' + out; }
  return out;
}

// ---------------------------------------------------------------- timestamps
const EPOCH = Date.UTC(2024, 0, 1);
/** Fixed timestamp: 2024-01-01T00:00:00.000000Z plus `i` seconds (i may be fractional: micro-second resolution). */
export function ts(i) {
  const micros = Math.round(i * 1e6);
  const ms = Math.floor(micros / 1000);
  const d = new Date(EPOCH + ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return d.slice(0, 23) + String(micros % 1000).padStart(3, '0') + 'Z';
}

// -------------------------------------------------------------- data source
/**
 * The documented data generator: chunk i = SHA-256(UTF-8(seed) || uint32be(i));
 * data = first `size` bytes of the concatenated chunks.
 */
export function genData(seed, size) {
  const out = Buffer.allocUnsafe(size);
  const s = Buffer.from(seed, 'utf8');
  const ctr = Buffer.alloc(4);
  for (let i = 0, off = 0; off < size; i++, off += 32) {
    ctr.writeUInt32BE(i);
    const c = sha256(s, ctr);
    c.copy(out, off, 0, Math.min(32, size - off));
  }
  return new Uint8Array(out.buffer, out.byteOffset, size);
}

/** A data payload plus how it is written into the corpus. */
export function seeded(seed, size) {
  const bytes = genData(seed, size);
  return { bytes, spec: { seed, size, sha256: sha256hex(bytes) } };
}
/** Small structured data (JSON objects, e.g. grants): recorded inline. */
export function inline(bytes) {
  bytes = bytes instanceof Uint8Array ? bytes : new TextEncoder().encode(typeof bytes === 'string' ? bytes : JSON.stringify(bytes));
  return { bytes, spec: { base64url: b64u(bytes), size: bytes.length, sha256: sha256hex(bytes) } };
}

// ---------------------------------------------------------------- identities
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const IDENTITY_KINDS = {
  // label: [curve, did method]
  alice: ['Ed25519', 'key'],
  bob: ['Ed25519', 'key'],
  carol: ['secp256k1', 'key'],
  dave: ['Ed25519', 'jwk'],
  erin: ['secp256k1', 'jwk'],
  frank: ['Ed25519', 'key'],
};
export const IDENTITY_LABELS = Object.keys(IDENTITY_KINDS);
const identityCache = new Map();

/** Deterministic identity: {label, did, kid, curve, method, publicJwk, privateJwk, signer}. */
export async function identity(label) {
  if (identityCache.has(label)) return identityCache.get(label);
  const [curve, method] = IDENTITY_KINDS[label];
  const d = sha256(Buffer.from('anya-dwn-scenarios/key/' + label, 'utf8'));
  let publicJwk, multicodecKey, alg;
  if (curve === 'Ed25519') {
    const priv = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, d]), format: 'der', type: 'pkcs8' });
    const jwk = createPublicKey(priv).export({ format: 'jwk' });
    publicJwk = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
    multicodecKey = Buffer.concat([Buffer.from([0xed, 0x01]), Buffer.from(jwk.x, 'base64url')]);
    alg = 'EdDSA';
  } else {
    const ecdh = createECDH('secp256k1');
    ecdh.setPrivateKey(d);
    const pub = ecdh.getPublicKey(null, 'uncompressed');
    publicJwk = { kty: 'EC', crv: 'secp256k1', x: b64u(pub.subarray(1, 33)), y: b64u(pub.subarray(33, 65)) };
    multicodecKey = Buffer.concat([Buffer.from([0xe7, 0x01]), ecdh.getPublicKey(null, 'compressed')]);
    alg = 'ES256K';
  }
  const did = method === 'key'
    ? 'did:key:z' + base58btc(multicodecKey)
    : 'did:jwk:' + b64u(Buffer.from(JSON.stringify(publicJwk), 'utf8'));
  // The verification method id comes from the resolver the DWN uses, so the
  // kid is whatever the DWN will look up.
  const res = await resolver().resolve(did);
  if (!res.didDocument) throw new Error(`cannot resolve ${did}: ${JSON.stringify(res.didResolutionMetadata)}`);
  const vm = res.didDocument.verificationMethod[0];
  const kid = vm.id.startsWith('#') ? did + vm.id : vm.id;
  const privateJwk = { ...publicJwk, d: b64u(d) };
  const signer = new sdk.PrivateKeySigner({ privateJwk, keyId: kid, algorithm: alg });
  const id = { label, did, kid, curve, method, alg, publicJwk, privateJwk, resolvedJwk: vm.publicKeyJwk, signer };
  identityCache.set(label, id);
  return id;
}

/** A signer whose key id is `kid` (e.g. an unknown fragment) but signs with `id`'s key. */
export function signerWithKid(id, kid) {
  return new sdk.PrivateKeySigner({ privateJwk: id.privateJwk, keyId: kid, algorithm: id.alg });
}

let theResolver;
/** Offline resolver: did:key and did:jwk only, no cache. */
export function resolver() {
  theResolver ??= new dids.UniversalResolver({ didResolvers: [dids.DidJwk, dids.DidKey] });
  return theResolver;
}

// ------------------------------------------------------------------ helpers
export const clone = (x) => (x === undefined ? undefined : JSON.parse(JSON.stringify(x)));

/** Decodes the payload of a GeneralJWS. */
export function jwsPayload(jws) {
  return JSON.parse(Buffer.from(jws.payload, 'base64url').toString('utf8'));
}

/**
 * Signs an arbitrary descriptor (also one no builder would produce) into a
 * generic message `{descriptor, authorization: {signature}}`.
 */
export async function signDescriptor(descriptor, signer, extra = {}) {
  const authorization = await sdk.Message.createAuthorization({ descriptor, signer, ...extra });
  return { descriptor, authorization };
}

async function streamBytes(stream) {
  const chunks = [];
  let size = 0;
  for await (const c of stream) { chunks.push(c); size += c.length; }
  const all = Buffer.concat(chunks, size);
  return { sha256: sha256hex(all), size };
}

/** Fails the generator: a scenario did not do what it was written for. */
export class ScenarioError extends Error {}

// ------------------------------------------------------------------ scenario
/**
 * One scenario: a DWN over fresh LevelDB stores in `dir`, plus the steps sent
 * to it.  `eventStream: true` configures the SDK's EventEmitterStream (so
 * subscriptions answer 200 and deliver events); otherwise none (501).
 */
export class Scenario {
  constructor(spec, dir) {
    this.spec = spec;
    this.dir = dir;
    this.steps = [];
    this.used = new Set();
    this.subs = []; // {step, events: []}
    this.pendingEvents = [];
  }

  async open() {
    const d = this.dir;
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    const messageStore = new sdk.MessageStoreLevel({ blockstoreLocation: join(d, 'MESSAGESTORE'), indexLocation: join(d, 'INDEX') });
    const dataStore = new sdk.DataStoreLevel({ blockstoreLocation: join(d, 'DATASTORE') });
    const eventLog = new sdk.EventLogLevel({ location: join(d, 'EVENTLOG') });
    const resumableTaskStore = new sdk.ResumableTaskStoreLevel({ location: join(d, 'RESUMABLE-TASK-STORE') });
    const eventStream = this.spec.eventStream ? new sdk.EventEmitterStream() : undefined;
    this.dwn = await sdk.Dwn.create({ didResolver: resolver(), messageStore, dataStore, eventLog, resumableTaskStore, eventStream });
  }

  async close() {
    for (const s of this.subs) await s.subscription?.close?.();
    await this.dwn.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Identity by label, remembered as used by this scenario. */
  async id(label) {
    this.used.add(label);
    return identity(label);
  }

  /**
   * Processes `message` (a plain message object or an SDK message class with
   * `.message`) for `tenant` (identity or DID) with optional `data` (from
   * seeded()/inline()), records the step and returns the live SDK reply
   * (data streams already consumed: entry.data is {sha256, size}).
   * opts: {note, expect: code or [code, detailPrefix], dataSpec (overrides
   * the recorded data spec), lenient, cursorFrom: index of the step whose
   * reply cursor this message carries}.
   */
  async send(tenant, message, data, opts = {}) {
    if (message && message.message && message.constructor !== Object) message = message.message;
    const tenantDid = typeof tenant === 'string' ? tenant : tenant.did;
    const recorded = clone(message);
    const ids = {};
    try { ids.messageCid = await sdk.Message.getCid(recorded); } catch (e) { ids.messageCidError = String(e.message); }
    try { ids.descriptorCid = await sdk.Cid.computeCid(recorded.descriptor); } catch (e) { ids.descriptorCidError = String(e.message); }
    const d = recorded.descriptor ?? {};
    if (d.interface === 'Records' && d.method === 'Write') {
      ids.recordId = recorded.recordId;
      if (recorded.contextId !== undefined) ids.contextId = recorded.contextId;
      try {
        const author = sdk.Message.getAuthor(recorded);
        ids.author = author;
        ids.entryId = await sdk.RecordsWrite.getEntryId(author, recorded.descriptor);
        ids.initialWrite = ids.entryId === recorded.recordId;
      } catch (e) { ids.entryIdError = String(e.message); }
    }
    const stepIndex = this.steps.length;
    this.pendingEvents = [];
    const options = {};
    if (data) options.dataStream = sdk.DataStream.fromBytes(data.bytes);
    if (d.method === 'Subscribe') {
      const sub = { step: stepIndex, events: [] };
      options.subscriptionHandler = (event) => { this.pendingEvents.push({ sub, event }); };
      this.subs.push(sub);
    }
    const reply = await this.dwn.processMessage(tenantDid, clone(message), options);
    const step = {
      tenant: tenantDid,
      ...(opts.note ? { note: opts.note } : {}),
      message: recorded,
      ...(data ? { data: opts.dataSpec ?? data.spec } : {}),
      ids,
      reply: await this.recordReply(reply, d),
    };
    const nondet = [];
    if (d.interface === 'Messages' && d.method === 'Query' && reply.cursor) nondet.push('reply.cursor.value');
    if (opts.cursorFrom !== undefined) {
      // The request carries a node-local cursor taken from an earlier reply:
      // the replay substitutes its own cursor from that step and re-signs.
      step.cursorFrom = opts.cursorFrom;
      nondet.push('message.descriptor.cursor.value', 'message.authorization', 'ids.messageCid', 'ids.descriptorCid');
    }
    if (nondet.length) step.nondeterministic = nondet;
    if (opts.lenient) step.lenient = opts.lenient;
    if (reply.subscription) {
      this.subs[this.subs.length - 1].subscription = reply.subscription;
    }
    // Events delivered synchronously while this message was processed.
    if (this.pendingEvents.length) {
      step.events = [];
      for (const { sub, event } of this.pendingEvents) {
        const ev = { subscriptionStep: sub.step, messageCid: await sdk.Message.getCid(event.message) };
        if (event.initialWrite) ev.initialWriteCid = await sdk.Message.getCid(event.initialWrite);
        step.events.push(ev);
      }
    }
    this.steps.push(step);
    if (opts.expect !== undefined) {
      const [code, prefix] = Array.isArray(opts.expect) ? opts.expect : [opts.expect];
      if (reply.status.code !== code || (prefix && !reply.status.detail.startsWith(prefix))) {
        throw new ScenarioError(`${this.spec.name} step ${stepIndex}: expected ${code} ${prefix ?? ''}, got ${reply.status.code} ${reply.status.detail}`);
      }
    }
    return step.reply;
  }

  async recordReply(reply, d) {
    const out = { status: { code: reply.status.code, detail: reply.status.detail } };
    if (reply.entries !== undefined) out.entries = clone(reply.entries);
    if (reply.cursor !== undefined) out.cursor = clone(reply.cursor);
    if (reply.entry !== undefined) {
      const e = {};
      for (const [k, v] of Object.entries(reply.entry)) {
        if (k === 'data') e.data = v === undefined ? undefined : await streamBytes(v);
        else e[k] = clone(v);
      }
      out.entry = e;
    }
    if (reply.subscription !== undefined) out.subscription = { id: reply.subscription.id };
    for (const k of Object.keys(reply)) {
      if (!['status', 'entries', 'cursor', 'entry', 'subscription'].includes(k)) throw new ScenarioError(`unexpected reply field ${k}`);
    }
    return out;
  }

  toJSON() {
    const identities = {};
    for (const l of [...this.used].sort()) {
      const i = identityCache.get(l);
      identities[l] = { did: i.did, kid: i.kid, curve: i.curve, method: i.method, publicJwk: i.publicJwk, privateJwk: i.privateJwk };
    }
    return {
      name: this.spec.name,
      group: this.spec.group,
      description: this.spec.description,
      eventStream: !!this.spec.eventStream,
      identities,
      steps: this.steps,
    };
  }
}
